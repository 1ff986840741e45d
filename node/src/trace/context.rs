//! The W3C trace context on the wire: `traceparent` (and `tracestate`) in gRPC metadata, read
//! from what a client or peer sent, written onto each peer call. An invalid or oversized
//! header is ignored: the request starts a new trace, it never fails.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Longest trace-context header read (a `traceparent` is 55 characters; `tracestate` may carry
/// up to 32 vendor entries); a longer one is ignored.
const MAX_HEADER_BYTES: usize = 512;

/// The trace-context headers of a request, as the propagator reads them.
struct Read<'a>(&'a MetadataMap);

impl Extractor for Read<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)?
            .to_str()
            .ok()
            .filter(|value| value.len() <= MAX_HEADER_BYTES)
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// The metadata of an outgoing call, as the propagator writes it.
struct Write<'a>(&'a mut MetadataMap);

impl Injector for Write<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The caller's span context named by `metadata`; an empty context (a new trace) when it
/// carries no valid `traceparent`.
pub fn remote_parent(metadata: &MetadataMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&Read(metadata))
}

/// Makes `span` the child of the caller's span that `metadata` names, so it joins the
/// caller's trace and follows its sampling decision; without a valid `traceparent`, `span`
/// stays the root of a new trace. Nothing happens when tracing is off.
pub fn adopt(span: &Span, metadata: &MetadataMap) {
    if span.is_disabled() {
        return;
    }
    let parent = remote_parent(metadata);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Writes `span`'s context onto an outgoing call, so the callee's spans are its children
/// (sampled or not, as `span` is). Nothing happens when tracing is off.
pub fn inject(span: &Span, metadata: &mut MetadataMap) {
    if span.is_disabled() {
        return;
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut Write(metadata));
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    fn metadata(traceparent: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", traceparent.parse().unwrap());
        metadata
    }

    /// The `traceparent` a node sends on after receiving `incoming`, sampling new traces at
    /// `ratio`: (trace id, parent span id, flags).
    fn propagated(incoming: Option<&str>, ratio: f64) -> (String, String, String) {
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                ratio,
            ))))
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = crate::trace::span!("query");
            adopt(&span, &incoming.map(metadata).unwrap_or_default());
            let child = span.in_scope(|| crate::trace::span!("peer_call"));
            let mut outgoing = MetadataMap::new();
            inject(&child, &mut outgoing);
            let sent = outgoing.get("traceparent").unwrap().to_str().unwrap();
            let parts: Vec<&str> = sent.split('-').collect();
            assert_eq!((parts.len(), parts[0]), (4, "00"), "{sent}");
            (parts[1].into(), parts[2].into(), parts[3].into())
        })
    }

    #[test]
    fn a_valid_traceparent_is_read_with_its_sampled_flag() {
        for (header, sampled) in [(SAMPLED, true), (UNSAMPLED, false)] {
            let parent = remote_parent(&metadata(header));
            let context = parent.span().span_context().clone();
            assert!(context.is_valid() && context.is_remote());
            assert_eq!(context.trace_id().to_string(), TRACE);
            assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
            assert_eq!(context.is_sampled(), sampled);
        }
    }

    #[test]
    fn invalid_traceparents_are_no_parent() {
        let long = format!("{SAMPLED}-{}", "a".repeat(MAX_HEADER_BYTES));
        for header in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
            long.as_str(),
        ] {
            let parent = remote_parent(&metadata(header));
            assert!(!parent.span().span_context().is_valid(), "{header:?}");
        }
        assert!(!remote_parent(&MetadataMap::new())
            .span()
            .span_context()
            .is_valid());
    }

    #[test]
    fn a_trace_is_carried_on_with_its_sampling_and_a_bad_one_starts_anew() {
        // Sampled by the caller: carried on sampled, whatever the ratio.
        let (trace, parent, flags) = propagated(Some(SAMPLED), 0.0);
        assert_eq!((trace.as_str(), flags.as_str()), (TRACE, "01"));
        assert_ne!(
            parent, "00f067aa0ba902b7",
            "the node's own span is the parent"
        );
        // Not sampled by the caller: carried on unsampled, whatever the ratio.
        let (trace, _, flags) = propagated(Some(UNSAMPLED), 1.0);
        assert_eq!((trace.as_str(), flags.as_str()), (TRACE, "00"));
        // Invalid or absent: a new trace, sampled at the node's ratio.
        let (trace, _, flags) = propagated(Some("00-zz-zz-01"), 1.0);
        assert_ne!(trace, TRACE);
        assert_eq!(flags, "01");
        let (_, _, flags) = propagated(None, 0.0);
        assert_eq!(flags, "00");
    }

    #[test]
    fn nothing_is_written_when_tracing_is_off() {
        let span = crate::trace::span!("query");
        adopt(&span, &metadata(SAMPLED));
        let mut outgoing = MetadataMap::new();
        inject(&span, &mut outgoing);
        assert!(outgoing.is_empty());
    }
}
