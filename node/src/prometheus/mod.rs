//! The Prometheus endpoint (`--metrics-addr`): `GET /metrics` answers the node's figures in the
//! OpenMetrics text format, on a small HTTP/1.1 server beside the gRPC one.
//!
//! - `exposition`: the page, from the `GetMetrics` snapshot, the RPC histogram and `/proc`.
//! - `families`: registering gauges and counters read at scrape time.
//! - `rpc`: the tower layer timing every gRPC call (`rpc_server_duration_seconds`).
//! - `timed_body`: the answer's body, which records the call with its final status.
//! - `process`: CPU, resident memory and open descriptors of this process.

mod exposition;
mod families;
mod process;
mod rpc;
mod timed_body;

pub use rpc::{RpcLayer, RpcMetrics};
pub use timed_body::TimedBody;

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::node::Node;

/// The content type of the OpenMetrics text format, served to scrapers that accept it
/// (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic text format, served to everyone else.
const CLASSIC_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the metrics address; an address that cannot be bound stops the node, naming it and
/// the setting (`key`) that gave it.
pub async fn bind(address: &str, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| {
        format!("cannot serve metrics on {key} {address}: the address cannot be bound (in use, or not this machine's); pick another HOST:PORT")
    })
}

/// Serves `/metrics` on `listener` until the task is aborted.
pub fn spawn(listener: TcpListener, node: Arc<Node>, rpc: RpcMetrics) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let (node, rpc) = (node.clone(), rpc.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = answer(&request, &node, &rpc);
                    async move { Ok::<_, Infallible>(answer) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// `GET /metrics` → the page; anything else → 404 or 405.
fn answer<B>(
    request: &hyper::Request<B>,
    node: &Node,
    rpc: &RpcMetrics,
) -> hyper::Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&hyper::Method::GET, "/metrics") => {
            let page = exposition::render(&crate::metrics::snapshot(node), rpc, process::read());
            let wants_openmetrics = request
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("application/openmetrics-text"));
            if wants_openmetrics {
                (200, OPENMETRICS, page)
            } else {
                (200, CLASSIC_TEXT, exposition::classic_text(&page))
            }
        }
        (_, "/metrics") => (405, "text/plain", "only GET\n".to_string()),
        _ => (404, "text/plain", "metrics are at /metrics\n".to_string()),
    };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
