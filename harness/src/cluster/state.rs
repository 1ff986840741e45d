//! The record of a background cluster started by `harness cluster up`, so `down` and `status`
//! find it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Folder (relative to the working directory) holding background cluster records and logs.
pub const STATE_DIR: &str = ".overlay";

/// A background cluster.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClusterState {
    /// The config it was started from.
    pub config: PathBuf,
    /// Process id per node.
    pub pids: BTreeMap<String, u32>,
    /// Where the node logs are.
    pub log_dir: PathBuf,
    /// The virtual hosts' run id, when the nodes run in network namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns_run: Option<String>,
    /// Where each node serves Prometheus's `/metrics` (`host:port`).
    #[serde(default)]
    pub metrics: BTreeMap<String, String>,
}

/// The file naming the virtual hosts' run id of a config's background cluster, written before
/// any namespace is created, so `cluster down --netns` finds a run that died half-way.
pub fn netns_record(config: &Path) -> PathBuf {
    cluster_dir(config).join("netns-run")
}

/// The record file for a config: `.overlay/<config stem>/cluster.json`.
pub fn state_path(config: &Path) -> PathBuf {
    cluster_dir(config).join("cluster.json")
}

/// The folder for a config's background cluster.
pub fn cluster_dir(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("cluster");
    Path::new(STATE_DIR).join(stem)
}

impl ClusterState {
    /// Writes the record.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads the record.
    pub fn load(path: &Path) -> anyhow::Result<ClusterState> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "no background cluster recorded at {} (start one with `harness cluster up`)",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a cluster record", path.display()))
    }
}

/// True when `pid` runs an `overlay-node` (so a recycled pid is never signalled).
pub fn is_node_process(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("overlay-node"))
        .unwrap_or(false)
}
