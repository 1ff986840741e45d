//! The query path, in the order a query travels it.
//!
//! - [`coordinate`]: the entry node plans which slices a query needs, splits the limit among
//!   them, runs rounds until the limit is met or the slices are exhausted, and merges.
//! - [`route`]: any node serves a list of slice tasks: its own slices locally, the others by
//!   forwarding toward a live holder, failing over to replicas.
//! - [`merge`]: pure functions — limit splitting, answer assembly.
//! - [`local`]: scans of this node's own table, off the async workers.

pub mod coordinate;
pub mod counters;
pub mod hedge;
pub mod hedging;
pub mod local;
pub mod merge;
pub mod route;

/// Why a slice task could not be served, carried in `SliceResult.error`.
pub mod slice_error {
    /// Prefix of the error of a slice whose holder refused the work under admission control.
    pub const REJECTED: &str = "rejected";
}
