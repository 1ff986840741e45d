//! What the query path may touch on this node, named field by field.
//!
//! The query code (coordinate, route, hedging, local scans) receives this context instead of
//! the whole node, so a reader can tell from one struct what a query can read or change:
//! the data and the map, what this node knows of its peers, the clients to reach them, the
//! faults in force and the counters it feeds. Every field is shared (`Arc`), so a context is
//! cheap to clone into a blocking scan or a hedge leg.

use std::sync::Arc;

use overlay::config::{ClusterConfig, NodeId};
use overlay::partition::PartitionMap;

use super::counters::RoutingCounters;
use crate::faults::FaultTable;
use crate::health::backoff::Backoff;
use crate::health::peer_health::PeerHealth;
use crate::holdings::Holdings;
use crate::peer_clients::PeerClients;
use crate::store::Table;
use crate::tail::TailTolerance;

/// The parts of a node a query runs against.
#[derive(Clone, Debug)]
pub struct QueryContext {
    /// This node's id: the deciding node of every route.
    pub id: NodeId,
    /// The cluster config: the tree a task travels.
    pub config: Arc<ClusterConfig>,
    /// Which node holds which days.
    pub partition: Arc<PartitionMap>,
    /// The rows of the slices this node holds.
    pub table: Arc<Table>,
    /// Which of its assigned days this node lacks on disk.
    pub holdings: Arc<Holdings>,
    /// What this node knows of its peers' health; call outcomes are reported to it.
    pub peer_health: Arc<PeerHealth>,
    /// Clients to the other processes.
    pub peer_clients: Arc<PeerClients>,
    /// Faults injected here (a partition refuses calls to a peer).
    pub faults: Arc<FaultTable>,
    /// Peers' answer times: hedge delays, the hedge budget, outlier ejection.
    pub tail: Arc<TailTolerance>,
    /// Extra routing work caused by failures.
    pub routing: Arc<RoutingCounters>,
    /// Backoff between rounds of a failed forward.
    pub retry_backoff: Backoff,
}
