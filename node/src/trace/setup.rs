//! The tracer of a node from its flags: a sampler that follows the caller's `traceparent` and
//! samples new traces at `--trace-sample`, a bounded batch queue, the OTLP exporter
//! (`--otlp-endpoint`, gRPC) and the span file (`--trace-file`), and the tracing layer that
//! turns the node's trace spans into OpenTelemetry spans.
//!
//! OTLP goes over gRPC (tonic), not HTTP: the node already speaks tonic, so the exporter adds
//! no HTTP client, and 4317 is what collectors (the OpenTelemetry Collector, Jaeger, Tempo)
//! listen on by default.

use std::path::Path;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{dynamic_filter_fn, FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::file::{SpanFile, MAX_ATTRIBUTES};
use super::TARGET;

/// Most finished spans waiting for export; past it new spans are dropped, so a slow collector
/// or disk never grows the node's memory.
const MAX_QUEUED_SPANS: usize = 4096;

/// How often queued spans are written out: the harness reads the files a second after a step.
const EXPORT_EVERY: Duration = Duration::from_millis(200);

/// Longest OTLP endpoint accepted.
const MAX_ENDPOINT_BYTES: usize = 2048;

/// What the flags ask of tracing.
#[derive(Debug, Clone)]
pub struct TraceSettings<'a> {
    /// This node's id, on every span.
    pub node: &'a str,
    /// `--otlp-endpoint`: an OTLP/gRPC collector, `http://HOST:4317`.
    pub otlp_endpoint: Option<&'a str>,
    /// `--trace-file`, `{id}` already replaced.
    pub trace_file: Option<&'a Path>,
    /// `--trace-sample`: the share of new traces sampled, in [0, 1].
    pub sample: f64,
}

/// Why tracing cannot start as asked.
#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    /// `--otlp-endpoint` is not an http(s) URL of bounded length.
    #[error("--otlp-endpoint '{0}' is not an http:// or https:// URL (at most 2048 bytes)")]
    BadEndpoint(String),
    /// The OTLP exporter could not be built.
    #[error("--otlp-endpoint {endpoint}: {message}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// The exporter's reason.
        message: String,
    },
}

/// The running tracer; [`Tracing::shutdown`] writes out what is queued.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Exports the spans still queued and stops the exporters.
    pub fn shutdown(self) {
        let _ = self.provider.shutdown();
    }
}

/// Checks a `--trace-sample` value.
pub fn check_sample(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!(
            "--trace-sample is '{text}'; it must be a number in [0, 1]"
        )),
    }
}

/// The batch processor of one exporter, with the bounded queue.
fn batched(exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static) -> BatchSpanProcessor {
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(MAX_QUEUED_SPANS)
        .with_scheduled_delay(EXPORT_EVERY)
        .build();
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build()
}

/// The tracing layer and its tracer, when a flag asks for traces; `None` (tracing off, no
/// cost) otherwise. Must run inside the tokio runtime (the OTLP exporter's channel).
#[allow(clippy::type_complexity)]
pub fn layer<S>(
    settings: &TraceSettings<'_>,
) -> Result<Option<(Box<dyn Layer<S> + Send + Sync>, Tracing)>, TraceSetupError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if settings.otlp_endpoint.is_none() && settings.trace_file.is_none() {
        return Ok(None);
    }
    let resource = Resource::builder()
        .with_service_name("overlay-node")
        .with_attribute(KeyValue::new(
            "service.instance.id",
            settings.node.to_string(),
        ))
        .build();
    let mut provider = SdkTracerProvider::builder()
        // The gate has sampled already: a span exists only inside a traced request.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .with_max_attributes_per_span(MAX_ATTRIBUTES as u32)
        .with_max_events_per_span(0)
        .with_resource(resource);
    if let Some(endpoint) = settings.otlp_endpoint {
        provider = provider.with_span_processor(batched(otlp_exporter(endpoint)?));
    }
    if let Some(path) = settings.trace_file {
        provider = provider.with_span_processor(batched(SpanFile::open(path, settings.node)));
    }
    let provider = provider.build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("overlay-node"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_tracked_inactivity(false)
        .with_filter(
            Targets::new()
                .with_target(TARGET, LevelFilter::TRACE)
                // Dynamic: a plain filter function is asked once per callsite and cached.
                .and(dynamic_filter_fn(|_, _| super::gate::in_traced_request())),
        )
        .boxed();
    super::gate::enable(settings.sample);
    Ok(Some((layer, Tracing { provider })))
}

/// The OTLP/gRPC exporter to `endpoint`.
fn otlp_exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, TraceSetupError> {
    let is_url = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !is_url || endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err(TraceSetupError::BadEndpoint(overlay::query::quote(
            endpoint,
        )));
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|err| TraceSetupError::Exporter {
            endpoint: endpoint.to_string(),
            message: err.to_string(),
        })
}
