//! Command-line interface of `harness`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Drives and measures an Overlay cluster.
///
/// Start here: `harness data generate` writes synthetic data, `harness cluster up
/// configs/one_host_config.json` starts a local cluster in the background, `harness query`
/// asks it something, `harness cluster down` stops it.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about)]
pub struct Cli {
    /// Log lines on stderr: `text` (coloured only when stderr is a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(long, global = true, default_value = "text", value_parser = parse_log_format)]
    pub log_format: overlay::logging::LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_log_format(text: &str) -> Result<overlay::logging::LogFormat, String> {
    text.parse()
}

/// The harness commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Datasets: generate synthetic AirNow-format data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run one query through a node and print a summary (or, with --repeat, a quick load test).
    Query(QueryArgs),
    /// Show the metrics of one node, or of every node of a config.
    Metrics(MetricsArgs),
    /// Start, stop or inspect a local cluster running in the background.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run a workload file: data, cluster, strategy × concurrency sweep, reports and charts.
    Run(RunArgs),
    /// Redraw a run's reports and charts from its results.json.
    Report(ReportArgs),
    /// Set several runs side by side (table and overlay charts).
    Compare(CompareArgs),
    /// Inject, list or clear faults on one node, switch its strategy or stop it, through its
    /// control service (the node must run with --enable-control).
    Control(ControlArgs),
    /// Write a cluster config of one leader and T teams (a team leader and its workers each).
    Topology(TopologyArgs),
}

/// TLS to nodes that serve it (`overlay-node --tls-cert/--tls-key`, mutual with `--tls-ca`).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM CA certificate that signed the nodes' certificates; connect over TLS (https).
    #[arg(long, env = "OVERLAY_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate, for nodes that require one (mutual TLS); needs --tls-key.
    #[arg(long, env = "OVERLAY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "OVERLAY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The files, for [`crate::client::ClientTls::load`].
    pub fn files(&self) -> crate::client::TlsFiles {
        crate::client::TlsFiles {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        }
    }
}

impl Command {
    /// The TLS flags of the commands that take them (`query`, `metrics`, `control`).
    pub fn tls(&self) -> Option<&TlsArgs> {
        match self {
            Command::Query(args) => Some(&args.tls),
            Command::Metrics(args) => Some(&args.tls),
            Command::Control(args) => Some(&args.tls),
            _ => None,
        }
    }

    /// Whether the command starts or stops node processes or virtual hosts (`run`,
    /// `cluster up`, `cluster down`): such a command must not die on a broken output pipe
    /// before its cleanup has run.
    pub fn owns_processes(&self) -> bool {
        matches!(
            self,
            Command::Run(_) | Command::Cluster(ClusterCommand::Up(_) | ClusterCommand::Down(_))
        )
    }
}

/// `harness control`
#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The node's address, e.g. 127.0.0.1:60052.
    #[arg(long)]
    pub node: String,
    /// The node's control token, if it has one.
    #[arg(long, env = "OVERLAY_CONTROL_TOKEN", default_value = "")]
    pub token: String,
    /// TLS to the node.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: ControlAction,
}

/// `harness control --node ADDR ...`
#[derive(Debug, Subcommand)]
pub enum ControlAction {
    /// Add latency to the node's answers: `delay --ms 200 [--peer client|ID] [--stall]`.
    Delay {
        /// Milliseconds added.
        #[arg(long, allow_negative_numbers = true)]
        ms: i64,
        /// Add it inside the work, after admission with the permit held (a `stall` fault),
        /// rather than before admission.
        #[arg(long)]
        stall: bool,
        /// Whose traffic: `client`, a process id, or everyone when left out.
        #[arg(long, default_value = "")]
        peer: String,
        /// Seconds until it ends by itself (0: until cleared).
        #[arg(long, default_value_t = 0.0)]
        duration_s: f64,
    },
    /// Fail the node's answers with UNAVAILABLE: `drop [--peer client|ID] [--probability 0.5]`.
    Drop {
        /// Whose traffic: `client`, a process id, or everyone when left out.
        #[arg(long, default_value = "")]
        peer: String,
        /// Share of answers failed, in (0, 1].
        #[arg(long, default_value_t = 1.0)]
        probability: f64,
        /// Seconds until it ends by itself (0: until cleared).
        #[arg(long, default_value_t = 0.0)]
        duration_s: f64,
    },
    /// Refuse one peer both ways on this node (do the same on the peer for a full partition).
    Partition {
        /// The peer's process id.
        #[arg(long)]
        peer: String,
        /// Seconds until it ends by itself (0: until cleared).
        #[arg(long, default_value_t = 0.0)]
        duration_s: f64,
    },
    /// End one fault (by id) or all of them.
    Clear {
        /// The fault's id, as `list` shows it; all faults when left out.
        id: Option<String>,
    },
    /// List the faults in force.
    List,
    /// Switch the fairness strategy.
    Strategy {
        /// strict, weighted, hybrid or fair_queue.
        name: String,
    },
    /// Stop the node gracefully.
    Shutdown,
}

/// `harness topology`
#[derive(Debug, Args)]
pub struct TopologyArgs {
    /// Number of teams, 1–43 (every team needs a day of the dataset).
    #[arg(long, allow_negative_numbers = true)]
    pub teams: i64,
    /// Workers per team: one number for every team, or one per team (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    pub workers: Vec<i64>,
    /// Team weights (1–1000), one per team, comma-separated (`strategies.team_weights`).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    pub weights: Option<Vec<i64>>,
    /// Date ranges FIRST-LAST (YYYYMMDD), one per team, comma-separated (default: the
    /// dataset's days split evenly over the teams).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub dates: Option<Vec<String>>,
    /// Host(s) the processes listen on, comma-separated; several are taken in turn.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "127.0.0.1")]
    pub host: Vec<String>,
    /// Port of the leader; every further process takes the next port.
    #[arg(long, default_value_t = 50051, allow_negative_numbers = true)]
    pub base_port: i64,
    /// Where to write the config (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `harness run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workload file, e.g. workloads/fairness_sweep.toml.
    pub workload: PathBuf,
    /// Reports root; the run goes to `<out>/<workload>/<run-id>/` with a `latest` link.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Strategies to sweep instead of the workload's (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub strategies: Option<Vec<String>>,
    /// Concurrency levels instead of the workload's (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    pub concurrency: Option<Vec<i64>>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Serve this dataset instead of the workload's `data.path`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Format of the per-request raw results: `requests.csv` or `requests.jsonl`.
    #[arg(long, value_enum, default_value = "csv")]
    pub raw: crate::raw::RawFormat,
    /// Extra argument for every node of a local cluster, after the workload's
    /// `cluster.node_args`; repeat it for several (e.g. `--node-arg=--no-hedge` measures the
    /// same workload with hedging off).
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
}

/// `harness report`
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run folder (holding results.json), e.g. reports/fairness_sweep/latest.
    pub dir: PathBuf,
}

/// `harness compare`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders to compare.
    #[arg(required = true, num_args = 2..)]
    pub dirs: Vec<PathBuf>,
    /// Where the table and charts go.
    #[arg(long, default_value = "reports/compare")]
    pub out: PathBuf,
    /// Compare even when the runs' workload, data, strategy settings or machine differ (the
    /// differences then head compare.md as a warning).
    #[arg(long)]
    pub force: bool,
}

/// `harness data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write a synthetic dataset with the real one's layout, dates and columns.
    Generate(GenerateArgs),
}

/// `harness data generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Dataset root to write (day folders are created under it).
    #[arg(long, default_value = "data/synthetic")]
    pub out: PathBuf,
    /// Size relative to the real dataset (1.0 ≈ 1.17 million rows).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Random seed; the same seed and scale give identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// How records come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Print only the summary.
    None,
    /// Print the records (or aggregate rows) as JSON lines.
    Json,
    /// Print the records as CSV with a header.
    Csv,
}

/// `harness query`
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Node address, host:port (default: the leader of --config).
    #[arg(long)]
    pub node: Option<String>,
    /// Cluster config used to find the leader when --node is not given.
    #[arg(long, default_value = "configs/one_host_config.json")]
    pub config: PathBuf,
    /// Query type: filter or aggregate.
    #[arg(long = "type", default_value = "filter")]
    pub query_type: String,
    /// Query params as a JSON object, e.g. '{"parameter":"PM2.5","min_value":10,"max_value":50,"limit":5000}'.
    #[arg(long, default_value = "{}")]
    pub params: String,
    /// Ask for the original JSON chunks instead of typed record batches.
    #[arg(long)]
    pub json_chunks: bool,
    /// Records per chunk; 0 = 2000 for typed batches (one chunk per capped answer), the node's
    /// default (200) for --json-chunks.
    #[arg(long, default_value_t = 0)]
    pub chunk_size: i32,
    /// Print the records too.
    #[arg(long, value_enum, default_value = "none")]
    pub output: OutputFormat,
    /// Run the query this many times (a quick load test; prints throughput and latency).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Queries in flight at once when repeating.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// TLS to the node.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `harness metrics`
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// One node's address, host:port; without it, every node of --config.
    #[arg(long)]
    pub node: Option<String>,
    /// Cluster config listing the nodes.
    #[arg(long, default_value = "configs/one_host_config.json")]
    pub config: PathBuf,
    /// Print the raw metrics as JSON.
    #[arg(long)]
    pub json: bool,
    /// TLS to the nodes.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `harness cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start every process of a config in the background and wait until all answer.
    Up(ClusterUpArgs),
    /// Stop a background cluster started with `up`.
    Down(ClusterRefArgs),
    /// Show whether each process of a config answers, with its load.
    Status(ClusterRefArgs),
    /// Print a Prometheus scrape config for a background cluster's /metrics pages:
    /// `harness cluster prometheus-config > prometheus.yml`, then `prometheus
    /// --config.file=prometheus.yml`.
    PrometheusConfig(PrometheusConfigArgs),
}

/// `harness cluster prometheus-config`
#[derive(Debug, Args)]
pub struct PrometheusConfigArgs {
    /// Cluster config of the background cluster.
    #[arg(default_value = "configs/one_host_config.json")]
    pub config: PathBuf,
    /// Seconds between scrapes.
    #[arg(long, default_value_t = 5)]
    pub scrape_interval_s: u32,
}

/// `harness cluster up`
#[derive(Debug, Args)]
pub struct ClusterUpArgs {
    /// Cluster config.
    #[arg(default_value = "configs/one_host_config.json")]
    pub config: PathBuf,
    /// Dataset root the nodes read.
    #[arg(long, default_value = "data/synthetic")]
    pub dataset_root: PathBuf,
    /// Seconds to wait for every node to answer.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout_s: u64,
    /// Extra arguments passed to every node (e.g. --node-arg=--fairness-strategy --node-arg=weighted).
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
    /// Run every distinct host of the config in its own network namespace (virtual hosts,
    /// needs root and iproute2), each node binding its configured address there; the harness
    /// reaches them over the run's own link. `cluster down --netns` removes them.
    #[arg(long)]
    pub netns: bool,
}

/// `harness cluster down|status`
#[derive(Debug, Args)]
pub struct ClusterRefArgs {
    /// Cluster config.
    #[arg(default_value = "configs/one_host_config.json")]
    pub config: PathBuf,
    /// down: also remove the virtual hosts (network namespaces) recorded for this config,
    /// even when the run that made them died before recording its nodes.
    #[arg(long)]
    pub netns: bool,
}
