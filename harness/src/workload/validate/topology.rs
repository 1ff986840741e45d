//! `cluster.config`, `cluster.topology` and `sweep.topologies`: the cluster configs a run
//! starts, each loaded (or generated) and checked before anything starts.

use std::collections::BTreeSet;

use overlay::config::ClusterConfig;

use crate::input::{Checker, ClusterMode, WorkloadError};
use crate::topology::{loopback, TopologySpec};
use crate::workload::spec::WorkloadSpec;

/// Most topologies one sweep may start.
const MAX_TOPOLOGIES: usize = 16;

/// The configs of a workload: the file's, or one per generated topology (with the topologies).
pub(super) struct Sources {
    /// The generated topologies, in sweep order (empty for a config file).
    pub topologies: Vec<TopologySpec>,
    /// One checked config per topology, or the file's.
    pub configs: Vec<ClusterConfig>,
}

/// Exactly one of `cluster.config`, `cluster.topology`, `sweep.topologies`; every topology
/// generated and loaded as the nodes will read it, each of a different size (reports are named
/// by node count); generated clusters run locally on free loopback ports.
pub(super) fn check_sources(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    mode: ClusterMode,
) -> Result<Sources, WorkloadError> {
    let swept = &spec.sweep.topologies;
    let (key, topologies) = match (
        &spec.cluster.config,
        &spec.cluster.topology,
        swept.is_empty(),
    ) {
        (Some(path), None, true) => return from_file(c, path),
        (None, Some(one), true) => ("cluster.topology".to_string(), vec![one.clone()]),
        (None, None, false) => ("sweep.topologies".to_string(), swept.clone()),
        (None, None, true) => {
            return c.fail(
                "cluster.config",
                "give a config file, cluster.topology, or [sweep] topologies",
            )
        }
        _ => {
            return c.fail(
                "cluster.config",
                "give only one of cluster.config, cluster.topology and sweep.topologies",
            )
        }
    };
    if topologies.len() > MAX_TOPOLOGIES {
        return c.fail(
            &key,
            format!("{} topologies; at most {MAX_TOPOLOGIES}", topologies.len()),
        );
    }
    if mode != ClusterMode::Local || spec.cluster.network != "loopback" {
        return c.fail(&key, "a generated topology runs locally on loopback: it needs mode = \"local\" and network = \"loopback\"");
    }
    let mut configs = Vec::new();
    let mut sizes = BTreeSet::new();
    for (i, topology) in topologies.iter().enumerate() {
        let key = if swept.is_empty() {
            key.clone()
        } else {
            format!("{key}[{i}]")
        };
        let (shape, text) = match loopback(topology) {
            Ok(generated) => generated,
            Err(err) => return c.fail(&format!("{key}.{}", err.field), err.message),
        };
        if !sizes.insert(shape.nodes()) {
            return c.fail(&key, format!("a second topology of {} nodes; each must have its own size (reports are named by it)", shape.nodes()));
        }
        match ClusterConfig::from_json(&text) {
            Ok(config) => configs.push(config),
            Err(err) => return c.fail(&key, format!("generates an invalid cluster config: {err}")),
        }
    }
    Ok(Sources {
        topologies,
        configs,
    })
}

/// `cluster.config`: a file that exists and loads.
fn from_file(c: &Checker<'_>, path: &std::path::Path) -> Result<Sources, WorkloadError> {
    if !path.is_file() {
        return c.fail(
            "cluster.config",
            format!(
                "{} does not exist (paths are relative to the working directory; shipped configs are in configs/)",
                path.display()
            ),
        );
    }
    match ClusterConfig::load(path) {
        Ok(config) => Ok(Sources {
            topologies: Vec::new(),
            configs: vec![config],
        }),
        Err(err) => c.fail(
            "cluster.config",
            format!("is not a valid cluster config: {err}"),
        ),
    }
}
