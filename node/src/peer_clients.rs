//! Clients to the other processes of the cluster, one lazily connected channel each.

use std::collections::HashMap;
use std::time::Duration;

use overlay::config::{ClusterConfig, NodeId, ProcessConfig};
use overlay::proto::overlay_peer_client::OverlayPeerClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::auth::ClusterAuth;
use crate::tls::NodeTls;

/// A client to one peer; every call carries the cluster secret (see [`ClusterAuth`]).
pub type PeerClient = OverlayPeerClient<InterceptedService<Channel, ClusterAuth>>;

/// How long opening a connection to a peer may take before the call counts as failed: short,
/// because peers are on the same network and a refused or silent peer must be routed around.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Largest message a peer may send us: a slice's records for a 2,000-record limit are well under
/// this; aggregate partials grouped by site are the largest answers.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A client per peer process, and a second one on its own connection for health probes (so
/// probes never queue behind large answers on a busy connection).
#[derive(Clone, Debug, Default)]
pub struct PeerClients {
    clients: HashMap<NodeId, PeerClient>,
    probes: HashMap<NodeId, PeerClient>,
}

/// The endpoint of a peer: `http://host:port`, or `https://` with the node's TLS settings.
fn peer_endpoint(
    process: &ProcessConfig,
    tls: Option<&NodeTls>,
) -> Result<Endpoint, tonic::transport::Error> {
    match tls {
        None => Endpoint::from_shared(process.endpoint()),
        Some(tls) => Endpoint::from_shared(format!("https://{}", process.address()))?
            .tls_config(tls.client_config()),
    }
}

impl PeerClients {
    /// Lazy clients to every process but `own_id` (no connection is opened until first use),
    /// each sending `auth`'s secret, over TLS with `tls`'s identity and trust when given
    /// (the server name checked is the peer's config host).
    pub fn new(
        config: &ClusterConfig,
        own_id: &NodeId,
        auth: &ClusterAuth,
        tls: Option<&NodeTls>,
    ) -> Result<Self, tonic::transport::Error> {
        let probe_timeout = Duration::from_millis(config.health.timeout_ms.max(1));
        let mut clients = HashMap::new();
        let mut probes = HashMap::new();
        for process in config.processes.values().filter(|p| &p.id != own_id) {
            let channel = peer_endpoint(process, tls)?
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .initial_stream_window_size(4 * 1024 * 1024)
                .initial_connection_window_size(16 * 1024 * 1024)
                .connect_lazy();
            let client = OverlayPeerClient::with_interceptor(channel, auth.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
            clients.insert(process.id.clone(), client);
            let probe_channel = peer_endpoint(process, tls)?
                .connect_timeout(probe_timeout.min(CONNECT_TIMEOUT))
                .tcp_nodelay(true)
                .connect_lazy();
            probes.insert(
                process.id.clone(),
                OverlayPeerClient::with_interceptor(probe_channel, auth.clone()),
            );
        }
        Ok(Self { clients, probes })
    }

    /// The probe client for a peer.
    pub fn probe_client(&self, id: &NodeId) -> Option<PeerClient> {
        self.probes.get(id).cloned()
    }

    /// The client for a peer.
    pub fn client(&self, id: &NodeId) -> Option<PeerClient> {
        self.clients.get(id).cloned()
    }
}
