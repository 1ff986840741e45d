//! Which requests are traced, decided once where a request enters the node: one carrying a
//! valid `traceparent` follows its sampled flag, one without starts a new trace with
//! probability `--trace-sample`. The decision holds for the request's task (a task-local),
//! and the trace layer's filter lets spans through only inside a traced request, so an
//! untraced request builds no OpenTelemetry span at all: tracing at 1 % costs about 1 % of
//! the spans' price instead of all of it (the SDK's sampler decides only once a span ends).

use std::future::Future;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt as _;
use tonic::metadata::MetadataMap;

/// The share of new traces sampled; unset while tracing is off (then nothing is traced).
static SAMPLE: OnceLock<f64> = OnceLock::new();

tokio::task_local! {
    /// Whether the request this task serves is traced.
    static TRACED: bool;
}

/// Turns the decisions on, sampling new traces at `sample` (the first call wins).
pub(super) fn enable(sample: f64) {
    let _ = SAMPLE.set(sample);
}

/// Whether a request with this metadata is traced (always no while tracing is off).
pub fn decide(metadata: &MetadataMap) -> bool {
    let Some(&sample) = SAMPLE.get() else {
        return false;
    };
    let parent = super::context::remote_parent(metadata);
    let caller = parent.span().span_context().clone();
    if caller.is_valid() {
        return caller.is_sampled();
    }
    sample > 0.0 && rand::random::<f64>() < sample
}

/// Runs `work` (which creates the request's spans) as traced or not.
pub async fn scoped<F: Future>(traced: bool, work: F) -> F::Output {
    TRACED.scope(traced, work).await
}

/// Whether the current task serves a traced request (no outside any request).
pub(super) fn in_traced_request() -> bool {
    TRACED.try_with(|traced| *traced).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(traceparent: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", traceparent.parse().unwrap());
        metadata
    }

    #[tokio::test]
    async fn a_callers_flag_decides_and_the_decision_holds_for_the_task_only() {
        enable(0.0);
        let sampled = metadata("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let unsampled = metadata("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(decide(&sampled));
        assert!(!decide(&unsampled));
        // No traceparent (or a broken one): a new trace, at the sample share (0 here).
        assert!(!decide(&MetadataMap::new()));
        assert!(!decide(&metadata("00-zz-00f067aa0ba902b7-01")));
        assert!(!in_traced_request());
        assert!(scoped(true, async { in_traced_request() }).await);
        assert!(!scoped(false, async { in_traced_request() }).await);
    }
}
