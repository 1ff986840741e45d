//! Serving a list of slice tasks from any node: local slices here, the others forwarded toward
//! a holder, with failover.
//!
//! Routing follows the tree: a task for a slice held below this node goes to the child on the
//! path to the holder; a task for a slice elsewhere goes straight to the holder (every address
//! is in the config). A slice is served by its owner; a node holding a copy serves it itself
//! only when the owner is down or no peer could be reached. Only peers that peer health calls
//! usable are asked: a failed team leader is passed over straight to its members, a failed
//! holder to the slice's next replica. When a call fails anyway, that counts as evidence
//! against the peer, the peer is excluded for the rest of the query and the affected tasks are
//! routed again after a short backoff with jitter — until every task is served or has no live
//! holder left. A call to a peer that hangs is given up as soon as the health checker declares
//! the peer failed. A slice without any live holder comes back with its `error` set, never
//! silently dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use overlay::config::{ClusterConfig, NodeId};
use overlay::proto::{ScanRequest, SliceResult, SliceTask};
use overlay::query::Query;

use tokio::sync::watch;

use super::counters::Counted;
use super::hedging::hedged_call;
use super::local::serve_local_cancellable;
use super::slice_error;
use crate::health::peers::Evidence;
use crate::node::Node;

/// One query's context as it is routed.
#[derive(Clone, Debug)]
pub struct RouteContext {
    /// The parsed query.
    pub query: Arc<Query>,
    /// The query in its canonical JSON form, as sent to peers.
    pub query_json: Arc<str>,
    /// The path so far, this node included.
    pub hops: Vec<String>,
    /// The team the work is forwarded with, i.e. admitted under by the next node (see
    /// [`Node::forwarding_team`]).
    pub team: String,
    /// When the whole query gives up.
    pub deadline: Instant,
}

/// Serves every task, locally or through peers; returns one result per task.
pub async fn serve_tasks(
    node: &Arc<Node>,
    ctx: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let (local, remote): (Vec<SliceTask>, Vec<SliceTask>) =
        tasks.into_iter().partition(|task| serves_here(node, task));
    let (mut results, remote_results) = tokio::join!(
        serve_here(node, ctx, local),
        serve_remote(node, ctx, remote)
    );
    results.extend(remote_results);
    results
}

/// Whether this node serves a task itself: it owns the slice, or it holds a copy and the
/// owner is down. Otherwise the owner serves it (workers do the work even where a relay or
/// the coordinator holds a replica), and replicas step in only when it fails.
fn serves_here(node: &Node, task: &SliceTask) -> bool {
    let me = node.id().as_str();
    if task.owner == me {
        return true;
    }
    let owner = NodeId(task.owner.clone());
    let holds_copy = task.holders.iter().any(|h| h == me);
    if holds_copy && !node.peer_health.is_available(&owner) {
        node.routing.add(Counted::Failover, 1);
        node.peer_health.note_routed_around(&owner, node.id());
        return true;
    }
    // An ejected (slow, not failed) owner is passed by too, without counting a failover.
    holds_copy && node.tail.is_ejected(&owner)
}

/// Serves tasks from this node's own table.
async fn serve_here(
    node: &Arc<Node>,
    ctx: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    if tasks.is_empty() {
        Vec::new()
    } else {
        serve_local_cancellable(node.clone(), ctx.query.clone(), tasks).await
    }
}

async fn serve_remote(
    node: &Arc<Node>,
    ctx: &RouteContext,
    mut pending: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let mut results = Vec::new();
    let on_path: HashSet<NodeId> = ctx.hops.iter().map(|h| NodeId(h.clone())).collect();
    let mut failed_in_query: HashSet<NodeId> = HashSet::new();
    let mut last_error: BTreeMap<String, String> = BTreeMap::new();
    let mut served_here = Vec::new();
    let mut attempt = 0u32;
    while !pending.is_empty() {
        if Instant::now() >= ctx.deadline {
            // Nothing more can be asked in time: the rest is unserved, not retried.
            node.routing.add(Counted::Unserved, pending.len() as u64);
            results.extend(
                pending
                    .drain(..)
                    .map(|task| unserved(&task, "query deadline passed".to_string())),
            );
            break;
        }
        if attempt > 0 {
            node.routing.add(Counted::Retry, pending.len() as u64);
            let pause = node.retry_backoff.delay_random(attempt - 1);
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(pause.min(left)).await;
        }
        attempt += 1;
        // Each peer is judged once per round: asking `usable` claims a half-open breaker's
        // single trial, and every task of the round for that peer goes in the one call.
        let mut judged: HashMap<NodeId, bool> = HashMap::new();
        let mut blocked = |peer: &NodeId| {
            *judged.entry(peer.clone()).or_insert_with(|| {
                on_path.contains(peer)
                    || failed_in_query.contains(peer)
                    || !node.peer_health.usable(peer)
            })
        };
        let mut by_hop: BTreeMap<NodeId, Vec<SliceTask>> = BTreeMap::new();
        for task in pending.drain(..) {
            // Ejected peers (latency outliers) are passed by while another way exists.
            let choice = next_hop(&node.config, node.id(), &task, &mut |peer| {
                blocked(peer) || node.tail.is_ejected(peer)
            })
            .or_else(|| next_hop(&node.config, node.id(), &task, &mut blocked));
            match choice {
                Some(choice) => {
                    let failed_over = choice
                        .avoided
                        .iter()
                        .find(|a| !on_path.contains(a) && !node.tail.is_ejected(a));
                    if let Some(avoided) = failed_over {
                        node.routing.add(Counted::Failover, 1);
                        node.peer_health.note_routed_around(avoided, &choice.hop);
                    }
                    by_hop.entry(choice.hop).or_default().push(task);
                }
                // No peer left, but this node holds a copy: it serves the slice itself.
                None if task.holders.iter().any(|h| h == node.id().as_str()) => {
                    node.routing.add(Counted::Failover, 1);
                    node.peer_health
                        .note_routed_around(&NodeId(task.owner.clone()), node.id());
                    served_here.push(task);
                }
                None => {
                    node.routing.add(Counted::Unserved, 1);
                    let why = last_error
                        .remove(&task.owner)
                        .unwrap_or_else(|| "no live holder".to_string());
                    results.push(unserved(&task, why));
                }
            }
        }
        // A hedge goes to a holder not excluded for this query, up as far as this node knows.
        let excluded: HashSet<NodeId> = on_path.union(&failed_in_query).cloned().collect();
        let avoid = |peer: &NodeId| {
            excluded.contains(peer)
                || !node.peer_health.is_available(peer)
                || node.tail.is_ejected(peer)
        };
        let calls = by_hop.into_iter().map(|(hop, tasks)| {
            let avoid = &avoid;
            async move {
                let raced = hedged_call(node, ctx, &hop, &tasks, avoid).await;
                (hop, tasks, raced)
            }
        });
        for (hop, tasks, raced) in join_all(calls).await {
            for result in raced.served {
                match task_to_take_back(node, &tasks, &result) {
                    Some(task) => {
                        node.routing.add(Counted::Failover, 1);
                        served_here.push(task);
                    }
                    None => results.push(result),
                }
            }
            if let Some((why, failed)) = raced.failed {
                tracing::warn!(peer = %hop, error = %why, "[Router] {} forward to {hop} failed", node.id());
                failed_in_query.insert(hop);
                for task in &failed {
                    last_error.insert(task.owner.clone(), why.clone());
                }
                pending.extend(failed);
            }
        }
    }
    results.extend(serve_here(node, ctx, served_here).await);
    results
}

/// A slice the peer could not serve (its holders are down or unreachable from there, say a
/// relay that cannot reach the owner while the copy is on this node, which it must not call
/// back) that this node holds a copy of: it serves the slice itself.
fn task_to_take_back(node: &Node, tasks: &[SliceTask], result: &SliceResult) -> Option<SliceTask> {
    if result.error.is_empty() || result.error.starts_with(slice_error::REJECTED) {
        return None;
    }
    tasks
        .iter()
        .find(|t| t.owner == result.owner && t.holders.iter().any(|h| h == node.id().as_str()))
        .cloned()
}

fn unserved(task: &SliceTask, why: String) -> SliceResult {
    SliceResult {
        owner: task.owner.clone(),
        error: why,
        ..Default::default()
    }
}

/// Where a task goes next, and which nodes on the normal way were passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopChoice {
    /// The peer to call.
    pub hop: NodeId,
    /// Holders and relays skipped because `blocked` said so, in the order met.
    pub avoided: Vec<NodeId>,
}

/// The peer to send a task to. Holders are tried in preference order; each is reached
/// through this node's child on the path to it when it lies below this node, else directly.
/// The first node on that way (relay or holder) that is not blocked takes the task: a
/// blocked relay is skipped toward the holder, and a holder this node cannot reach itself
/// (down, or partitioned from this node only) is still asked through a relay that can.
/// `None` when every way to every holder is blocked. `me` is the deciding node.
pub fn next_hop(
    config: &ClusterConfig,
    me: &NodeId,
    task: &SliceTask,
    blocked: &mut dyn FnMut(&NodeId) -> bool,
) -> Option<HopChoice> {
    let mut avoided = Vec::new();
    for holder in task.holders.iter().map(|h| NodeId(h.clone())) {
        if &holder == me {
            continue;
        }
        for hop in path_from(config, me, &holder) {
            if !blocked(&hop) {
                return Some(HopChoice { hop, avoided });
            }
            avoided.push(hop);
        }
    }
    None
}

/// The nodes from just below this node down to `target`, when `target` lies below this node;
/// otherwise just `target`.
pub(super) fn path_from(config: &ClusterConfig, me: &NodeId, target: &NodeId) -> Vec<NodeId> {
    let mut chain = vec![target.clone()];
    let mut current = target.clone();
    while let Some(parent) = config.parent_of(&current) {
        if &parent.id == me {
            chain.reverse();
            return chain;
        }
        if chain.len() > config.processes.len() {
            break;
        }
        chain.push(parent.id.clone());
        current = parent.id.clone();
    }
    vec![target.clone()]
}

/// One Scan call to `hop` for `tasks`, given up when the health checker declares the peer
/// failed meanwhile.
pub(super) async fn call_peer(
    node: &Arc<Node>,
    ctx: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
) -> Result<Vec<SliceResult>, String> {
    let health = &node.peer_health;
    if let Some(why) = node.faults.refuses_call_to(hop) {
        health.record_failure(hop, Evidence::Call, &why);
        return Err(why);
    }
    let mut client = node
        .peers
        .client(hop)
        .ok_or_else(|| format!("{hop} is not in the config"))?;
    let remaining = ctx.deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err("query deadline passed".to_string());
    }
    let mut request = tonic::Request::new(ScanRequest {
        query_json: ctx.query_json.to_string(),
        hops: ctx.hops.clone(),
        slices: tasks.to_vec(),
        team: ctx.team.clone(),
        deadline_ms: remaining.as_millis().min(u128::from(u32::MAX)) as u32,
    });
    request.set_timeout(remaining);
    node.routing.add(Counted::PeerCall, 1);
    let mut declared_failed = health.failure_signal(hop);
    let outcome = tokio::select! {
        outcome = client.scan(request) => outcome,
        // A hung peer is given up as soon as the health checker declares it failed.
        Some(()) = wait_changed(&mut declared_failed) => {
            node.routing.add(Counted::PeerCallFailure, 1);
            return Err(format!("{hop} was declared failed during the call"));
        }
    };
    let response = match outcome {
        Ok(response) => {
            health.record_success(hop, Evidence::Call, None);
            response.into_inner()
        }
        Err(status) => {
            node.routing.add(Counted::PeerCallFailure, 1);
            let why = format!("{hop}: {}", status.message());
            if is_peer_failure(&status) {
                health.record_failure(hop, Evidence::Call, &why);
            }
            return Err(why);
        }
    };
    match response.status.as_str() {
        "ok" => Ok(response.slices),
        status if status.starts_with(slice_error::REJECTED) => Ok(tasks
            .iter()
            .map(|task| unserved(task, format!("{}: {hop} {status}", slice_error::REJECTED)))
            .collect()),
        other => Err(format!("{hop} answered {other}")),
    }
}

/// Resolves when the watched value changes; never when there is nothing to watch.
pub(super) async fn wait_changed(receiver: &mut Option<watch::Receiver<u64>>) -> Option<()> {
    match receiver {
        Some(receiver) => receiver.changed().await.ok(),
        None => std::future::pending().await,
    }
}

/// Whether a failed call says something about the peer (it is down, refuses or broke the
/// connection), as opposed to the query (its deadline passed) or our own cancellation.
fn is_peer_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClusterConfig {
        ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json")).unwrap()
    }

    fn task(holders: &[&str]) -> SliceTask {
        SliceTask {
            owner: holders[0].to_string(),
            holders: holders.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        }
    }

    /// The hop A picks for a task, and what it passed over, with `down` blocked.
    fn from_a(holders: &[&str], down: &[&str]) -> Option<(String, Vec<String>)> {
        let mut blocked = |peer: &NodeId| down.contains(&peer.as_str());
        next_hop(&config(), &NodeId("A".into()), &task(holders), &mut blocked).map(|c| {
            (
                c.hop.0,
                c.avoided.into_iter().map(|n| n.0).collect::<Vec<_>>(),
            )
        })
    }

    fn hop(hop: &str, avoided: &[&str]) -> Option<(String, Vec<String>)> {
        Some((
            hop.to_string(),
            avoided.iter().map(|a| a.to_string()).collect(),
        ))
    }

    #[test]
    fn tasks_go_down_the_tree_to_their_owner() {
        assert_eq!(from_a(&["D", "F"], &[]), hop("E", &[]));
        assert_eq!(from_a(&["C", "A"], &[]), hop("B", &[]));
    }

    #[test]
    fn a_down_team_leader_is_passed_over_straight_to_the_holder() {
        assert_eq!(from_a(&["D", "F"], &["E"]), hop("D", &["E"]));
    }

    #[test]
    fn a_down_owner_is_still_asked_through_a_live_relay_then_replicas_take_over() {
        // A cannot reach D itself, but E may: the relay decides.
        assert_eq!(from_a(&["D", "F"], &["D"]), hop("E", &[]));
        // With the relay down too, F is reached directly.
        assert_eq!(from_a(&["D", "F"], &["D", "E"]), hop("F", &["E", "D", "E"]));
    }

    #[test]
    fn this_node_is_never_its_own_hop_and_all_blocked_means_none() {
        assert_eq!(from_a(&["A"], &[]), None);
        assert_eq!(from_a(&["C", "A"], &["B", "C"]), None);
    }
}
