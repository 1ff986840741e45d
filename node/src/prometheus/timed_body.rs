//! The response body of a timed gRPC call: it records the call when the answer is over, with
//! its real final status. A gRPC status travels in the trailers (after every message of a
//! streaming answer, and after the message of a unary one), or in the headers of a
//! trailers-only answer (an error before any message); a body dropped before its end is a
//! call the client gave up (`CANCELLED`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};

use super::rpc::RpcMetrics;

/// gRPC `UNKNOWN`: a body that failed while being sent, or ended with no status at all.
const UNKNOWN: u8 = 2;
/// gRPC `CANCELLED`: a body dropped before its end.
const CANCELLED: u8 = 1;

/// The `grpc-status` of a header map, when it carries a valid one.
pub(super) fn grpc_status(headers: &http::HeaderMap) -> Option<u8> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok()?.parse::<u8>().ok())
        .filter(|code| *code <= 16)
}

/// A call being timed: recorded once, when its answer ends.
#[derive(Debug)]
pub(super) struct Call {
    /// Where the call is recorded.
    pub(super) metrics: RpcMetrics,
    /// `/Service/Method`.
    pub(super) path: String,
    /// When the request arrived.
    pub(super) started: Instant,
    /// The status of a trailers-only answer, from its headers.
    pub(super) header_status: Option<u8>,
}

impl Call {
    fn finish(self, code: u8) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.observe(&self.path, code, seconds);
    }
}

/// A response body that records its [`Call`] when it ends; without a call (metrics off) it
/// only passes the frames on.
#[derive(Debug)]
pub struct TimedBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> TimedBody<B> {
    /// A body that records `call` when it ends.
    pub(super) fn timed(inner: B, call: Call) -> Self {
        Self {
            inner,
            call: Some(call),
        }
    }

    /// A body that records nothing.
    pub(super) fn untimed(inner: B) -> Self {
        Self { inner, call: None }
    }

    fn finish(&mut self, code: impl FnOnce(&Call) -> u8) {
        if let Some(call) = self.call.take() {
            let code = code(&call);
            call.finish(code);
        }
    }
}

impl<B: Body + Unpin> Body for TimedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if this.call.is_some() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        let code = grpc_status(trailers);
                        this.finish(|call| code.or(call.header_status).unwrap_or(UNKNOWN));
                    }
                }
                Poll::Ready(Some(Err(_))) => this.finish(|_| UNKNOWN),
                Poll::Ready(None) => this.finish(|call| call.header_status.unwrap_or(UNKNOWN)),
                Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TimedBody<B> {
    fn drop(&mut self) {
        // A trailers-only answer is never polled: its status is in the headers. Any other
        // body dropped before its end lost its client.
        self.finish(|call| call.header_status.unwrap_or(CANCELLED));
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use prometheus_client::registry::Registry;

    use super::*;

    /// The page of `metrics`, to look for a status label.
    fn page(metrics: &RpcMetrics) -> String {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    fn call(metrics: &RpcMetrics, header_status: Option<u8>) -> Call {
        Call {
            metrics: metrics.clone(),
            path: "/OverlayNode/Query".to_string(),
            started: Instant::now(),
            header_status,
        }
    }

    fn frames(
        trailer_status: &str,
    ) -> Vec<Result<Frame<hyper::body::Bytes>, std::convert::Infallible>> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", trailer_status.parse().unwrap());
        vec![
            Ok(Frame::data(hyper::body::Bytes::from_static(b"message"))),
            Ok(Frame::trailers(trailers)),
        ]
    }

    #[tokio::test]
    async fn a_stream_whose_trailers_carry_an_error_counts_that_error() {
        let metrics = RpcMetrics::default();
        let inner = http_body_util::StreamBody::new(futures::stream::iter(frames("13")));
        let body = TimedBody::timed(inner, call(&metrics, None));
        body.collect().await.unwrap();
        let text = page(&metrics);
        assert!(text.contains(r#"rpc_grpc_status_code="13""#), "{text}");
        assert!(!text.contains(r#"rpc_grpc_status_code="0""#), "{text}");
    }

    #[tokio::test]
    async fn trailers_only_answers_and_dropped_bodies_have_their_status() {
        let metrics = RpcMetrics::default();
        // A trailers-only error: the body is never polled.
        drop(TimedBody::timed(
            http_body_util::Empty::<hyper::body::Bytes>::new(),
            call(&metrics, Some(8)),
        ));
        // A stream the client left before its end.
        let inner = http_body_util::StreamBody::new(futures::stream::iter(frames("0")));
        drop(TimedBody::timed(inner, call(&metrics, None)));
        // Untimed bodies record nothing.
        let inner = http_body_util::StreamBody::new(futures::stream::iter(frames("0")));
        TimedBody::untimed(inner).collect().await.unwrap();
        let text = page(&metrics);
        assert!(text.contains(r#"rpc_grpc_status_code="8""#), "{text}");
        assert!(text.contains(r#"rpc_grpc_status_code="1""#), "{text}");
        assert!(!text.contains(r#"rpc_grpc_status_code="0""#), "{text}");
    }
}
