//! One module per harness command; each takes its parsed arguments and does the job.

pub mod cluster;
pub mod compare;
pub mod control;
pub mod data;
pub mod metrics;
pub mod query;
pub mod report;
pub mod run;
