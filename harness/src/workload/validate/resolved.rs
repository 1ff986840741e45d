//! The resolved [`Workload`], as recorded in `results.json`, and its parts.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultPlan;
use crate::input::{ClusterMode, StepLength};

/// How queries are paced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum LoadMode {
    /// Each worker sends its next query when the previous one is answered.
    Closed,
    /// Queries are due at `rate` per second, measured from when they were due.
    Open {
        /// Queries per second.
        rate: f64,
        /// Exponential gaps instead of even ones.
        poisson: bool,
    },
}

/// One entry of the query mix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixEntry {
    /// Label.
    pub name: String,
    /// `filter`, `aggregate` or `metrics`.
    pub query_type: String,
    /// Relative frequency.
    pub weight: f64,
    /// JSON params (without the team).
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// One team.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    /// Team name.
    pub team: String,
    /// Share of workers or rate, normalised to sum to 1.
    pub share: f64,
    /// Open loop: its own arrival rate, queries per second, when the workload gives one.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Entitlement (fairness index, fair_queue weights).
    pub weight: u32,
}

/// A checked workload, as recorded in `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    /// Report folder name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Seed of all random choices.
    pub seed: u64,
    /// Cluster config path (empty when the run generates its topologies).
    pub config: PathBuf,
    /// Generated topologies, each started in turn (`cluster.topology` or `sweep.topologies`);
    /// empty when the run starts `config`.
    #[serde(default)]
    pub topologies: Vec<crate::topology::TopologySpec>,
    /// Seconds the cluster is left idle once ready, its CPU and membership messages measured.
    #[serde(default)]
    pub idle_s: f64,
    /// Local or remote.
    pub mode: ClusterMode,
    /// Move nodes to free ports.
    pub free_ports: bool,
    /// Run each host of the config in a network namespace of its own (virtual hosts).
    pub netns: bool,
    /// `[network]`: the links between the virtual hosts.
    #[serde(default)]
    pub network: crate::netns::Shaping,
    /// `[network] hosts = "per_process"`: each process's address (its own virtual host).
    #[serde(default)]
    pub host_addresses: std::collections::BTreeMap<String, String>,
    /// Start-up timeout, seconds.
    pub ready_timeout_s: f64,
    /// `--max-active`.
    pub max_active: Option<u32>,
    /// `--per-team-limit`.
    pub per_team_limit: Option<u32>,
    /// `--hybrid-threshold`.
    pub hybrid_threshold: Option<f64>,
    /// Extra node arguments.
    pub node_args: Vec<String>,
    /// The nodes serve the control service.
    #[serde(default = "crate::workload::spec::default_true")]
    pub control_service: bool,
    /// Dataset root.
    pub data_path: PathBuf,
    /// Generate when missing.
    pub data_generate: bool,
    /// Generator scale.
    pub data_scale: f64,
    /// Generator seed.
    pub data_seed: u64,
    /// `data_path` came from the command line (`harness run --data DIR`): the data there is
    /// served as it is, and its own scale and seed are recorded instead of being required.
    #[serde(default)]
    pub data_given: bool,
    /// Strategies swept.
    pub strategies: Vec<String>,
    /// Concurrency levels swept.
    pub concurrency: Vec<u32>,
    /// Repetitions per level.
    pub repetitions: u32,
    /// Confidence level of the intervals over repetitions.
    #[serde(default = "crate::workload::spec::default_confidence")]
    pub confidence: f64,
    /// Pacing.
    pub load: LoadMode,
    /// Step length.
    pub length: StepLength,
    /// Warm-up seconds per step.
    pub warmup_s: f64,
    /// Per-query timeout, seconds.
    pub timeout_s: f64,
    /// Pause after a rejection, ms.
    pub reject_backoff_ms: f64,
    /// Retry rejected attempts until the timeout.
    #[serde(default = "crate::workload::spec::default_true")]
    pub retry_rejected: bool,
    /// Write one row per measured request.
    #[serde(default = "crate::workload::spec::default_true")]
    pub raw: bool,
    /// Pass/fail conditions evaluated on every step.
    #[serde(default)]
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Connections shared by the workers.
    pub connections: u32,
    /// Measure the one-hop baseline.
    pub baseline: bool,
    /// Query mix.
    pub mix: Vec<MixEntry>,
    /// Teams.
    pub tenants: Vec<Tenant>,
    /// The fault schedule replayed in every step (empty: none).
    #[serde(default)]
    pub faults: FaultPlan,
    /// `trace.sample_per_step`: measured requests per step sent with a sampled `traceparent`
    /// (0: tracing off).
    #[serde(default)]
    pub trace_per_step: u32,
}

impl Workload {
    /// Warm-up as a duration.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
}
