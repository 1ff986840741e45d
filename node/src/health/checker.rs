//! The health checker: probes every peer on its own connection every `interval`, counting an
//! unanswered probe (refused, failed or slower than `timeout`) as a failure and an answered
//! one as proof of life. Probes of one peer run one after another, so a hung peer costs one
//! timeout per probe and is declared failed after `failure_threshold` of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::NodeId;
use overlay::proto::PingRequest;
use tokio::task::JoinHandle;

use super::peers::Evidence;
use crate::node::Node;
use crate::peers::PeerClient;

/// Starts one probe loop per watched peer; the loops end when the handles are aborted.
pub fn spawn_probes(node: &Arc<Node>) -> Vec<JoinHandle<()>> {
    node.peer_health
        .peers()
        .into_iter()
        .filter_map(|peer| {
            let client = node.peers.probe_client(&peer)?;
            Some(tokio::spawn(probe_loop(node.clone(), peer, client)))
        })
        .collect()
}

async fn probe_loop(node: Arc<Node>, peer: NodeId, mut client: PeerClient) {
    let health = &node.config.health;
    let interval = Duration::from_millis(health.interval_ms.max(1));
    let timeout = Duration::from_millis(health.timeout_ms.max(1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match probe_once(&node, &peer, &mut client, timeout).await {
            Ok(rtt) => node
                .peer_health
                .record_success(&peer, Evidence::Probe, Some(rtt)),
            Err(why) => node
                .peer_health
                .record_failure(&peer, Evidence::Probe, &why),
        }
    }
}

/// One probe: the round trip, or why it failed.
async fn probe_once(
    node: &Node,
    peer: &NodeId,
    client: &mut PeerClient,
    timeout: Duration,
) -> Result<Duration, String> {
    if let Some(why) = node.faults.refuses_call_to(peer) {
        return Err(why);
    }
    let started = Instant::now();
    let request = PingRequest {
        from: node.id().0.clone(),
    };
    // One bound for everything: connecting, sending, the peer answering.
    match tokio::time::timeout(timeout, client.ping(request)).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(status)) => Err(format!("probe failed: {}", status.message())),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}
