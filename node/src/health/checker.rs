//! The health checker: probes every peer on its own connection every `interval`, counting an
//! unanswered probe (refused, failed or slower than `timeout`) as a failure and an answered
//! one as proof of life. Probes of one peer run one after another, so a hung peer costs one
//! timeout per probe and is declared failed after `failure_threshold` of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::{Health, NodeId};
use overlay::proto::PingRequest;
use tokio::task::JoinHandle;

use super::peer_health::{Evidence, PeerHealth};
use crate::faults::FaultTable;
use crate::peer_clients::{PeerClient, PeerClients};

/// What the probes need of the node.
#[derive(Clone, Debug)]
pub struct Probing {
    /// The probing node, named in every ping.
    pub id: NodeId,
    /// The config's health settings.
    pub settings: Health,
    /// Where probe outcomes go.
    pub peer_health: Arc<PeerHealth>,
    /// Faults injected here (a partition refuses probes to a peer).
    pub faults: Arc<FaultTable>,
}

/// Starts one probe loop per watched peer; the loops end when the handles are aborted.
pub fn spawn_probes(probing: &Probing, clients: &PeerClients) -> Vec<JoinHandle<()>> {
    probing
        .peer_health
        .peers()
        .into_iter()
        .filter_map(|peer| {
            let client = clients.probe_client(&peer)?;
            Some(tokio::spawn(probe_loop(probing.clone(), peer, client)))
        })
        .collect()
}

async fn probe_loop(node: Probing, peer: NodeId, mut client: PeerClient) {
    let health = &node.settings;
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
    node: &Probing,
    peer: &NodeId,
    client: &mut PeerClient,
    timeout: Duration,
) -> Result<Duration, String> {
    if let Some(why) = node.faults.refuses_call_to(peer) {
        return Err(why);
    }
    let started = Instant::now();
    let request = PingRequest {
        from: node.id.0.clone(),
    };
    // One bound for everything: connecting, sending, the peer answering.
    match tokio::time::timeout(timeout, client.ping(request)).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(status)) => Err(format!("probe failed: {}", status.message())),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}
