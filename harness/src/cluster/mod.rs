//! Local clusters: the config a run starts, finding the node binary, launching and stopping
//! node processes, and picking free ports.
//!
//! - [`config`]: the one place a run's config is derived (team weights, free ports, baseline).
//! - [`binary`]: finding (under cargo, building) the `overlay-node` binary.
//! - [`launcher`]: starting a config's processes, waiting for them, stopping them.
//! - [`ports`]: free loopback ports outside the ephemeral ranges.
//! - [`prometheus`]: a Prometheus scrape config for a cluster's `/metrics` pages.
//! - [`settings`]: the typed settings every node of a launch gets, and the cluster secret.
//! - [`state`]: the record of a background cluster (`harness cluster up/down/status`).

pub mod binary;
pub mod config;
pub mod launcher;
pub mod ports;
pub mod prometheus;
pub mod settings;
pub mod state;
