//! Traces across the tree (`--trace-file`, `--otlp-endpoint`): the W3C `traceparent` read from
//! every request and written onto every peer call, and spans for admission, queueing, each peer
//! call, local scan, merge and chunk serving, recorded with `tracing` and exported by the
//! OpenTelemetry SDK.
//!
//! Off by default, and then free: the spans are `TRACE`-level spans of target [`TARGET`], which
//! no layer enables unless tracing is set up, so each costs one cached check. With tracing on,
//! a request's `traceparent` decides (its sampled flag); a request without a valid one starts
//! a new trace, sampled at `--trace-sample`; the decision is taken where the request enters
//! (`gate`), and an untraced request creates no span.
//!
//! - `context`: reading and writing the `traceparent` metadata.
//! - `gate`: which requests are traced.
//! - `file`: the JSON-lines span file.
//! - `setup`: the tracer provider and the tracing layer from the flags.

mod context;
mod file;
mod gate;
mod setup;

pub use context::{adopt, inject, remote_parent};
pub use file::SpanFile;
pub use gate::{decide, scoped};
pub use setup::{check_sample, layer, TraceSettings, TraceSetupError, Tracing};

/// The target of every span of a trace; only the tracing layer enables it.
pub const TARGET: &str = "overlay_trace";

/// A span of a trace: `span!("name", field = value, ...)`, disabled unless tracing is on.
macro_rules! span {
    ($name:literal $(, $($fields:tt)*)?) => {
        tracing::trace_span!(target: "overlay_trace", $name $(, $($fields)*)?)
    };
}
pub(crate) use span;
