//! What a run records of a generated topology: its shape, and the cluster's cost at rest
//! (CPU and membership messages while idle) and its memory under load.

use serde::{Deserialize, Serialize};

use crate::topology::TopologySpec;

/// The generated topology a strategy run started, and what its size cost.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TopologyRun {
    /// The topology as the workload gave it.
    pub spec: Option<TopologySpec>,
    /// Its shape in words (`65 nodes (8 teams × 7 workers)`).
    pub label: String,
    /// Processes.
    pub nodes: usize,
    /// The idle window after start-up, when the workload asks for one.
    pub idle: Option<IdleFigures>,
    /// Resident memory of all node processes after the last step, MB (local clusters); the
    /// pages of the shared node binary count once per process.
    pub rss_mb: Option<f64>,
    /// Proportional memory (PSS) of all node processes then, MB: shared pages count once.
    #[serde(default)]
    pub pss_mb: Option<f64>,
}

/// The cluster at rest: from ready, before any query, for `seconds`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IdleFigures {
    /// Length of the window, seconds.
    pub seconds: f64,
    /// CPU of all node processes together, % of one core.
    pub cpu_pct: f64,
    /// Membership messages sent per node per second (when the nodes report them).
    pub messages_per_node_s: Option<f64>,
    /// Membership bytes sent per node per second (likewise).
    pub bytes_per_node_s: Option<f64>,
    /// The membership protocol the nodes named.
    pub protocol: Option<String>,
}
