//! The cluster config: the original system's JSON format, read into raw serde structs, then
//! validated into a [`ClusterConfig`] whose errors name the process and the field.
//!
//! Keys the original system did not have are optional and default to its behaviour. Keys this
//! version does not know are reported as warnings rather than errors, so configs written for
//! the original (or a newer version) still load; the node logs them.
//!
//! - `raw`: the file as written (serde structs, known keys, where a type error is).
//! - `validate`: the raw file checked into a [`ClusterConfig`].
//! - `tree`: the forwarding tree derived from the `neighbors` links, every process reached.
//! - `hedge`: the `hedge` block (hedged calls, outlier ejection).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::DateKey;

mod hedge;
mod raw;
mod tree;
mod validate;

pub use hedge::{Hedge, RawHedge};
pub use raw::{RawConfig, RawHealth, RawProcess, RawStrategies, RawTeam};

/// A process id as written in the config (`"A"`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl NodeId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A process's place in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The root: coordinates client queries.
    Leader,
    /// Heads one team's subtree.
    TeamLeader,
    /// A leaf holding data.
    Worker,
}

impl Role {
    /// The partition weight of the role (section 4 of the design): leader 1, team leader 2,
    /// worker 3 — leaves do the most scanning because they do the least coordination.
    pub fn partition_weight(self) -> u64 {
        match self {
            Role::Leader => 1,
            Role::TeamLeader => 2,
            Role::Worker => 3,
        }
    }

    /// The name used in configs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::TeamLeader => "team_leader",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Role::Leader, Role::TeamLeader, Role::Worker]
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| format!("unknown role '{text}' (allowed: leader, team_leader, worker)"))
    }
}

/// The admission strategies a node can run (design section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FairnessStrategy {
    /// Hard per-team and total limits.
    #[default]
    Strict,
    /// A team may borrow capacity the other teams leave idle.
    Weighted,
    /// Strict above a load threshold, weighted below.
    Hybrid,
    /// Waits in bounded per-team queues, served by weighted round robin.
    FairQueue,
}

impl FairnessStrategy {
    /// Every strategy, in documentation order.
    pub const ALL: [FairnessStrategy; 4] = [
        FairnessStrategy::Strict,
        FairnessStrategy::Weighted,
        FairnessStrategy::Hybrid,
        FairnessStrategy::FairQueue,
    ];

    /// The name used in configs, metrics and reports.
    pub fn name(self) -> &'static str {
        match self {
            FairnessStrategy::Strict => "strict",
            FairnessStrategy::Weighted => "weighted",
            FairnessStrategy::Hybrid => "hybrid",
            FairnessStrategy::FairQueue => "fair_queue",
        }
    }
}

impl fmt::Display for FairnessStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FairnessStrategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.name() == text)
            .ok_or_else(|| {
                format!("unknown fairness strategy '{text}' (allowed: strict, weighted, hybrid, fair_queue)")
            })
    }
}

/// One process of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessConfig {
    /// Its id.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its team.
    pub team: String,
    /// Host it listens on.
    pub host: String,
    /// Port it listens on.
    pub port: u16,
    /// Its overlay links as written in the file (`neighbors`). Links are undirected: a link
    /// listed on either side counts, see [`ProcessConfig::links`].
    pub neighbors: Vec<NodeId>,
    /// Every process it is linked to: its own `neighbors`, then every process listing it.
    #[serde(skip)]
    pub links: Vec<NodeId>,
    /// The processes it forwards to, derived from its links, roles and teams (its children in
    /// the forwarding tree).
    #[serde(skip)]
    pub children: Vec<NodeId>,
    /// The process that forwards to it; `None` for the leader.
    #[serde(skip)]
    pub parent: Option<NodeId>,
    /// Explicit days this process holds, overriding the weighted split.
    pub date_bounds: Option<(DateKey, DateKey)>,
    /// `HOST:PORT` where it serves Prometheus `/metrics` (`metrics_addr`; `--metrics-addr`
    /// overrides it); none means no metrics page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<String>,
}

impl ProcessConfig {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `http://host:port`, for gRPC clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

/// Admission, chunking, replication and cache settings (the `strategies` block).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Strategies {
    /// Admission strategy.
    pub fairness_strategy: FairnessStrategy,
    /// Records per chunk.
    pub chunk_size: u32,
    /// Most queries active on a node at once.
    pub max_active: u32,
    /// Most queries of one team active on a node at once.
    pub per_team_limit: u32,
    /// Load ratio at which `hybrid` turns strict.
    pub hybrid_threshold: f64,
    /// Copies of each slice (1 = the original, no replicas).
    pub replication_factor: u32,
    /// Seconds an unread answer is kept.
    pub result_ttl_s: u64,
    /// Most bytes of answers kept for chunked retrieval on one node (written as the file's
    /// `result_cache_mb`).
    #[serde(rename = "result_cache_mb", serialize_with = "as_mib")]
    pub result_cache_bytes: u64,
    /// Most answers kept for chunked retrieval on one node, however small.
    pub result_cache_entries: u64,
    /// Relative share of each team under `fair_queue` (and in fairness reports).
    pub team_weights: BTreeMap<String, u32>,
    /// `fair_queue`: most queries waiting per team.
    pub queue_capacity: u32,
    /// `fair_queue`: longest wait before a query is rejected, milliseconds.
    pub queue_timeout_ms: u64,
}

/// Neighbour health checking (the `health` block).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// Milliseconds between probes of one neighbour.
    pub interval_ms: u64,
    /// Milliseconds a probe may take before it counts as a miss.
    pub timeout_ms: u64,
    /// Consecutive misses that declare a neighbour failed.
    pub failure_threshold: u32,
}

/// When a node calls itself warning, critical or failing (the `state` block; design section 8).
/// A node is in the worst state any of its three load measures calls for; failing is
/// `failing_factor` times a critical threshold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateThresholds {
    /// Mean processing time of recent queries, in ms, that makes the node warning (1000).
    pub latency_warning_ms: f64,
    /// … critical (5000).
    pub latency_critical_ms: f64,
    /// Active requests that make the node warning (70).
    pub active_warning: f64,
    /// … critical (90).
    pub active_critical: f64,
    /// Answers waiting to be read that make the node warning (30).
    pub queue_warning: f64,
    /// … critical (50).
    pub queue_critical: f64,
    /// Multiple of a critical threshold that makes the node failing (2).
    pub failing_factor: f64,
    /// Consecutive calmer samples needed before the state improves (3), so it does not flap.
    pub recovery_samples: u32,
}

impl Default for StateThresholds {
    fn default() -> Self {
        Self {
            latency_warning_ms: 1000.0,
            latency_critical_ms: 5000.0,
            active_warning: 70.0,
            active_critical: 90.0,
            queue_warning: 30.0,
            queue_critical: 50.0,
            failing_factor: 2.0,
            recovery_samples: 3,
        }
    }
}

/// A validated cluster config.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterConfig {
    /// Processes by id.
    pub processes: BTreeMap<NodeId, ProcessConfig>,
    /// Days each team covers, inclusive.
    pub team_date_bounds: BTreeMap<String, (DateKey, DateKey)>,
    /// Admission and result settings.
    pub strategies: Strategies,
    /// Health-check settings.
    pub health: Health,
    /// Node state thresholds.
    pub state: StateThresholds,
    /// File holding the cluster secret sent with every peer call (`--cluster-token-file`
    /// overrides it); none means peer calls are not authenticated.
    pub cluster_token_file: Option<PathBuf>,
    /// Hedged slice calls and outlier ejection.
    pub hedge: Hedge,
    /// Keys that were not understood (reported, not fatal).
    pub warnings: Vec<String>,
}

/// Why a config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read cluster config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("cluster config {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde's message with line and column.
        message: String,
    },
    /// The content breaks a rule.
    #[error("cluster config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Names the process (when there is one), the field and the fix.
        message: String,
    },
}

impl ClusterConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<ClusterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|err| match err {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates config text (errors carry an empty path).
    pub fn from_json(text: &str) -> Result<ClusterConfig, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|err| ConfigError::Parse {
            path: PathBuf::new(),
            message: err.to_string(),
        })?;
        if let Some(id) = raw::duplicate_process_key(text) {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                message: format!("process {id}: field id: the id {id} is listed twice in processes; ids must be unique"),
            });
        }
        let mut warnings = Vec::new();
        raw::collect_unknown_keys(&value, &mut warnings);
        let raw = RawConfig::deserialize(&value).map_err(|err| ConfigError::Parse {
            path: PathBuf::new(),
            message: raw::locate_type_error(&value).unwrap_or_else(|| err.to_string()),
        })?;
        validate::validate(raw, warnings).map_err(|message| ConfigError::Invalid {
            path: PathBuf::new(),
            message,
        })
    }

    /// One process, by id.
    pub fn process(&self, id: &NodeId) -> Option<&ProcessConfig> {
        self.processes.get(id)
    }

    /// The leader.
    pub fn leader(&self) -> &ProcessConfig {
        self.processes
            .values()
            .find(|p| p.role == Role::Leader)
            .expect("validated config has a leader")
    }

    /// The process that forwards to `id` (its parent in the derived tree), if any.
    pub fn parent_of(&self, id: &NodeId) -> Option<&ProcessConfig> {
        self.processes
            .get(id)
            .and_then(|p| p.parent.as_ref())
            .and_then(|parent| self.processes.get(parent))
    }

    /// The processes `id` forwards to (its children in the derived tree), in link order.
    pub fn children_of(&self, id: &NodeId) -> Vec<&ProcessConfig> {
        self.processes
            .get(id)
            .map(|p| {
                p.children
                    .iter()
                    .filter_map(|c| self.processes.get(c))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Members of a team ordered as the partition rule orders them: by role, then id.
    pub fn team_members(&self, team: &str) -> Vec<&ProcessConfig> {
        let mut members: Vec<&ProcessConfig> =
            self.processes.values().filter(|p| p.team == team).collect();
        members.sort_by(|a, b| (a.role, &a.id).cmp(&(b.role, &b.id)));
        members
    }

    /// Team names, sorted.
    pub fn teams(&self) -> BTreeSet<String> {
        self.processes.values().map(|p| p.team.clone()).collect()
    }

    /// The config as JSON in the file's own shape, every setting explicit: read back, it is
    /// this config again.
    pub fn to_json(&self) -> Value {
        let mut processes = Map::new();
        for p in self.processes.values() {
            processes.insert(
                p.id.0.clone(),
                serde_json::to_value(p).unwrap_or(Value::Null),
            );
        }
        let mut json = serde_json::json!({
            "strategies": self.strategies,
            "health": self.health,
            "state": self.state,
            "hedge": self.hedge,
            "teams": self.team_date_bounds.iter().map(|(team, (lo, hi))| {
                (team.clone(), serde_json::json!({ "date_bounds": [lo, hi] }))
            }).collect::<Map<String, Value>>(),
            "processes": processes,
        });
        if let (Some(file), Some(object)) = (&self.cluster_token_file, json.as_object_mut()) {
            object.insert(
                "cluster_token_file".to_string(),
                Value::from(file.to_string_lossy().into_owned()),
            );
        }
        json
    }
}

/// Writes a byte count as whole MiB, the unit the file gives it in.
fn as_mib<S: serde::Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(bytes / (1 << 20))
}

#[cfg(test)]
mod tests;
