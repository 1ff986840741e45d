//! Command-line options of `overlay-node`.

use std::path::PathBuf;

use clap::Parser;
use overlay::config::{ClusterConfig, FairnessStrategy};

/// One process of an Overlay query tree.
///
/// Reads the cluster config, loads the days of the dataset that the partition map gives this
/// process (and its replicas), then serves the OverlayNode protocol (clients), the OverlayPeer
/// protocol (other nodes) and the standard gRPC health service on its configured host and port.
/// Stops gracefully on Ctrl-C, SIGTERM or a Shutdown call. Logs go to stderr; set RUST_LOG
/// (for example RUST_LOG=overlay_node=debug) for more or less.
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
    /// Seconds a query may take end to end before unanswered branches are given up.
    #[arg(long, default_value_t = 30)]
    pub query_deadline_s: u64,
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
        Ok(())
    }
}
