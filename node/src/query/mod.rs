//! The query path, in the order a query travels it.
//!
//! - [`coordinate`]: the entry node plans which slices a query needs, splits the limit among
//!   them, runs rounds until the limit is met or the slices are exhausted, and merges.
//! - [`route`]: any node serves a list of slice tasks: its own slices locally, the others by
//!   forwarding toward a live holder, failing over to replicas.
//! - [`peer_call`]: one Scan call to a peer and its typed outcome ([`peer_call::CallError`]).
//! - [`hedging`]: the router's hedged call (other ways, budget, what a race teaches);
//!   [`hedge`]: the race of a call and its hedges, timing alone.
//! - [`local`]: scans of this node's own table, off the async workers.
//! - [`merge`]: pure functions — limit splitting, answer assembly.
//! - [`failure`]: slice results that carry a typed failure.
//! - [`context`]: what of the node the query path may touch ([`context::QueryContext`]).
//! - [`counters`]: the routing counters the query path feeds.

pub mod context;
pub mod coordinate;
pub mod counters;
pub mod failure;
pub mod hedge;
pub mod hedging;
pub mod local;
pub mod merge;
pub mod peer_call;
pub mod route;
