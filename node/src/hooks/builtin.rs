//! Built-in hooks: [`LogHook`] logs every event, [`JsonLinesHook`] appends every event as
//! one JSON line to a file the harness can poll; plus [`parse_kinds`] for event lists in
//! configuration.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{Event, EventKind, Hook};

/// Events a [`JsonLinesHook`] records by default: everything but `query_started` and
/// `query_completed`, which can come by thousands per second.
pub const DEFAULT_FILE_EVENTS: &str = "query_failed,state_changed,neighbor_suspected,neighbor_failed,neighbor_recovered,overload_detected,circuit_opened,circuit_closed,failover,peer_ejected";

/// Parses a comma-separated list of event names (`"all"` meaning every kind); blanks are
/// ignored and duplicates removed. The error names the bad entry and the valid names.
pub fn parse_kinds(list: &str) -> Result<Vec<EventKind>, String> {
    let mut kinds = Vec::new();
    for entry in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let entry = entry.to_ascii_lowercase();
        let parsed = if entry == "all" {
            EventKind::ALL.to_vec()
        } else {
            let kind = entry.parse::<EventKind>().map_err(|_| {
                format!(
                    "unknown hook event {entry:?} in {list:?}; valid: all, {}",
                    EventKind::valid_names()
                )
            })?;
            vec![kind]
        };
        for kind in parsed {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    Ok(kinds)
}

/// The events the original system registers a hook for on every node; a node logs them by
/// default (`--no-default-hooks` turns that off, `--log-events` logs every event instead).
pub const DEFAULT_HOOK_EVENTS: [EventKind; 3] = [
    EventKind::StateChanged,
    EventKind::NeighborFailed,
    EventKind::NeighborRecovered,
];

/// Logs each event: `[HookManager] {node} event {name} {detail-json}`, at info (`--log-events`)
/// or, for the default hooks, at debug, since the pool's `Triggering` line already shows
/// every firing in the log and in `recent_logs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogHook {
    /// Log at debug instead of info.
    pub quiet: bool,
}

impl Hook for LogHook {
    fn name(&self) -> &str {
        if self.quiet {
            "default_log"
        } else {
            "log"
        }
    }

    fn run(&self, event: Arc<Event>) -> BoxFuture<'static, Result<(), String>> {
        let quiet = self.quiet;
        async move {
            let detail = serde_json::to_string(&event.detail)
                .map_err(|e| format!("serialize detail: {e}"))?;
            if quiet {
                tracing::debug!("[HookManager] {} event {} {detail}", event.node, event.kind);
            } else {
                tracing::info!("[HookManager] {} event {} {detail}", event.node, event.kind);
            }
            Ok(())
        }
        .boxed()
    }
}

/// Appends each event as one JSON line (see [`Event`]) to a file, so a reader polling the
/// file only ever sees complete lines.
#[derive(Debug)]
pub struct JsonLinesHook {
    name: String,
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl JsonLinesHook {
    /// Creates the parent directories and opens `path` for appending (creating it).
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| with_context(e, &format!("create directory {}", parent.display())))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| with_context(e, &format!("open {} for appending", path.display())))?;
        Ok(Self {
            name: format!("json_lines({})", path.display()),
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The file events are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Hook for JsonLinesHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, event: Arc<Event>) -> BoxFuture<'static, Result<(), String>> {
        let file = Arc::clone(&self.file);
        async move {
            let mut line = serde_json::to_vec(&*event)
                .map_err(|e| format!("serialize {} event: {e}", event.kind))?;
            line.push(b'\n');
            // The whole line is written by one blocking task holding the lock, so a timeout
            // cancelling this future can never leave half a line behind.
            tokio::task::spawn_blocking(move || append_line(&file, &line))
                .await
                .map_err(|e| format!("append task: {e}"))?
                .map_err(|e| format!("append line: {e}"))
        }
        .boxed()
    }
}

/// Writes `line` under the file lock and flushes it.
fn append_line(file: &Mutex<File>, line: &[u8]) -> io::Result<()> {
    let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
    file.write_all(line)?;
    file.flush()
}

/// `err` with `what` prepended to its message, keeping its kind.
fn with_context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}
