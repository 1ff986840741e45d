//! The node-to-node `OverlayPeer` service: serve slice tasks for a coordinator or relay.
//!
//! A Scan reads as its phases: check the request (hops, query, team) → admit it under the
//! forwarded team → serve the tasks → answer. A refusal is a [`ScanRefusal`], mapped here and
//! only here to the wire's `ScanStatus` and `Rejection`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::NodeId;
use overlay::proto::overlay_peer_server::OverlayPeer;
use overlay::proto::{
    PeerState, PingRequest, PingResponse, ScanRequest, ScanResponse, ScanStatus, SliceErrorKind,
    SliceResult, SliceTask,
};
use overlay::query::{quote, Query, QueryError, LIMIT_CAP};
use tonic::{Request, Response, Status};

use crate::admission::{Permit, Rejection};
use crate::cancel::{Cancel, CancelOnDrop};
use crate::faults::Traffic;
use crate::health::state::NodeState;
use crate::node::{Node, UnknownTeam};
use crate::query::counters::Counted;
use crate::query::failure::failed;
use crate::query::route::{serve_tasks, RouteContext};
use crate::trace;
use tracing::Instrument as _;

/// Deadline of a forwarded request that names none.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Why a Scan is refused as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanRefusal {
    /// `hops` is not a path through this cluster.
    #[error("{0}")]
    BadHops(String),
    /// This node is already on the path.
    #[error("loop detected")]
    Loop,
    /// The request carries no query.
    #[error("the request carries no query")]
    NoQuery,
    /// The query does not decode.
    #[error(transparent)]
    BadQuery(#[from] QueryError),
    /// The team is not one of the config.
    #[error(transparent)]
    UnknownTeam(#[from] UnknownTeam),
    /// Admission control refused the work.
    #[error(transparent)]
    Rejected(#[from] Rejection),
}

impl ScanRefusal {
    /// The wire status of the refusal.
    pub fn status(&self) -> ScanStatus {
        match self {
            ScanRefusal::Loop => ScanStatus::LoopDetected,
            ScanRefusal::Rejected(_) => ScanStatus::Rejected,
            ScanRefusal::BadHops(_)
            | ScanRefusal::NoQuery
            | ScanRefusal::BadQuery(_)
            | ScanRefusal::UnknownTeam(_) => ScanStatus::InvalidRequest,
        }
    }

    /// The wire answer of the refusal; `hops` as the caller will see them.
    fn response(&self, hops: Vec<String>) -> ScanResponse {
        let rejection = match self {
            ScanRefusal::Rejected(rejection) => wire_rejection(*rejection),
            _ => overlay::proto::Rejection::Unspecified,
        };
        ScanResponse {
            slices: Vec::new(),
            hops,
            scan_status: self.status().into(),
            rejection: rejection.into(),
            reason: self.to_string(),
        }
    }
}

/// An admission refusal on the peer wire.
fn wire_rejection(rejection: Rejection) -> overlay::proto::Rejection {
    match rejection {
        Rejection::AtLimit(_) => overlay::proto::Rejection::AtLimit,
        Rejection::QueueFull => overlay::proto::Rejection::QueueFull,
        Rejection::QueueTimeout => overlay::proto::Rejection::QueueTimeout,
    }
}

/// A node state on the peer wire.
fn wire_state(state: NodeState) -> PeerState {
    match state {
        NodeState::Healthy => PeerState::Healthy,
        NodeState::Warning => PeerState::Warning,
        NodeState::Critical => PeerState::Critical,
        NodeState::Failing => PeerState::Failing,
    }
}

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
fn check_hops(node: &Node, hops: &[String]) -> Result<(), ScanRefusal> {
    let processes = &node.config.processes;
    if hops.len() > processes.len() {
        return Err(ScanRefusal::BadHops(format!(
            "hops has {} entries; a path through this cluster has at most {}",
            hops.len(),
            processes.len()
        )));
    }
    match hops
        .iter()
        .find(|hop| !processes.contains_key(&NodeId((*hop).clone())))
    {
        Some(hop) => Err(ScanRefusal::BadHops(format!(
            "hops names '{}', which is not a process of this cluster",
            quote(hop)
        ))),
        None => Ok(()),
    }
}

/// The tasks of a Scan as this node will serve them: one per slice of the partition map (a
/// slice listed twice is served once), each with its limit capped as for clients and with the
/// map's holders — or those of them the caller named, when it named some (a hedge names only
/// the holder it is for, so that holder serves its copy instead of forwarding the slice back
/// to the slow owner). A caller can narrow the holders, never add one. Tasks naming no slice of
/// the map come back as errors.
fn checked_tasks(node: &Node, tasks: Vec<SliceTask>) -> (Vec<SliceTask>, Vec<SliceResult>) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for mut task in tasks {
        let Some(slice) = node.partition.slice_of(&task.owner) else {
            if refused.len() < node.partition.slices.len() {
                let owner = quote(&task.owner);
                let why = format!("'{owner}' owns no slice of the partition map");
                refused.push(failed(&owner, SliceErrorKind::UnknownSlice, why));
            }
            continue;
        };
        if !seen.insert(task.owner.clone()) {
            continue;
        }
        task.holders = narrowed_holders(&slice.holders, &task.holders);
        task.limit = task.limit.min(LIMIT_CAP);
        kept.push(task);
    }
    (kept, refused)
}

/// The map's `holders` the caller `named`, in map order; all of them when it named none of them.
fn narrowed_holders(holders: &[NodeId], named: &[String]) -> Vec<String> {
    let kept: Vec<String> = holders
        .iter()
        .filter(|h| named.contains(&h.0))
        .map(|h| h.0.clone())
        .collect();
    if kept.is_empty() {
        holders.iter().map(|h| h.0.clone()).collect()
    } else {
        kept
    }
}

#[tonic::async_trait]
impl OverlayPeer for PeerService {
    /// Serves the slice tasks. When the caller goes away first (it cancelled, lost a hedge or
    /// ran out of deadline) this future is dropped: the guard counts the call as abandoned and
    /// stops the scans still running for it, and the admission permit is released with it.
    async fn scan(&self, request: Request<ScanRequest>) -> Result<Response<ScanResponse>, Status> {
        let routing = self.node.routing.clone();
        let abandoned = CancelOnDrop::new(Cancel::default(), move || {
            routing.add(Counted::CallAbandoned, 1);
        });
        let traced = trace::decide(request.metadata());
        let reply = trace::scoped(traced, async move {
            let span = trace::span!("peer_scan");
            trace::adopt(&span, request.metadata());
            self.serve_scan(request.into_inner()).instrument(span).await
        })
        .await;
        abandoned.finish();
        reply.map(Response::new)
    }

    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        let request = request.into_inner();
        self.node
            .faults
            .on_answer(Traffic::Peer(&request.from))
            .await?;
        Ok(Response::new(PingResponse {
            node: self.node.id().0.clone(),
            node_state: wire_state(self.node.state.state()).into(),
        }))
    }
}

/// A checked Scan: what to serve, for whom, until when.
struct Checked {
    query: Query,
    team: String,
    deadline: Duration,
}

impl PeerService {
    async fn serve_scan(&self, request: ScanRequest) -> Result<ScanResponse, Status> {
        let started = Instant::now();
        let node = &self.node;
        let caller = request.hops.last().map(String::as_str).unwrap_or_default();
        node.faults.on_answer(Traffic::Peer(caller)).await?;
        let ScanRequest {
            query,
            mut hops,
            slices,
            team,
            deadline_ms,
        } = request;
        if let Err(refusal) = check_hops(node, &hops) {
            return Ok(refusal.response(Vec::new()));
        }
        let checked = match self.check(&hops, query, &team, deadline_ms) {
            Ok(checked) => checked,
            Err(refusal) => return Ok(refusal.response(hops)),
        };
        let mut permit = match self.admit(&checked).await {
            Ok(permit) => permit,
            Err(refusal) => return Ok(refusal.response(hops)),
        };
        hops.push(node.id().0.clone());
        let slices = self.serve(checked, &hops, slices).await;
        node.times.record(started.elapsed());
        permit.mark_succeeded();
        Ok(ScanResponse {
            slices,
            hops,
            scan_status: ScanStatus::Ok.into(),
            ..Default::default()
        })
    }

    /// Checks the path, the query and the team of a Scan.
    fn check(
        &self,
        hops: &[String],
        query: Option<overlay::proto::PeerQuery>,
        team: &str,
        deadline_ms: u32,
    ) -> Result<Checked, ScanRefusal> {
        let node = &self.node;
        if hops.iter().any(|hop| hop == &node.id().0) {
            return Err(ScanRefusal::Loop);
        }
        let query = Query::try_from(query.ok_or(ScanRefusal::NoQuery)?)?;
        let team = node.team_of(Some(team))?.to_string();
        let deadline = match deadline_ms {
            0 => DEFAULT_DEADLINE,
            ms => Duration::from_millis(u64::from(ms)),
        };
        Ok(Checked {
            query,
            team,
            deadline,
        })
    }

    /// Admits the Scan under its team; a queued slice task never waits past the caller's
    /// deadline.
    async fn admit(&self, checked: &Checked) -> Result<Permit, ScanRefusal> {
        let admission = &self.node.admission;
        let wait_limit = checked.deadline.min(admission.limits().queue_timeout);
        let admitting = admission.admit(&checked.team, Some(wait_limit));
        Ok(admitting.instrument(trace::span!("admission")).await?)
    }

    /// Serves the checked tasks; tasks naming no slice come back refused.
    async fn serve(
        &self,
        checked: Checked,
        hops: &[String],
        tasks: Vec<SliceTask>,
    ) -> Vec<SliceResult> {
        let node = &self.node;
        let give_up_at = Instant::now() + checked.deadline;
        let route = RouteContext {
            team: node.forwarding_team(&checked.team).to_string(),
            wire_query: Arc::new((&checked.query).into()),
            query: Arc::new(checked.query),
            hops: hops.to_vec(),
            deadline: give_up_at,
        };
        let (tasks, mut refused) = checked_tasks(node, tasks);
        let mut slices = serve_tasks(&node.query_context(), &route, tasks).await;
        slices.append(&mut refused);
        slices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::RejectReason;

    #[test]
    fn every_refusal_has_one_wire_status() {
        let rejected = ScanRefusal::Rejected(Rejection::QueueFull).response(vec!["A".into()]);
        assert_eq!(rejected.scan_status, ScanStatus::Rejected as i32);
        assert_eq!(
            rejected.rejection,
            overlay::proto::Rejection::QueueFull as i32
        );
        assert_eq!(rejected.hops, ["A"]);
        assert_eq!(
            ScanRefusal::Rejected(Rejection::AtLimit(RejectReason::TeamLimit)).status(),
            ScanStatus::Rejected
        );
        assert_eq!(ScanRefusal::Loop.status(), ScanStatus::LoopDetected);
        let bad = ScanRefusal::BadHops("hops names 'X'".into()).response(Vec::new());
        assert_eq!(bad.scan_status, ScanStatus::InvalidRequest as i32);
        assert!(bad.reason.contains("hops names"));
        assert_eq!(ScanRefusal::NoQuery.status(), ScanStatus::InvalidRequest);
    }

    #[test]
    fn a_caller_may_narrow_a_slices_holders_but_never_add_one() {
        let map = [NodeId("D".into()), NodeId("F".into())];
        let named = |names: &[&str]| -> Vec<String> {
            narrowed_holders(
                &map,
                &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(named(&["F"]), ["F"]);
        assert_eq!(named(&["F", "D"]), ["D", "F"], "map order");
        assert_eq!(named(&["F", "Z"]), ["F"], "a non-holder is dropped");
        assert_eq!(named(&[]), ["D", "F"]);
        assert_eq!(named(&["Z"]), ["D", "F"]);
    }

    #[test]
    fn node_states_map_one_to_one() {
        let states: Vec<PeerState> = NodeState::ALL.into_iter().map(wire_state).collect();
        assert_eq!(
            states,
            [
                PeerState::Healthy,
                PeerState::Warning,
                PeerState::Critical,
                PeerState::Failing
            ]
        );
    }
}
