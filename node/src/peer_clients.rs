//! Clients to the other processes of the cluster, opened on demand: a channel to a peer exists
//! only while this node calls it (its tree neighbours, the holders of its replicas, whomever
//! routing falls back to), and is dropped after [`IDLE_AFTER`] without calls, so a node's
//! connections and file descriptors do not grow with the cluster.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// A channel unused this long is dropped (calls in flight keep their own handle).
pub const IDLE_AFTER: Duration = Duration::from_secs(30);

/// Most channels open at once; the least recently used goes first past it.
pub const MAX_OPEN: usize = 256;

#[derive(Debug)]
struct Open {
    client: PeerClient,
    last_used: Instant,
}

/// Endpoints of every peer (no connection), and the channels open now.
#[derive(Debug, Default)]
pub struct PeerClients {
    endpoints: HashMap<NodeId, Endpoint>,
    auth: ClusterAuth,
    open: Mutex<HashMap<NodeId, Open>>,
}

/// The endpoint of a peer: `http://host:port`, or `https://` with the node's TLS settings.
fn peer_endpoint(
    process: &ProcessConfig,
    tls: Option<&NodeTls>,
) -> Result<Endpoint, tonic::transport::Error> {
    let endpoint = match tls {
        None => Endpoint::from_shared(process.endpoint())?,
        Some(tls) => Endpoint::from_shared(format!("https://{}", process.address()))?
            .tls_config(tls.client_config())?,
    };
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024))
}

impl PeerClients {
    /// Endpoints for every process but `own_id`, each call sending `auth`'s secret, over TLS
    /// with `tls`'s identity and trust when given (the server name checked is the peer's
    /// config host). No connection is opened here.
    pub fn new(
        config: &ClusterConfig,
        own_id: &NodeId,
        auth: &ClusterAuth,
        tls: Option<&NodeTls>,
    ) -> Result<Self, tonic::transport::Error> {
        let mut endpoints = HashMap::new();
        for process in config.processes.values().filter(|p| &p.id != own_id) {
            endpoints.insert(process.id.clone(), peer_endpoint(process, tls)?);
        }
        Ok(Self {
            endpoints,
            auth: auth.clone(),
            open: Mutex::default(),
        })
    }

    /// The client for a peer: its open channel, or a new one (connected on first call).
    pub fn client(&self, id: &NodeId) -> Option<PeerClient> {
        let endpoint = self.endpoints.get(id)?;
        let now = Instant::now();
        let mut open = self.lock();
        if let Some(entry) = open.get_mut(id) {
            entry.last_used = now;
            return Some(entry.client.clone());
        }
        if open.len() >= MAX_OPEN {
            let oldest = open
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                open.remove(&oldest);
            }
        }
        let client =
            OverlayPeerClient::with_interceptor(endpoint.connect_lazy(), self.auth.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
        open.insert(
            id.clone(),
            Open {
                client: client.clone(),
                last_used: now,
            },
        );
        Some(client)
    }

    /// Drops the channels unused for [`IDLE_AFTER`]; returns how many.
    pub fn drop_idle(&self) -> usize {
        let now = Instant::now();
        let mut open = self.lock();
        let before = open.len();
        open.retain(|_, e| now.duration_since(e.last_used) < IDLE_AFTER);
        before - open.len()
    }

    /// Channels open now.
    pub fn open_channels(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
