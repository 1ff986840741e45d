//! Command-line options of `overlay-node`.

use std::path::PathBuf;

use clap::Parser;
use overlay::config::{ClusterConfig, FairnessStrategy, Hedge};
use overlay::logging::LogFormat;

/// One process of an Overlay query tree.
///
/// Reads the cluster config, loads the days of the dataset that the partition map gives this
/// process (and its replicas), then serves the OverlayNode protocol (clients), the OverlayPeer
/// protocol (other nodes) and the standard gRPC health service on its configured host and port.
/// Stops gracefully on Ctrl-C, SIGTERM or a Shutdown call. Logs go to stderr (colour only on a
/// terminal; --log-format json for log shippers); set RUST_LOG (for example
/// RUST_LOG=overlay_node=debug) for more or less.
#[derive(Debug, Clone, Parser)]
#[command(name = "overlay-node", version, about, long_about)]
pub struct NodeArgs {
    /// Cluster config (JSON, the original format), e.g. configs/one_host_config.json.
    pub config: PathBuf,
    /// This process's id in the config, e.g. A.
    pub id: String,
    /// Dataset root holding YYYYMMDD/ day folders of CSV files.
    #[arg(long, default_value = "data/synthetic", env = "OVERLAY_DATASET_ROOT")]
    pub dataset_root: PathBuf,
    /// Records per chunk (overrides strategies.chunk_size).
    #[arg(long)]
    pub chunk_size: Option<u32>,
    /// Admission strategy: strict, weighted, hybrid or fair_queue (overrides the config).
    #[arg(long, value_parser = parse_strategy)]
    pub fairness_strategy: Option<FairnessStrategy>,
    /// Most active queries on this node (overrides strategies.max_active).
    #[arg(long)]
    pub max_active: Option<u32>,
    /// Most active queries of one team on this node (overrides strategies.per_team_limit).
    #[arg(long)]
    pub per_team_limit: Option<u32>,
    /// Load ratio at which hybrid turns strict, in (0, 1] (overrides strategies.hybrid_threshold).
    #[arg(long)]
    pub hybrid_threshold: Option<f64>,
    /// fair_queue: most waiting queries per team (overrides strategies.queue_capacity).
    #[arg(long)]
    pub queue_capacity: Option<u32>,
    /// fair_queue: longest wait in ms before rejection (overrides strategies.queue_timeout_ms).
    #[arg(long)]
    pub queue_timeout_ms: Option<u64>,
    /// Seconds a query may take end to end before unanswered branches are given up.
    #[arg(long, default_value_t = 30)]
    pub query_deadline_s: u64,
    /// Async worker threads (default: one per core). Several nodes sharing a machine run
    /// better with fewer each; the harness's local clusters divide the cores among the nodes.
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// Replicas of each slice, 1 = none (overrides strategies.replication_factor; every node
    /// of a cluster must use the same value).
    #[arg(long)]
    pub replication_factor: Option<u32>,
    /// Milliseconds between health probes of each peer (overrides health.interval_ms).
    #[arg(long)]
    pub health_interval_ms: Option<u64>,
    /// Milliseconds a health probe may take before it counts as missed (overrides
    /// health.timeout_ms).
    #[arg(long)]
    pub health_timeout_ms: Option<u64>,
    /// Consecutive missed probes or failed calls that declare a peer failed (overrides
    /// health.failure_threshold).
    #[arg(long)]
    pub failure_threshold: Option<u32>,
    /// Never hedge slow slice calls nor eject slow peers (overrides hedge.enabled).
    #[arg(long)]
    pub no_hedge: bool,
    /// Least hedge delay in ms (overrides hedge.delay_floor_ms).
    #[arg(long)]
    pub hedge_delay_floor_ms: Option<u64>,
    /// Most hedge delay in ms (overrides hedge.delay_cap_ms).
    #[arg(long)]
    pub hedge_delay_cap_ms: Option<u64>,
    /// Hedges allowed per call sent, in [0, 1] (overrides hedge.budget_share).
    #[arg(long)]
    pub hedge_budget: Option<f64>,
    /// Median answer time, as a multiple of the peer's team's, that makes it an outlier
    /// (overrides hedge.eject_ratio).
    #[arg(long)]
    pub eject_ratio: Option<f64>,
    /// Milliseconds an ejected peer is routed around (overrides hedge.eject_for_ms).
    #[arg(long)]
    pub eject_for_ms: Option<u64>,
    /// Accept requests on the OverlayControl service (fault injection, strategy switch,
    /// shutdown). Off by default: without it every control request is refused.
    #[arg(long)]
    pub enable_control: bool,
    /// Token every control request must carry (only with --enable-control).
    #[arg(long, env = "OVERLAY_CONTROL_TOKEN", requires = "enable_control")]
    pub control_token: Option<String>,
    /// File holding the cluster secret (one line, 16 to 1024 visible ASCII characters) that
    /// this node sends with every peer call and requires on every OverlayPeer call it answers
    /// (overrides the config's cluster_token_file). Every node of a cluster needs the same
    /// secret. Without one, peer calls are not authenticated and the node warns at start-up.
    #[arg(long)]
    pub cluster_token_file: Option<PathBuf>,
    /// PEM certificate (chain) this node presents: with --tls-key, every service (clients,
    /// peers, control, health) is served over TLS only, and peer calls use TLS too. It must
    /// name the host the config gives this process (an IP SAN for an address).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): with it, every client must present a certificate this CA
    /// signed (mutual TLS), and peer calls trust it as their root (needs --tls-cert).
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Address to listen on instead of the configured host and port: `HOST:PORT`, or `HOST`
    /// alone to keep the configured port (e.g. 0.0.0.0 behind NAT, or [::]:60051). Peers and
    /// clients keep using the configured address; only the bind changes.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Most client and peer connections open at once; further ones are closed as soon as
    /// accepted (default: the open-file limit, raised to its hard maximum at start-up, less 512).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds a connection may stay silent before it is closed (HTTP/2 keepalive pings that a
    /// live client answers count as traffic, so this closes dead and silent sockets).
    #[arg(long, default_value_t = 120)]
    pub idle_timeout_s: u64,
    /// Most concurrent requests (HTTP/2 streams) on one connection.
    #[arg(long, default_value_t = 1024)]
    pub max_streams_per_connection: u32,
    /// Append lifecycle events to this file as JSON lines (one object per line: event, node,
    /// unix_ms, detail); the harness reads it for detection times. `{id}` in the path is
    /// replaced by the process id, so one flag serves every node of a cluster.
    #[arg(long)]
    pub events_file: Option<PathBuf>,
    /// Events written to --events-file, comma-separated, or `all`. Default: every event but
    /// query_started and query_completed (thousands per second under load).
    #[arg(long, default_value = crate::hooks::builtin::DEFAULT_FILE_EVENTS)]
    pub events: String,
    /// Log every lifecycle event (a built-in hook).
    #[arg(long)]
    pub log_events: bool,
    /// Do not register the original system's default hooks, which log every
    /// state_changed, neighbor_failed and neighbor_recovered event.
    #[arg(long)]
    pub no_default_hooks: bool,
    /// Serve Prometheus metrics (OpenMetrics text) at http://HOST:PORT/metrics: RPC latency
    /// histograms, per-team admission, state, peers and breakers, routing, hooks, result cache,
    /// rows and process figures (overrides the process's metrics_addr in the config). An
    /// address that cannot be bound stops the node. Without either, RPCs are not timed at all.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Record traces and write them, one JSON object per span and line (trace_id, span_id,
    /// parent_span_id, name, node, start_unix_ns, duration_ns, attributes), to this file.
    /// `{id}` in the path is replaced by the process id. A file that cannot be written is
    /// reported once and the node goes on without it.
    #[arg(long)]
    pub trace_file: Option<PathBuf>,
    /// Record traces and export them over OTLP/gRPC to this collector, e.g.
    /// http://127.0.0.1:4317.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// With tracing on: the share of queries arriving without a traceparent that start a
    /// sampled trace, in [0, 1]. A query that carries one follows its sampled flag.
    #[arg(long, default_value_t = 0.01, value_parser = crate::trace::check_sample)]
    pub trace_sample: f64,
    /// Log lines on stderr: `text` (coloured only when stderr is a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(long, default_value = "text", value_parser = parse_log_format)]
    pub log_format: LogFormat,
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    text.parse()
}

fn parse_strategy(text: &str) -> Result<FairnessStrategy, String> {
    text.parse()
}

impl NodeArgs {
    /// Applies the command-line overrides to a loaded config, checking them as the loader would.
    pub fn apply_overrides(&self, config: &mut ClusterConfig) -> Result<(), String> {
        let s = &mut config.strategies;
        if let Some(strategy) = self.fairness_strategy {
            s.fairness_strategy = strategy;
        }
        for (flag, value, target) in [
            ("--chunk-size", self.chunk_size, &mut s.chunk_size),
            ("--max-active", self.max_active, &mut s.max_active),
            (
                "--per-team-limit",
                self.per_team_limit,
                &mut s.per_team_limit,
            ),
            (
                "--queue-capacity",
                self.queue_capacity,
                &mut s.queue_capacity,
            ),
            (
                "--replication-factor",
                self.replication_factor,
                &mut s.replication_factor,
            ),
            (
                "--failure-threshold",
                self.failure_threshold,
                &mut config.health.failure_threshold,
            ),
        ] {
            match value {
                Some(0) => return Err(format!("{flag} must be at least 1")),
                Some(v) => *target = v,
                None => {}
            }
        }
        if let Some(threshold) = self.hybrid_threshold {
            if !(threshold > 0.0 && threshold <= 1.0) {
                return Err(format!(
                    "--hybrid-threshold is {threshold}; it must lie in (0, 1]"
                ));
            }
            s.hybrid_threshold = threshold;
        }
        for (flag, value, target) in [
            (
                "--queue-timeout-ms",
                self.queue_timeout_ms,
                &mut s.queue_timeout_ms,
            ),
            (
                "--health-interval-ms",
                self.health_interval_ms,
                &mut config.health.interval_ms,
            ),
            (
                "--health-timeout-ms",
                self.health_timeout_ms,
                &mut config.health.timeout_ms,
            ),
        ] {
            match value {
                Some(0) => return Err(format!("{flag} must be at least 1")),
                Some(ms) => *target = ms,
                None => {}
            }
        }
        self.apply_hedge_overrides(&mut config.hedge)
    }

    /// The `hedge` flags, checked together with the block they override.
    fn apply_hedge_overrides(&self, hedge: &mut Hedge) -> Result<(), String> {
        if self.no_hedge {
            hedge.enabled = false;
        }
        for (value, target) in [
            (self.hedge_delay_floor_ms, &mut hedge.delay_floor_ms),
            (self.hedge_delay_cap_ms, &mut hedge.delay_cap_ms),
        ] {
            if let Some(ms) = value {
                *target = ms;
            }
        }
        if let Some(ms) = self.eject_for_ms {
            if ms == 0 {
                return Err("--eject-for-ms must be at least 1".to_string());
            }
            hedge.eject_for_ms = ms;
        }
        if let Some(share) = self.hedge_budget {
            hedge.budget_share = share;
        }
        if let Some(ratio) = self.eject_ratio {
            hedge.eject_ratio = ratio;
        }
        hedge.check(|key| {
            match key {
                "delay_floor_ms" if self.hedge_delay_floor_ms.is_some() => "--hedge-delay-floor-ms",
                "delay_cap_ms" if self.hedge_delay_cap_ms.is_some() => "--hedge-delay-cap-ms",
                "budget_share" if self.hedge_budget.is_some() => "--hedge-budget",
                "eject_ratio" if self.eject_ratio.is_some() => "--eject-ratio",
                _ => return format!("hedge.{key}"),
            }
            .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use overlay::config::ClusterConfig;

    use super::*;

    const SHIPPED: &str = include_str!("../../configs/one_host_config.json");

    fn apply(flags: &[&str]) -> Result<ClusterConfig, String> {
        let mut argv = vec!["overlay-node", "cluster.json", "A"];
        argv.extend_from_slice(flags);
        let args = NodeArgs::try_parse_from(argv).map_err(|err| err.to_string())?;
        let mut config = ClusterConfig::from_json(SHIPPED).expect("shipped config loads");
        args.apply_overrides(&mut config)?;
        Ok(config)
    }

    #[test]
    fn hedge_flags_override_the_block_and_are_checked_naming_the_flag() {
        let config = apply(&[
            "--hedge-delay-floor-ms",
            "2",
            "--hedge-delay-cap-ms",
            "40",
            "--hedge-budget",
            "0.1",
            "--eject-ratio",
            "3",
            "--eject-for-ms",
            "900",
        ])
        .expect("valid flags");
        let h = &config.hedge;
        assert!(h.enabled);
        assert_eq!(
            (h.delay_floor_ms, h.delay_cap_ms, h.eject_for_ms),
            (2, 40, 900)
        );
        assert_eq!((h.budget_share, h.eject_ratio), (0.1, 3.0));
        assert!(!apply(&["--no-hedge"]).unwrap().hedge.enabled);
        for (flags, expected) in [
            (&["--hedge-budget", "1.5"][..], "--hedge-budget is 1.5"),
            (&["--eject-ratio", "0.5"][..], "--eject-ratio is 0.5"),
            (
                &["--eject-for-ms", "0"][..],
                "--eject-for-ms must be at least 1",
            ),
            (
                &["--hedge-delay-floor-ms", "500"][..],
                "--hedge-delay-floor-ms is 500 but hedge.delay_cap_ms is 100",
            ),
        ] {
            let err = apply(flags).unwrap_err();
            assert!(err.contains(expected), "{flags:?}: {err}");
        }
        // Negative delays do not parse.
        assert!(apply(&["--hedge-delay-cap-ms", "-5"]).is_err());
    }

    #[test]
    fn flags_override_the_strategies_block() {
        let config = apply(&[
            "--fairness-strategy",
            "hybrid",
            "--max-active",
            "6",
            "--per-team-limit",
            "3",
            "--hybrid-threshold",
            "1",
            "--queue-capacity",
            "8",
            "--queue-timeout-ms",
            "250",
        ])
        .expect("valid flags");
        let s = &config.strategies;
        assert_eq!(s.fairness_strategy, FairnessStrategy::Hybrid);
        assert_eq!(
            (s.max_active, s.per_team_limit, s.queue_capacity),
            (6, 3, 8)
        );
        assert_eq!((s.hybrid_threshold, s.queue_timeout_ms), (1.0, 250));
        let untouched = apply(&[]).expect("no flags");
        assert_eq!(untouched.strategies.max_active, 100);
    }

    #[test]
    fn health_and_replication_flags_override_the_config() {
        let config = apply(&[
            "--health-interval-ms",
            "100",
            "--health-timeout-ms",
            "300",
            "--failure-threshold",
            "3",
            "--replication-factor",
            "2",
        ])
        .expect("valid flags");
        let h = &config.health;
        assert_eq!(
            (h.interval_ms, h.timeout_ms, h.failure_threshold),
            (100, 300, 3)
        );
        assert_eq!(config.strategies.replication_factor, 2);
        let err = apply(&["--health-timeout-ms", "0"]).unwrap_err();
        assert!(
            err.contains("--health-timeout-ms must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn bad_overrides_name_the_flag() {
        for (flags, expected) in [
            (
                &["--max-active", "0"][..],
                "--max-active must be at least 1",
            ),
            (
                &["--per-team-limit", "0"],
                "--per-team-limit must be at least 1",
            ),
            (
                &["--queue-capacity", "0"],
                "--queue-capacity must be at least 1",
            ),
            (
                &["--queue-timeout-ms", "0"],
                "--queue-timeout-ms must be at least 1",
            ),
            (&["--hybrid-threshold", "0"], "--hybrid-threshold is 0"),
            (
                &["--hybrid-threshold", "1.01"],
                "--hybrid-threshold is 1.01",
            ),
            (&["--hybrid-threshold=-0.5"], "--hybrid-threshold is -0.5"),
            (&["--max-active=-3"], "invalid value '-3' for '--max-active"),
            (
                &["--fairness-strategy", "fifo"],
                "unknown fairness strategy 'fifo'",
            ),
        ] {
            let err = apply(flags).expect_err("flags must be refused");
            assert!(err.contains(expected), "{flags:?}: {err}");
        }
    }
}
