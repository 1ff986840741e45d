//! A Prometheus scrape config for a local cluster: one target per node's `/metrics`, labelled
//! with the node's id and team (`harness cluster prometheus-config > prometheus.yml`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use overlay::config::{ClusterConfig, NodeId};

/// One node to scrape.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// The node's id.
    pub node: String,
    /// Its team.
    pub team: String,
    /// `host:port` of its `/metrics`.
    pub address: String,
}

/// The `prometheus.yml` text scraping `targets` every `interval_s` seconds.
pub fn scrape_config(targets: &[ScrapeTarget], interval_s: u32) -> String {
    let interval_s = interval_s.max(1);
    let mut out = format!(
        "# Scrape config for an Overlay cluster (harness cluster prometheus-config).\nglobal:\n  scrape_interval: {interval_s}s\n  evaluation_interval: {interval_s}s\nscrape_configs:\n  - job_name: overlay\n    metrics_path: /metrics\n    static_configs:\n"
    );
    for t in targets {
        let _ = write!(
            out,
            "      - targets: ['{}']\n        labels:\n          node: '{}'\n          team: '{}'\n",
            t.address, t.node, t.team
        );
    }
    out
}

/// A free port on each process's host for its `/metrics` page.
pub fn metrics_addresses(config: &ClusterConfig) -> anyhow::Result<BTreeMap<NodeId, String>> {
    config
        .processes
        .values()
        .map(|process| {
            let port = std::net::TcpListener::bind((process.host.as_str(), 0))
                .and_then(|listener| listener.local_addr())
                .with_context(|| {
                    format!(
                        "no free metrics port on {} for {}",
                        process.host, process.id
                    )
                })?
                .port();
            Ok((process.id.clone(), format!("{}:{port}", process.host)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_a_labelled_target() {
        let targets = [
            ScrapeTarget {
                node: "A".into(),
                team: "green".into(),
                address: "127.0.0.1:9101".into(),
            },
            ScrapeTarget {
                node: "B".into(),
                team: "pink".into(),
                address: "127.0.0.1:9102".into(),
            },
        ];
        let yaml = scrape_config(&targets, 0);
        assert!(yaml.contains("scrape_interval: 1s"), "{yaml}");
        assert!(
            yaml.contains("- targets: ['127.0.0.1:9102']\n        labels:\n          node: 'B'\n          team: 'pink'"),
            "{yaml}"
        );
    }
}
