//! The span file (`--trace-file`): one JSON object per finished span and line
//! ([`overlay::span::SpanLine`], which the harness reads back), for the harness and for anyone
//! with `jq` or pandas.
//!
//! A file that cannot be opened or written is reported once, in the log; the node then goes on
//! without it (its traces still propagate to its peers).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::SpanId;
use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use overlay::span::SpanLine;
use serde_json::{json, Map};

/// Longest attribute value written, in characters; a longer one is cut.
pub(super) const MAX_ATTRIBUTE_CHARS: usize = 256;

/// Most attributes written per span.
pub(super) const MAX_ATTRIBUTES: usize = 32;

/// The exporter writing the span file.
#[derive(Debug)]
pub struct SpanFile {
    node: String,
    path: PathBuf,
    /// `None` before the first spans and once the file failed: spans are then dropped.
    out: Mutex<Option<BufWriter<File>>>,
    /// Whether opening was tried (it is tried once).
    tried: std::sync::atomic::AtomicBool,
}

impl SpanFile {
    /// The exporter of `node`'s spans to `path`, opened (for appending) with the first
    /// spans, when the log is set up to report a file that cannot be opened.
    pub fn open(path: &Path, node: &str) -> Self {
        Self {
            node: node.to_string(),
            path: path.to_path_buf(),
            out: Mutex::new(None),
            tried: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Opens the file once; a failure is reported and leaves `out` empty for good.
    fn open_once(&self, out: &mut Option<BufWriter<File>>) {
        if self.tried.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(file) => *out = Some(BufWriter::new(file)),
            Err(err) => report(&self.node, &self.path, &err),
        }
    }

    /// Writes a batch of spans and flushes; the first failure is reported and ends the file.
    fn write(&self, batch: &[SpanData]) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        self.open_once(&mut out);
        let Some(writer) = out.as_mut() else {
            return;
        };
        let written = batch
            .iter()
            .try_for_each(|span| writeln!(writer, "{}", line(span, &self.node)))
            .and_then(|()| writer.flush());
        if let Err(err) = written {
            report(&self.node, &self.path, &err);
            *out = None;
        }
    }
}

/// The one log line of a span file that failed.
fn report(node: &str, path: &Path, err: &std::io::Error) {
    tracing::error!(
        "[Trace] {node} cannot write spans to --trace-file {}: {err}; tracing goes on without the file",
        path.display()
    );
}

impl SpanExporter for SpanFile {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.write(&batch);
        std::future::ready(Ok(()))
    }
}

/// Nanoseconds since the Unix epoch.
fn unix_ns(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// One span as a JSON line.
pub(super) fn line(span: &SpanData, node: &str) -> String {
    let mut attributes = Map::new();
    for kv in span.attributes.iter().take(MAX_ATTRIBUTES) {
        let value = match &kv.value {
            Value::Bool(b) => json!(b),
            Value::I64(i) => json!(i),
            Value::F64(f) => json!(f),
            other => json!(other
                .as_str()
                .chars()
                .take(MAX_ATTRIBUTE_CHARS)
                .collect::<String>()),
        };
        attributes.insert(kv.key.as_str().to_string(), value);
    }
    let parent = (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
    let start = unix_ns(span.start_time);
    let line = SpanLine {
        trace_id: span.span_context.trace_id().to_string(),
        span_id: span.span_context.span_id().to_string(),
        parent_span_id: parent,
        name: span.name.to_string(),
        node: node.to_string(),
        start_unix_ns: start,
        duration_ns: unix_ns(span.end_time).saturating_sub(start),
        attributes,
    };
    serde_json::to_string(&line).unwrap_or_default()
}
