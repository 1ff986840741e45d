//! One process of the Overlay query tree.
//!
//! - [`auth`]: the cluster secret on peer calls and the control token check.
//! - [`cli`]: command-line options.
//! - [`server`]: start-up (config, data, bind, health registration) and graceful shutdown.
//! - [`listen`]: binding, the connection cap, accept backoff and idle timeout.
//! - [`node`]: the state one node holds, shared by its services.
//! - [`service`]: the client-facing `OverlayNode` adapter (original wire protocol and statuses).
//! - [`peer_service`]: the node-to-node `OverlayPeer` service (typed statuses).
//! - [`query`]: coordinator, routing, peer calls, hedging, local scans and pure merge, over a
//!   `QueryContext` rather than the whole node.
//! - [`store`]: the columnar table of this node's slices: loading, scanning, aggregating.
//! - [`results`]: answers kept for chunked retrieval (TTL and memory bound).
//! - [`admission`]: per-team admission control (fairness strategies).
//! - [`peer_clients`]: gRPC clients to the other processes.
//! - [`metrics`]: the `GetMetrics` answer.
//! - [`prometheus`]: `/metrics` for Prometheus (`--metrics-addr`) and the RPC latency layer.
//! - [`times`]: processing times of the latest queries.
//! - [`logs`]: recent log lines for `GetMetrics`.
//! - [`health`]: the node's own state, peer health, circuit breakers, failover plan.
//! - [`membership`]: SWIM membership and failure detection over UDP (the `foca` crate).
//! - [`hooks`]: callbacks on lifecycle events, run on a bounded pool.
//! - [`faults`]: faults injected through the control service.
//! - [`control`]: the `OverlayControl` service (off unless enabled).
//! - [`holdings`]: which of its assigned days this node actually holds, and their fingerprint.
//! - [`tail`]: tail tolerance — per-peer hedge delays, the hedge budget, outlier ejection.
//! - [`tls`]: the optional (mutual) TLS files, checked, as server and peer-client settings.
//! - [`cancel`]: the flag that stops a scan whose caller has gone.
//! - [`trace`]: traces across the tree: `traceparent` on every hop, spans, the span file, OTLP.

pub mod admission;
pub mod auth;
pub mod cancel;
pub mod cli;
pub mod control;
pub mod faults;
pub mod health;
pub mod holdings;
pub mod hooks;
pub mod listen;
pub mod logs;
pub mod membership;
pub mod metrics;
pub mod node;
pub mod peer_clients;
pub mod peer_service;
pub mod prometheus;
pub mod query;
pub mod results;
pub mod server;
pub mod service;
pub mod store;
pub mod tail;
pub mod times;
pub mod tls;
pub mod trace;
