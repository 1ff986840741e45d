//! The workload file as written: TOML deserialized with unknown keys refused. Every key is
//! documented in `workloads/README.md`; [`super::validate`] turns this into a checked
//! [`super::Workload`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[[fault]]` entries are read as the fault schedule defines them.
pub use crate::faults::plan::FaultSpec;
use crate::topology::TopologySpec;

/// A whole workload file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Name used for the report folder (default: the file stem).
    pub name: Option<String>,
    /// One line saying what the workload shows.
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice (query mix, team draws, generated data).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Which cluster and how to reach it.
    pub cluster: ClusterSpec,
    /// Which data the nodes serve.
    #[serde(default)]
    pub data: DataSpec,
    /// Strategies × concurrency levels × repetitions.
    pub sweep: SweepSpec,
    /// Closed or open loop, how long, warm-up.
    pub load: LoadSpec,
    /// The same-machine reference (one gRPC hop to a single node).
    #[serde(default)]
    pub baseline: BaselineSpec,
    /// The weighted query mix.
    #[serde(rename = "query", default)]
    pub queries: Vec<QuerySpecToml>,
    /// Teams and their share of the load.
    #[serde(rename = "tenant", default)]
    pub tenants: Vec<TenantSpec>,
    /// Link shaping between virtual hosts (`cluster.network = "netns"` only).
    #[serde(default)]
    pub network: Option<NetworkSpec>,
    /// The fault schedule, replayed in every step (none by default).
    #[serde(rename = "fault", default)]
    pub faults: Vec<FaultSpec>,
    /// Write `requests.csv`, one row per measured request (default on).
    #[serde(default = "default_true")]
    pub raw: bool,
    /// Pass/fail conditions per step: metric → comparison, e.g. `p99_ms = "< 100"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
    /// `[trace]`: sampled queries traced across the tree (off by default).
    #[serde(default)]
    pub trace: TraceSpec,
}

/// `[trace]`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Measured requests per step sent with a sampled `traceparent` (0: none, tracing off).
    #[serde(default)]
    pub sample_per_step: i64,
}

/// `[network]`: what every link between two virtual hosts does, and `[[network.link]]`
/// entries for pairs that differ (their unset keys keep the default's values).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way latency, ms.
    pub latency_ms: Option<f64>,
    /// ± spread of the latency, ms.
    pub jitter_ms: Option<f64>,
    /// Packets lost per direction, percent.
    pub loss_percent: Option<f64>,
    /// Rate limit per direction, Mbit/s.
    pub rate_mbit: Option<f64>,
    /// `config` (one virtual host per distinct configured address) or `per_process` (one per
    /// process, addresses from `addresses`).
    pub hosts: Option<String>,
    /// `per_process`: the first address of the range the hosts get, with its prefix length
    /// (e.g. `10.77.0.1/24`).
    pub addresses: Option<String>,
    /// Pairs of hosts with links of their own.
    #[serde(rename = "link", default)]
    pub links: Vec<PairSpec>,
}

/// `[[network.link]]`: the link between two hosts, each named by its address or by one of its
/// processes; unset keys keep `[network]`'s values.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// The two hosts.
    pub between: Vec<String>,
    /// One-way latency, ms.
    pub latency_ms: Option<f64>,
    /// ± spread of the latency, ms.
    pub jitter_ms: Option<f64>,
    /// Packets lost per direction, percent.
    pub loss_percent: Option<f64>,
    /// Rate limit per direction, Mbit/s.
    pub rate_mbit: Option<f64>,
}

fn default_seed() -> u64 {
    42
}

/// `[cluster]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// The cluster config (JSON), relative to the working directory; or give `topology`.
    pub config: Option<PathBuf>,
    /// A generated topology instead of a config file (`{ teams = 8, workers = 7 }`).
    pub topology: Option<TopologySpec>,
    /// Seconds the cluster is left idle once ready, its CPU and membership messages measured
    /// (0: not measured).
    #[serde(default)]
    pub idle_s: f64,
    /// `local` (the harness starts and stops the nodes) or `remote` (attach, start nothing).
    #[serde(default = "default_mode")]
    pub mode: String,
    /// `config` (use the config's ports) or `free` (move every node to a free loopback port).
    #[serde(default = "default_ports")]
    pub ports: String,
    /// Seconds every node may take to answer after start.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_s: f64,
    /// Node-wide admission limit passed as `--max-active`.
    pub max_active: Option<i64>,
    /// Per-team admission limit passed as `--per-team-limit`.
    pub per_team_limit: Option<i64>,
    /// Load ratio where hybrid turns strict, passed as `--hybrid-threshold`.
    pub hybrid_threshold: Option<f64>,
    /// Further arguments for every node.
    #[serde(default)]
    pub node_args: Vec<String>,
    /// The nodes serve the control service (fault injection); `false` refuses the
    /// `[[fault]]` events that need it.
    #[serde(default = "default_true")]
    pub control_service: bool,
    /// `loopback` (every node on this machine's network) or `netns` (virtual hosts: each host
    /// of the config in a network namespace of its own).
    #[serde(default = "default_network")]
    pub network: String,
}

fn default_network() -> String {
    "loopback".to_string()
}

fn default_mode() -> String {
    "local".to_string()
}
fn default_ports() -> String {
    "config".to_string()
}
fn default_ready_timeout() -> f64 {
    60.0
}

/// `[data]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Dataset root (day folders under it).
    #[serde(default = "default_data_path")]
    pub path: PathBuf,
    /// Generate synthetic data there when the folder is missing or empty.
    #[serde(default = "default_true")]
    pub generate: bool,
    /// Size of generated data relative to the real set.
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// Generator seed (default: the workload seed).
    pub seed: Option<u64>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            path: default_data_path(),
            generate: true,
            scale: default_scale(),
            seed: None,
        }
    }
}

fn default_data_path() -> PathBuf {
    PathBuf::from("data/synthetic")
}
/// `true`, the default of switches that are on unless turned off.
pub(crate) fn default_true() -> bool {
    true
}
fn default_scale() -> f64 {
    1.0
}

/// `[sweep]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Strategies, each run on a freshly started cluster.
    pub strategies: Vec<String>,
    /// Concurrency levels: workers (closed loop) or most requests in flight (open loop).
    pub concurrency: Vec<i64>,
    /// Generated topologies, each started in turn with every strategy (instead of
    /// `cluster.config` or `cluster.topology`).
    #[serde(default)]
    pub topologies: Vec<TopologySpec>,
    /// Times each level is measured.
    #[serde(default = "default_one")]
    pub repetitions: i64,
    /// Confidence level of the intervals over repetitions, in (0, 1).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

pub(crate) fn default_confidence() -> f64 {
    crate::interval::DEFAULT_CONFIDENCE
}

fn default_one() -> i64 {
    1
}

/// `[load]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// `closed` (each worker sends its next query when the last is answered) or `open`
    /// (queries are sent at `rate` whatever the answers do).
    pub mode: String,
    /// Open loop: queries per second, all teams together.
    pub rate: Option<f64>,
    /// Open loop: `uniform` (evenly spaced) or `poisson` send times.
    #[serde(default = "default_arrival")]
    pub arrival: String,
    /// Measured queries per step (excluding warm-up); or give `duration_s`.
    pub requests: Option<i64>,
    /// Measured seconds per step (excluding warm-up); or give `requests`.
    pub duration_s: Option<f64>,
    /// Seconds at the start of each step whose queries are not counted.
    #[serde(default)]
    pub warmup_s: f64,
    /// A query not answered within this many seconds counts as failed.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// Pause after a rejected attempt before it is retried (or, closed loop without retries,
    /// before the worker's next query).
    #[serde(default)]
    pub reject_backoff_ms: f64,
    /// Retry a rejected attempt after the backoff until the request's timeout (default on).
    #[serde(default = "default_true")]
    pub retry_rejected: bool,
    /// gRPC connections shared by the workers.
    #[serde(default = "default_connections")]
    pub connections: i64,
}

fn default_arrival() -> String {
    "uniform".to_string()
}
fn default_timeout() -> f64 {
    30.0
}
fn default_connections() -> i64 {
    4
}

/// `[baseline]`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// Measure a single node holding all the data over one gRPC hop, same mix and levels.
    #[serde(default)]
    pub enabled: bool,
}

/// `[[query]]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpecToml {
    /// Label in reports.
    pub name: String,
    /// `filter`, `aggregate` or `metrics` (a `GetMetrics` call: measures the harness itself).
    #[serde(rename = "type")]
    pub query_type: String,
    /// Relative frequency.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Query params, as in the original JSON (the team is added per tenant).
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
}

fn default_weight() -> f64 {
    1.0
}

/// `[[tenant]]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Team name sent as the `team` query param.
    pub team: String,
    /// Share of the workers (closed loop) or of the rate (open loop); give it or `rate`.
    pub share: Option<f64>,
    /// Open loop: this team's own arrival rate, queries per second (every tenant then gives
    /// one, and `load.rate` is their sum).
    pub rate: Option<f64>,
    /// Entitlement: the fairness index divides goodput by it, and `fair_queue` serves by it.
    #[serde(default = "default_tenant_weight")]
    pub weight: i64,
}

fn default_tenant_weight() -> i64 {
    1
}
