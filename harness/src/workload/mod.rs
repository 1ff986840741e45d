//! Workload files: what to run, against which cluster, with which load.
//!
//! - [`spec`] — the TOML as written (unknown keys refused).
//! - [`validate`] — checks naming file, key and allowed values; the resolved [`Workload`].

pub mod spec;
pub mod validate;

pub use validate::{
    load, ClusterMode, LoadMode, MixEntry, StepLength, Tenant, Workload, WorkloadError,
};

#[cfg(test)]
mod tests;
