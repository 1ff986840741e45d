//! The membership protocol inside a node: the UDP socket on the node's own address and port,
//! conclusions turned into peer health (the `[HealthChecker]` lines and hook events), injected
//! faults applied to datagrams, and the node's own state as Lifeguard's local health.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use overlay::config::{ClusterConfig, NodeId};
use overlay::date::unix_ms;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::driver::{self, Observer, Transport};
use super::envelope::{cluster_id, DropReason, MAX_DATAGRAM_BYTES};
use super::settings::Settings;
use super::stats::Stats;
use super::swim::{Adapter, Change};
use crate::faults::FaultTable;
use crate::health::monitor::StateMonitor;
use crate::health::peer_health::{Evidence, PeerHealth, PeerStatus};
use crate::health::state::NodeState;

/// Datagrams waiting for the protocol; past this the newest are dropped as overloaded.
const INBOUND_QUEUE: usize = 1024;

/// What the membership task needs of the node.
#[derive(Clone, Debug)]
pub struct NodeParts {
    /// The config (members are its processes, by id order).
    pub config: Arc<ClusterConfig>,
    /// This node.
    pub own: NodeId,
    /// The cluster secret, part of the cluster id.
    pub secret: Option<Arc<str>>,
    /// Where conclusions go.
    pub peer_health: Arc<PeerHealth>,
    /// Faults injected here.
    pub faults: Arc<FaultTable>,
    /// The node's own state.
    pub state: Arc<StateMonitor>,
    /// Counters for metrics.
    pub stats: Arc<Stats>,
}

/// Why membership could not start.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// This node is not in the config.
    #[error("process {0} is not in the config")]
    NotInConfig(NodeId),
    /// More processes than member indexes.
    #[error("the config has {0} processes; membership takes at most 65535")]
    TooMany(usize),
}

/// Starts the protocol on `socket` (bound on the gRPC address and port): a receive task and
/// the protocol task; both end when aborted.
pub fn spawn(parts: NodeParts, socket: UdpSocket) -> Result<Vec<JoinHandle<()>>, MembershipError> {
    let ids: Vec<NodeId> = parts.config.processes.keys().cloned().collect();
    let members = u16::try_from(ids.len()).map_err(|_| MembershipError::TooMany(ids.len()))?;
    let own = ids
        .iter()
        .position(|id| *id == parts.own)
        .ok_or_else(|| MembershipError::NotInConfig(parts.own.clone()))? as u16;
    let cluster = cluster_id(&parts.config, parts.secret.as_deref());
    let adapter = Adapter::new(
        own,
        members,
        cluster,
        unix_ms(),
        Settings::from_health(&parts.config.health),
        rand::random(),
        parts.stats.clone(),
    );
    let socket = Arc::new(socket);
    let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
    let receiving = tokio::spawn(receive(socket.clone(), tx, parts.stats.clone()));
    let config = parts.config.clone();
    let observer = Arc::new(NodeObserver { ids, parts });
    let protocol = tokio::spawn(async move {
        // Resolved here, not before serving: a slow or failing name lookup delays only this.
        let addresses = resolve(&config, &observer.parts.own).await;
        let transport = Arc::new(Udp { socket, addresses });
        driver::run(adapter, rx, transport, observer).await;
    });
    Ok(vec![receiving, protocol])
}

/// Every process's UDP address (its gRPC host and port), by index; `None` where the host does
/// not resolve.
async fn resolve(config: &ClusterConfig, own: &NodeId) -> Vec<Option<SocketAddr>> {
    let mut addresses = Vec::with_capacity(config.processes.len());
    for process in config.processes.values() {
        let resolved = tokio::net::lookup_host(process.address())
            .await
            .ok()
            .and_then(|mut a| a.next());
        if resolved.is_none() && &process.id != own {
            tracing::warn!(
                "[Membership] {own} cannot resolve {}: no datagrams to {}",
                process.address(),
                process.id
            );
        }
        addresses.push(resolved);
    }
    addresses
}

/// Reads datagrams into the protocol's queue; one past the bound is read whole enough to be
/// recognised as oversized.
async fn receive(socket: Arc<UdpSocket>, tx: mpsc::Sender<Vec<u8>>, stats: Arc<Stats>) {
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    loop {
        let n = match socket.recv_from(&mut buf).await {
            Ok((n, _)) => n,
            Err(e) => {
                tracing::debug!("[Membership] receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if tx.try_send(buf[..n].to_vec()).is_err() {
            stats.received(n);
            stats.dropped(DropReason::Overloaded);
        }
    }
}

struct Udp {
    socket: Arc<UdpSocket>,
    addresses: Vec<Option<SocketAddr>>,
}

impl Transport for Udp {
    fn send(&self, to: u16, datagram: &[u8]) {
        if let Some(Some(address)) = self.addresses.get(usize::from(to)) {
            // Datagrams may be lost; a full send buffer is one more way.
            let _ = self.socket.try_send_to(datagram, *address);
        }
    }
}

struct NodeObserver {
    ids: Vec<NodeId>,
    parts: NodeParts,
}

impl NodeObserver {
    fn id(&self, index: u16) -> Option<&NodeId> {
        self.ids.get(usize::from(index))
    }
}

impl Observer for NodeObserver {
    fn changed(&self, change: Change) {
        let health = &self.parts.peer_health;
        match change {
            Change::Up(i) => {
                if let Some(peer) = self.id(i) {
                    health.record_success(peer, Evidence::Probe, None);
                }
            }
            Change::Heard(i) => {
                if let Some(peer) = self.id(i) {
                    if health.status(peer) != Some(PeerStatus::Healthy) {
                        health.record_success(peer, Evidence::Probe, None);
                    }
                }
            }
            Change::Suspect(i) => {
                if let Some(peer) = self.id(i) {
                    health.record_failure(peer, Evidence::Suspicion, "missed a probe cycle");
                }
            }
            Change::Down(i) => {
                if let Some(peer) = self.id(i) {
                    health.record_failure(
                        peer,
                        Evidence::Membership,
                        "declared down by membership",
                    );
                }
            }
        }
    }

    fn admit(&self, from: u16) -> Option<Duration> {
        let peer = self.id(from)?;
        self.parts.faults.datagram_fate(peer)
    }

    fn may_send(&self, to: u16) -> bool {
        self.id(to)
            .is_some_and(|peer| self.parts.faults.refuses_call_to(peer).is_none())
    }

    fn load_level(&self) -> u32 {
        match self.parts.state.state() {
            NodeState::Healthy => 0,
            NodeState::Warning => 1,
            NodeState::Critical => 2,
            NodeState::Failing => 3,
        }
    }
}
