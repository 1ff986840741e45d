//! What a launch gives every node: typed settings spelled as `overlay-node` flags, and the
//! cluster secret written for the run.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use overlay::config::FairnessStrategy;

use crate::client::TlsFiles;

/// Name of the cluster secret's file in the log folder.
pub const TOKEN_FILE: &str = "cluster.token";

/// Writes a fresh random cluster secret (128 bits, hex) to `cluster.token` in `dir`, readable
/// by this user only; every node of the cluster gets it with `--cluster-token-file`, so only
/// they can call each other's `OverlayPeer` service.
pub fn write_fresh_token(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(TOKEN_FILE);
    let _ = std::fs::remove_file(&path);
    let mut options = File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create the cluster secret {}", path.display()))?;
    writeln!(file, "{:032x}", rand::random::<u128>())
        .with_context(|| format!("cannot write the cluster secret {}", path.display()))?;
    Ok(path)
}

/// Node settings a launch gives every process, typed; [`NodeSettings::args`] spells them as
/// `overlay-node` flags. `None` / `false`: the node's own default (or the config's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeSettings {
    /// `--fairness-strategy`.
    pub fairness_strategy: Option<FairnessStrategy>,
    /// `--max-active`.
    pub max_active: Option<u32>,
    /// `--per-team-limit`.
    pub per_team_limit: Option<u32>,
    /// `--hybrid-threshold`.
    pub hybrid_threshold: Option<f64>,
    /// `--events-file`: where each node writes its events (`{id}` stands for the node's id).
    pub events_file: Option<PathBuf>,
    /// `--trace-file` (`{id}` stands for the node's id) with `--trace-sample 0`: each node
    /// records the requests whose `traceparent` says sampled, and no others.
    pub trace_file: Option<PathBuf>,
    /// `--enable-control`: serve the control service.
    pub enable_control: bool,
    /// `--tls-cert`, `--tls-key`, `--tls-ca`: serve TLS (mutual with a CA). The launcher's own
    /// readiness checks then connect with the same files (the node certificate as client
    /// identity), so it must name the configured hosts.
    pub tls: TlsFiles,
    /// `--metrics-addr`: give every node a free port on its host for Prometheus's `/metrics`
    /// (kept across restarts; see [`LocalCluster::metrics_addresses`]).
    pub metrics: bool,
}

impl NodeSettings {
    /// The settings as `overlay-node` flags.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                args.extend([name.to_string(), value]);
            }
        };
        flag(
            "--fairness-strategy",
            self.fairness_strategy.map(|s| s.name().to_string()),
        );
        flag("--max-active", self.max_active.map(|v| v.to_string()));
        flag(
            "--per-team-limit",
            self.per_team_limit.map(|v| v.to_string()),
        );
        flag(
            "--hybrid-threshold",
            self.hybrid_threshold.map(|v| v.to_string()),
        );
        flag(
            "--events-file",
            self.events_file.as_ref().map(|p| p.display().to_string()),
        );
        if let Some(file) = &self.trace_file {
            flag("--trace-file", Some(file.display().to_string()));
            flag("--trace-sample", Some("0".to_string()));
        }
        let mut path = |name: &str, value: &Option<PathBuf>| {
            if let Some(value) = value {
                args.extend([name.to_string(), value.display().to_string()]);
            }
        };
        path("--tls-cert", &self.tls.cert);
        path("--tls-key", &self.tls.key);
        path("--tls-ca", &self.tls.ca);
        if self.enable_control {
            args.push("--enable-control".to_string());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_settings_become_the_nodes_flags_and_defaults_add_none() {
        assert!(NodeSettings::default().args().is_empty());
        let settings = NodeSettings {
            fairness_strategy: Some(FairnessStrategy::FairQueue),
            max_active: Some(8),
            per_team_limit: Some(3),
            hybrid_threshold: Some(0.8),
            events_file: Some(PathBuf::from("events/events-{id}.jsonl")),
            trace_file: Some(PathBuf::from("traces/trace-{id}.jsonl")),
            enable_control: true,
            tls: TlsFiles {
                ca: Some(PathBuf::from("ca.pem")),
                cert: Some(PathBuf::from("node.pem")),
                key: Some(PathBuf::from("node.key")),
            },
            // Per node, not a shared flag: the launcher adds each node's own address.
            metrics: true,
        };
        assert_eq!(
            settings.args(),
            [
                "--fairness-strategy",
                "fair_queue",
                "--max-active",
                "8",
                "--per-team-limit",
                "3",
                "--hybrid-threshold",
                "0.8",
                "--events-file",
                "events/events-{id}.jsonl",
                "--trace-file",
                "traces/trace-{id}.jsonl",
                "--trace-sample",
                "0",
                "--tls-cert",
                "node.pem",
                "--tls-key",
                "node.key",
                "--tls-ca",
                "ca.pem",
                "--enable-control",
            ]
        );
    }
}
