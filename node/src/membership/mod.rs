//! Membership and failure detection with constant per-node cost: SWIM (the `foca` crate) over
//! UDP datagrams on the node's own port.
//!
//! Each period a node probes one random member (directly, then through a few others), a
//! member that misses a probe cycle is suspected and has a while to refute, and what changed
//! rides on the protocol's own messages. Config members not heard from are kept as down and
//! announced to now and then, so late starters join and a healed partition re-merges.
//!
//! - [`identity`]: who a member is on the wire, and the binary codec.
//! - [`envelope`]: the cluster id and sender every datagram carries; drop reasons.
//! - [`settings`]: timing from the config's `health` block, stretched under local load.
//! - [`swim`]: the adapter around `foca`, with no I/O of its own.
//! - [`driver`]: the task that feeds it datagrams, timers and ticks.
//! - [`stats`]: counters and view for `GetMetrics`.
//! - [`node`]: the node's side: UDP transport, peer health, faults and own load.

pub mod driver;
pub mod envelope;
pub mod identity;
pub mod node;
pub mod settings;
pub mod stats;
pub mod swim;

/// The protocol's name in metrics.
pub const PROTOCOL: &str = "swim";

#[cfg(test)]
mod tests;
