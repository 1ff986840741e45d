//! Says what the node does about a failed or recovered peer: which relays it bypasses, which
//! replicas take over its slices, and which days are lost without replicas. Routing itself
//! reads peer health on every task; this module makes that plan visible in the log.

use overlay::config::{ClusterConfig, NodeId};
use overlay::partition::PartitionMap;

/// The failure handling plan of one node.
#[derive(Debug)]
pub struct Orchestrator {
    own_id: NodeId,
    config: ClusterConfig,
    partition: PartitionMap,
}

impl Orchestrator {
    /// A plan maker for this node.
    pub fn new(own_id: NodeId, config: ClusterConfig, partition: PartitionMap) -> Self {
        Self {
            own_id,
            config,
            partition,
        }
    }

    /// Logs how work avoids `peer` from now on.
    pub fn handle_failure(&self, peer: &NodeId) {
        tracing::warn!(
            "[Orchestrator] {} handling failure of {peer}: {}",
            self.own_id,
            self.failure_plan(peer)
        );
    }

    /// Logs that `peer` gets work again.
    pub fn handle_recovery(&self, peer: &NodeId) {
        tracing::info!(
            "[Orchestrator] {} handling recovery of {peer}: routing to it again",
            self.own_id
        );
    }

    /// One sentence: the bypassed children and the fate of each slice the peer holds.
    pub fn failure_plan(&self, peer: &NodeId) -> String {
        let mut parts = Vec::new();
        let mut children: Vec<&str> = self
            .config
            .process(peer)
            .map(|p| p.children.iter().map(NodeId::as_str).collect())
            .unwrap_or_default();
        children.sort_unstable();
        if !children.is_empty() {
            parts.push(format!("reaching {} directly", children.join(", ")));
        }
        if let Some(slice) = self.partition.owned_by(peer) {
            if let (Some(first), Some(last)) = (slice.dates.first(), slice.dates.last()) {
                let days = if first == last {
                    first.to_string()
                } else {
                    format!("{first}-{last}")
                };
                let replicas: Vec<&str> = slice
                    .holders
                    .iter()
                    .filter(|h| *h != peer)
                    .map(NodeId::as_str)
                    .collect();
                parts.push(if replicas.is_empty() {
                    format!("no replica of {days}: answers needing those days are partial")
                } else {
                    format!("{days} served by {}", replicas.join(" or "))
                });
            }
        }
        if parts.is_empty() {
            "it holds no data; nothing to reroute".to_string()
        } else {
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlay::date::DateKey;

    fn plan(replication: u32, peer: &str) -> String {
        let mut config =
            ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json"))
                .unwrap();
        config.strategies.replication_factor = replication;
        let days: Vec<DateKey> = (20200810..=20200831)
            .chain(20200901..=20200924)
            .map(|d| DateKey::from_u32(d).unwrap())
            .collect();
        let partition = PartitionMap::compute(&config, &days);
        Orchestrator::new(NodeId("A".into()), config, partition).failure_plan(&NodeId(peer.into()))
    }

    #[test]
    fn a_failed_team_leader_is_bypassed_and_its_slice_named() {
        let text = plan(1, "E");
        assert!(text.starts_with("reaching D, F directly"), "{text}");
        assert!(text.contains("no replica of 20200821-20200829"), "{text}");
        assert!(plan(2, "E").contains("20200821-20200829 served by D"));
    }

    #[test]
    fn a_failed_worker_names_its_replica() {
        assert_eq!(plan(2, "C"), "20200816-20200820 served by A");
    }
}
