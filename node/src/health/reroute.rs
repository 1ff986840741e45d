//! What the node does about a failed or recovered peer, said in the log: which relays it
//! bypasses, which replicas take over the peer's slices, and which days are lost without
//! replicas. Routing itself reads peer health on every task; this module only makes that plan
//! visible, in the original system's `[Orchestrator]` log lines.

use std::collections::HashMap;

use overlay::config::{ClusterConfig, NodeId};
use overlay::partition::PartitionMap;

/// For every process of the config, the sentence saying how work avoids it; written once from
/// the config and partition map (which do not change while the node runs).
#[derive(Debug)]
pub struct ReroutePlans {
    own_id: NodeId,
    plans: HashMap<NodeId, String>,
}

impl ReroutePlans {
    /// The plans of node `own_id` for every process of `config`.
    pub fn new(own_id: NodeId, config: &ClusterConfig, partition: &PartitionMap) -> Self {
        let plans = config
            .processes
            .keys()
            .map(|peer| (peer.clone(), failure_plan(config, partition, peer)))
            .collect();
        Self { own_id, plans }
    }

    /// Logs how work avoids `peer` from now on.
    pub fn log_failure(&self, peer: &NodeId) {
        tracing::warn!(
            "[Orchestrator] {} handling failure of {peer}: {}",
            self.own_id,
            self.failure_plan(peer)
        );
    }

    /// Logs that `peer` gets work again.
    pub fn log_recovery(&self, peer: &NodeId) {
        tracing::info!(
            "[Orchestrator] {} handling recovery of {peer}: routing to it again",
            self.own_id
        );
    }

    /// One sentence: the bypassed children and the fate of each slice the peer holds.
    pub fn failure_plan(&self, peer: &NodeId) -> &str {
        self.plans
            .get(peer)
            .map_or(NOTHING_TO_REROUTE, String::as_str)
    }
}

/// The plan for a peer that holds no data and relays for nobody.
const NOTHING_TO_REROUTE: &str = "it holds no data; nothing to reroute";

/// The sentence for `peer`: its children reached directly, its slice served by replicas or
/// lost.
fn failure_plan(config: &ClusterConfig, partition: &PartitionMap, peer: &NodeId) -> String {
    let mut parts = Vec::new();
    let mut children: Vec<&str> = config
        .process(peer)
        .map(|p| p.children.iter().map(NodeId::as_str).collect())
        .unwrap_or_default();
    children.sort_unstable();
    if !children.is_empty() {
        parts.push(format!("reaching {} directly", children.join(", ")));
    }
    if let Some(slice) = partition.owned_by(peer) {
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
        NOTHING_TO_REROUTE.to_string()
    } else {
        parts.join("; ")
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
        ReroutePlans::new(NodeId("A".into()), &config, &partition)
            .failure_plan(&NodeId(peer.into()))
            .to_string()
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

    #[test]
    fn a_peer_outside_the_config_has_nothing_to_reroute() {
        assert_eq!(plan(1, "Z"), NOTHING_TO_REROUTE);
    }
}
