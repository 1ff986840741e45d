//! One module per harness command; each takes its parsed arguments and does the job.
//!
//! The top layer: nothing else in the crate imports it.
//!
//! - [`run`], [`report`], [`compare`]: a workload run, and its reports redrawn or compared.
//! - [`cluster`]: `cluster up/down/status` of a local background cluster.
//! - [`query`], [`metrics`], [`control`]: one node's query, metrics and control service.
//! - [`data`]: `data generate`.
//! - [`topology`]: `topology`, a generated cluster config.

pub mod cluster;
pub mod compare;
pub mod control;
pub mod data;
pub mod metrics;
pub mod query;
pub mod report;
pub mod run;
pub mod topology;
