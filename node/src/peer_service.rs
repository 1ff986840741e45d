//! The node-to-node `OverlayPeer` service: serve slice tasks for a coordinator or relay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::proto::overlay_peer_server::OverlayPeer;
use overlay::proto::{PingRequest, PingResponse, ScanRequest, ScanResponse};
use overlay::query::Query;
use tonic::{Request, Response, Status};

use crate::cancel::{Cancel, CancelOnDrop};
use crate::faults::Traffic;
use crate::node::Node;
use crate::query::counters::Counted;
use crate::query::route::{serve_tasks, RouteContext};

/// Deadline of a forwarded request that names none.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// The `OverlayPeer` service of one node.
#[derive(Debug, Clone)]
pub struct PeerService {
    node: Arc<Node>,
}

impl PeerService {
    /// Wraps a node.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl OverlayPeer for PeerService {
    /// Serves the slice tasks. When the caller goes away first (it cancelled, lost a hedge or
    /// ran out of deadline) this future is dropped: the guard counts the call as abandoned and
    /// stops the scans still running for it, and the admission permit is released with it.
    async fn scan(&self, request: Request<ScanRequest>) -> Result<Response<ScanResponse>, Status> {
        let routing = self.node.clone();
        let abandoned = CancelOnDrop::new(Cancel::default(), move || {
            routing.routing.add(Counted::CallAbandoned, 1);
        });
        let reply = self.serve_scan(request).await;
        abandoned.finish();
        reply
    }

    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        let request = request.into_inner();
        self.node
            .faults
            .on_answer(Traffic::Peer(&request.from))
            .await?;
        Ok(Response::new(PingResponse {
            node: self.node.id().0.clone(),
            state: self.node.state.state().name().to_string(),
        }))
    }
}

impl PeerService {
    async fn serve_scan(
        &self,
        request: Request<ScanRequest>,
    ) -> Result<Response<ScanResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let node = &self.node;
        let caller = request.hops.last().map(String::as_str).unwrap_or_default();
        node.faults.on_answer(Traffic::Peer(caller)).await?;
        let mut hops = request.hops;
        let answer = |status: String, hops: Vec<String>| {
            Ok(Response::new(ScanResponse {
                slices: Vec::new(),
                hops,
                status,
            }))
        };
        if hops.iter().any(|hop| hop == &node.id().0) {
            return answer("loop_detected".to_string(), hops);
        }
        let query: Query = match serde_json::from_str(&request.query_json) {
            Ok(query) => query,
            Err(err) => return answer(format!("invalid_query:{err}"), hops),
        };
        let team = node.team_of(Some(&request.team)).to_string();
        let deadline = match request.deadline_ms {
            0 => DEFAULT_DEADLINE,
            ms => Duration::from_millis(u64::from(ms)),
        };
        let give_up_at = Instant::now() + deadline;
        // A queued slice task never waits past the coordinator's deadline.
        let wait_limit = deadline.min(node.admission.limits().queue_timeout);
        let mut permit = match node.admission.admit(&team, Some(wait_limit)).await {
            Ok(permit) => permit,
            Err(rejection) => return answer(rejection.status().to_string(), hops),
        };
        hops.push(node.id().0.clone());
        let ctx = RouteContext {
            team: node.forwarding_team(&team).to_string(),
            query: Arc::new(query),
            query_json: request.query_json.into(),
            hops: hops.clone(),
            deadline: give_up_at,
        };
        let slices = serve_tasks(node, &ctx, request.slices).await;
        node.times.record(started.elapsed());
        permit.mark_succeeded();
        Ok(Response::new(ScanResponse {
            slices,
            hops,
            status: "ok".to_string(),
        }))
    }
}
