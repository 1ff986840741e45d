//! `rpc_server_duration_seconds`: a tower layer around every gRPC service that times each call
//! and counts it by service, method and gRPC status code (OpenTelemetry's RPC conventions).
//!
//! Labels stay bounded: a service outside [`SERVICES`] is `other`, and past [`MAX_METHODS`]
//! distinct methods any new one is `other`, so a client sending made-up paths cannot grow the
//! page. The status is the call's final one: from the trailers, or the headers of a
//! trailers-only answer (see `timed_body`).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use futures::future::Either;
use futures::TryFutureExt as _;

use super::families::Labels;
use super::timed_body::{grpc_status, Call, TimedBody};

/// Services the node serves; any other path is labelled `other`.
pub(super) const SERVICES: [&str; 6] = [
    "OverlayNode",
    "OverlayPeer",
    "OverlayControl",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Most distinct (service, method) pairs labelled by name.
pub(super) const MAX_METHODS: usize = 64;

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    // 0.25 ms to about 16 s, doubling.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

/// The histogram family and the methods seen so far; cheap to clone (shared).
#[derive(Clone)]
pub struct RpcMetrics {
    durations: HistogramFamily,
    methods: Arc<RwLock<HashSet<(String, String)>>>,
}

impl Default for RpcMetrics {
    fn default() -> Self {
        Self {
            durations: Family::new_with_constructor(new_histogram as fn() -> Histogram),
            methods: Arc::default(),
        }
    }
}

impl std::fmt::Debug for RpcMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcMetrics")
    }
}

impl RpcMetrics {
    /// Adds the histogram to a registry being rendered.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rpc_server_duration_seconds",
            "Duration of gRPC calls served, by service, method and gRPC status code",
            self.durations.clone(),
        );
    }

    /// Records one call of `path` (`/Service/Method`).
    pub fn observe(&self, path: &str, code: u8, seconds: f64) {
        let (service, method) = self.labels_of(path);
        let labels = vec![
            ("rpc_system", "grpc".to_string()),
            ("rpc_service", service),
            ("rpc_method", method),
            ("rpc_grpc_status_code", code.to_string()),
        ];
        self.durations.get_or_create(&labels).observe(seconds);
    }

    /// Bounded service and method labels of a request path.
    fn labels_of(&self, path: &str) -> (String, String) {
        let other = || ("other".to_string(), "other".to_string());
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (Some(service), Some(method)) = (parts.next(), parts.next()) else {
            return other();
        };
        if !SERVICES.contains(&service) {
            return other();
        }
        let pair = (service.to_string(), method.to_string());
        let seen = |methods: &HashSet<(String, String)>| methods.contains(&pair);
        if self.methods.read().map(|m| seen(&m)).unwrap_or(false) {
            return pair;
        }
        let mut methods = self.methods.write().unwrap_or_else(|p| p.into_inner());
        if methods.len() >= MAX_METHODS {
            return (pair.0, "other".to_string());
        }
        methods.insert(pair.clone());
        pair
    }
}

/// The tower layer that times every call; without metrics (no `--metrics-addr` nor
/// `metrics_addr`) it passes requests and answers through untouched: no clock read, no path
/// copied, nothing recorded.
#[derive(Clone, Debug)]
pub struct RpcLayer {
    metrics: Option<RpcMetrics>,
}

impl RpcLayer {
    /// A layer recording into `metrics`, or a pass-through when there are none.
    pub fn new(metrics: Option<RpcMetrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower_layer::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`RpcLayer`] wraps around the node's routes.
#[derive(Clone, Debug)]
pub struct RpcService<S> {
    inner: S,
    metrics: Option<RpcMetrics>,
}

/// An answer of the wrapped routes, its body untimed (metrics off).
type Untimed<RB> = fn(http::Response<RB>) -> http::Response<TimedBody<RB>>;

/// The answer of a call: passed through (metrics off) or timed.
type Answer<F, RB, E> = Either<
    futures::future::MapOk<F, Untimed<RB>>,
    Pin<Box<dyn Future<Output = Result<http::Response<TimedBody<RB>>, E>> + Send>>,
>;

impl<S, B, RB> tower_service::Service<http::Request<B>> for RpcService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<TimedBody<RB>>;
    type Error = S::Error;
    type Future = Answer<S::Future, RB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(metrics) = self.metrics.clone() else {
            let untimed: Untimed<RB> = |response| response.map(TimedBody::untimed);
            return Either::Left(self.inner.call(request).map_ok(untimed));
        };
        let path = request.uri().path().to_string();
        let started = Instant::now();
        let answer = self.inner.call(request);
        Either::Right(Box::pin(async move {
            match answer.await {
                Ok(response) => {
                    let call = Call {
                        header_status: grpc_status(response.headers()),
                        metrics,
                        path,
                        started,
                    };
                    Ok(response.map(|body| TimedBody::timed(body, call)))
                }
                Err(err) => {
                    metrics.observe(&path, 2, started.elapsed().as_secs_f64());
                    Err(err)
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        let metrics = RpcMetrics::default();
        assert_eq!(
            metrics.labels_of("/OverlayNode/Query"),
            ("OverlayNode".to_string(), "Query".to_string())
        );
        assert_eq!(metrics.labels_of("/made.up/X").0, "other");
        assert_eq!(metrics.labels_of("garbage").0, "other");
        for i in 0..200 {
            metrics.labels_of(&format!("/OverlayNode/M{i}"));
        }
        assert_eq!(metrics.methods.read().unwrap().len(), MAX_METHODS);
        assert_eq!(metrics.labels_of("/OverlayNode/Fresh").1, "other");
        assert_eq!(metrics.labels_of("/OverlayNode/Query").1, "Query");
    }
}
