//! The node-to-node `OverlayPeer` service: serve slice tasks for a coordinator or relay.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::NodeId;
use overlay::proto::overlay_peer_server::OverlayPeer;
use overlay::proto::{
    PingRequest, PingResponse, ScanRequest, ScanResponse, SliceResult, SliceTask,
};
use overlay::query::{quote, Query, LIMIT_CAP};
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

/// A peer's `hops` must be a path through this cluster: no longer than it has processes, every
/// entry one of them.
fn check_hops(node: &Node, hops: &[String]) -> Result<(), String> {
    let processes = &node.config.processes;
    if hops.len() > processes.len() {
        return Err(format!(
            "hops has {} entries; a path through this cluster has at most {}",
            hops.len(),
            processes.len()
        ));
    }
    match hops
        .iter()
        .find(|hop| !processes.contains_key(&NodeId((*hop).clone())))
    {
        Some(hop) => Err(format!(
            "hops names '{}', which is not a process of this cluster",
            quote(hop)
        )),
        None => Ok(()),
    }
}

/// The tasks of a Scan as this node will serve them: one per slice of the partition map (a
/// slice listed twice is served once), each with the map's holders (not the caller's) and its
/// limit capped as for clients. Tasks naming no slice of the map come back as errors.
fn checked_tasks(node: &Node, tasks: Vec<SliceTask>) -> (Vec<SliceTask>, Vec<SliceResult>) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for mut task in tasks {
        let Some(slice) = node
            .partition
            .slices
            .iter()
            .find(|slice| slice.owner.0 == task.owner)
        else {
            if refused.len() < node.partition.slices.len() {
                refused.push(SliceResult {
                    owner: quote(&task.owner),
                    error: format!(
                        "'{}' owns no slice of the partition map",
                        quote(&task.owner)
                    ),
                    ..Default::default()
                });
            }
            continue;
        };
        if !seen.insert(task.owner.clone()) {
            continue;
        }
        task.holders = slice.holders.iter().map(|h| h.0.clone()).collect();
        task.limit = task.limit.min(LIMIT_CAP);
        kept.push(task);
    }
    (kept, refused)
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
        if let Err(why) = check_hops(node, &hops) {
            return answer(format!("invalid_query:{why}"), Vec::new());
        }
        if hops.iter().any(|hop| hop == &node.id().0) {
            return answer("loop_detected".to_string(), hops);
        }
        let query: Query = match serde_json::from_str(&request.query_json) {
            Ok(query) => query,
            Err(err) => return answer(format!("invalid_query:{err}"), hops),
        };
        let team = match node.team_of(Some(&request.team)) {
            Ok(team) => team.to_string(),
            Err(why) => return answer(format!("invalid_query:{why}"), hops),
        };
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
        let (tasks, mut refused) = checked_tasks(node, request.slices);
        let mut slices = serve_tasks(node, &ctx, tasks).await;
        slices.append(&mut refused);
        node.times.record(started.elapsed());
        permit.mark_succeeded();
        Ok(Response::new(ScanResponse {
            slices,
            hops,
            status: "ok".to_string(),
        }))
    }
}
