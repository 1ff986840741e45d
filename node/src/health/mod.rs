//! Fault tolerance: how a node judges itself and its peers, and how it reacts.
//!
//! - [`state`]: the node's own state (healthy → warning → critical → failing), a pure tracker.
//! - [`monitor`]: samples the node's load into the tracker; logs, hooks, gRPC health status.
//! - [`peer_health`]: every peer's health from the membership protocol and call outcomes, with
//!   a circuit breaker each.
//! - [`reroute`]: what the node does about a failed peer, said in the log.
//! - [`breaker`], [`backoff`]: pure building blocks for calls to peers.

pub mod backoff;
pub mod breaker;
pub mod monitor;
pub mod peer_health;
pub mod reroute;
pub mod state;
