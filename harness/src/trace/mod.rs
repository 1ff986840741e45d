//! Traces of sampled queries (`[trace] sample_per_step`): the sampled `traceparent` the load
//! sends on the first measured requests of each step, the nodes' span files (`--trace-file`)
//! read back, and per step the slowest sampled query's spans as a tree, each span with its
//! self time. What is kept of it in `results.json` is [`StepTrace`].
//!
//! - [`sampler`] — which requests of a step carry a sampled `traceparent`, and what they took.
//! - [`spans`] — span lines as the nodes write them, parsed; a bad line is skipped and counted.
//! - [`attribution`] — spans grouped by trace into trees, self times, the slowest query.
//! - [`files`] — reading a folder of span files (the only I/O here).

pub mod attribution;
pub mod files;
pub mod sampler;
pub mod spans;

use serde::{Deserialize, Serialize};

pub use attribution::{QueryTrace, SpanBar};
pub use sampler::{StepSampler, TraceContext};
pub use spans::{Span, SpanRead};

/// Most requests a step may sample (`trace.sample_per_step`).
pub const MAX_SAMPLE_PER_STEP: u32 = 1000;

/// One sampled request, as the client saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampledQuery {
    /// The trace id it sent (32 lowercase hex digits).
    pub trace_id: String,
    /// The query of the mix.
    pub query: String,
    /// The team it was sent for.
    pub team: String,
    /// `ok`, `rejected` or `failed`.
    pub outcome: String,
    /// Its latency at the client, ms (retries and chunks included).
    pub latency_ms: f64,
    /// When its first attempt was sent, Unix ms.
    pub start_unix_ms: u64,
}

/// What the span files held, or why they were not read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SpanFiles {
    /// The span files of the cluster were read after its levels.
    Read {
        /// Spans of this step's sampled traces.
        spans: usize,
        /// Lines of the cluster's span files that were not a span (skipped).
        skipped_lines: u64,
        /// Spans of the cluster's files whose trace no step of the cluster sampled.
        unknown_spans: usize,
    },
    /// Not read, and why (a remote cluster keeps its files on its own machines).
    NotRead {
        /// The reason, as the report says it.
        why: String,
    },
}

/// What tracing found in one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    /// The sampled requests, in the order they were sent.
    pub sampled: Vec<SampledQuery>,
    /// What the span files held.
    pub files: SpanFiles,
    /// The slowest sampled request that left spans, with its spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest: Option<QueryTrace>,
}
