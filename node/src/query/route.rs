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
use overlay::proto::{PeerQuery, SliceErrorKind, SliceResult, SliceTask};
use overlay::query::Query;

use super::context::QueryContext;
use super::counters::Counted;
use super::failure::{failed, failure_kind};
use super::hedge::Raced;
use super::hedging::hedged_call;
use super::local::serve_local_cancellable;

/// One query's route as it is served: what is asked, by whom, and until when.
#[derive(Clone, Debug)]
pub struct RouteContext {
    /// The parsed query.
    pub query: Arc<Query>,
    /// The query as sent to peers, encoded once per query.
    pub wire_query: Arc<PeerQuery>,
    /// The path so far, this node included.
    pub hops: Vec<String>,
    /// The team the work is forwarded with, i.e. admitted under by the next node (see
    /// `Node::forwarding_team`).
    pub team: String,
    /// When the whole query gives up.
    pub deadline: Instant,
}

/// Serves every task, locally or through peers; returns one result per task.
pub async fn serve_tasks(
    cx: &QueryContext,
    route: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let (local, remote): (Vec<SliceTask>, Vec<SliceTask>) =
        tasks.into_iter().partition(|task| serves_here(cx, task));
    let (mut results, remote_results) = tokio::join!(
        serve_here(cx, route, local),
        serve_remote(cx, route, remote)
    );
    results.extend(remote_results);
    results
}

/// Whether this node serves a task itself: it owns the slice, it is the first holder the
/// caller named (a hedge, or a caller routing around the owner, leaves the owner and the
/// holders it passed over out), or it holds a copy and the owner is down. Otherwise the owner serves it (workers do the work even where a relay or
/// the coordinator holds a replica), and replicas step in only when it fails.
fn serves_here(cx: &QueryContext, task: &SliceTask) -> bool {
    let me = cx.id.as_str();
    if task.owner == me || task.holders.first().is_some_and(|h| h == me) {
        return true;
    }
    let owner = NodeId(task.owner.clone());
    let holds_copy = task.holders.iter().any(|h| h == me);
    if holds_copy && !cx.peer_health.is_available(&owner) {
        cx.routing.add(Counted::Failover, 1);
        cx.peer_health.note_routed_around(&owner, &cx.id);
        return true;
    }
    // An ejected (slow, not failed) owner is passed by too, without counting a failover.
    holds_copy && cx.tail.is_ejected(&owner)
}

/// Serves tasks from this node's own table.
async fn serve_here(
    cx: &QueryContext,
    route: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    if tasks.is_empty() {
        Vec::new()
    } else {
        serve_local_cancellable(cx.clone(), route, tasks).await
    }
}

/// What the rounds of one `serve_remote` have learnt so far.
#[derive(Default)]
struct Rounds {
    /// Results final for this node (served, or unserved with a reason).
    results: Vec<SliceResult>,
    /// Peers a call failed to in this query: not asked again.
    failed_in_query: HashSet<NodeId>,
    /// The latest call error per slice owner, the reason given when the slice stays unserved.
    last_error: BTreeMap<String, String>,
    /// Tasks this node ends up serving from its own copy.
    served_here: Vec<SliceTask>,
}

/// Serves tasks through peers, round after round: plan where each task goes, call every
/// hop at once, settle the answers; tasks of failed calls go into the next round.
async fn serve_remote(
    cx: &QueryContext,
    route: &RouteContext,
    mut pending: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let on_path: HashSet<NodeId> = route.hops.iter().map(|h| NodeId(h.clone())).collect();
    let mut rounds = Rounds::default();
    let mut attempt = 0u32;
    while !pending.is_empty() {
        if Instant::now() >= route.deadline {
            // Nothing more can be asked in time: the rest is unserved, not retried.
            cx.routing.add(Counted::Unserved, pending.len() as u64);
            rounds.results.extend(pending.drain(..).map(|task| {
                failed(
                    &task.owner,
                    SliceErrorKind::Unserved,
                    "query deadline passed",
                )
            }));
            break;
        }
        if attempt > 0 {
            back_off(cx, route, attempt, pending.len()).await;
        }
        attempt += 1;
        let by_hop = plan_round(cx, &on_path, &mut rounds, std::mem::take(&mut pending));
        let excluded: HashSet<NodeId> = on_path.union(&rounds.failed_in_query).cloned().collect();
        let calls = call_round(cx, route, &excluded, by_hop).await;
        pending = settle_round(cx, &mut rounds, calls);
    }
    let Rounds {
        mut results,
        served_here,
        ..
    } = rounds;
    results.extend(serve_here(cx, route, served_here).await);
    results
}

/// Waits before round `attempt` (counting its tasks as retries), never past the deadline.
async fn back_off(cx: &QueryContext, route: &RouteContext, attempt: u32, tasks: usize) {
    cx.routing.add(Counted::Retry, tasks as u64);
    let pause = cx.retry_backoff.delay_random(attempt - 1);
    let left = route.deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(pause.min(left)).await;
}

/// Picks the hop of every pending task. A task with no usable way is served from this node's
/// copy when it holds one, else it is final as unserved.
fn plan_round(
    cx: &QueryContext,
    on_path: &HashSet<NodeId>,
    rounds: &mut Rounds,
    pending: Vec<SliceTask>,
) -> BTreeMap<NodeId, Vec<SliceTask>> {
    // Each peer is judged once per round: asking `usable` claims a half-open breaker's
    // single trial, and every task of the round for that peer goes in the one call.
    let mut judged: HashMap<NodeId, bool> = HashMap::new();
    let failed_in_query = &rounds.failed_in_query;
    let mut blocked = |peer: &NodeId| {
        *judged.entry(peer.clone()).or_insert_with(|| {
            on_path.contains(peer) || failed_in_query.contains(peer) || !cx.peer_health.usable(peer)
        })
    };
    let mut by_hop: BTreeMap<NodeId, Vec<SliceTask>> = BTreeMap::new();
    let mut homeless = Vec::new();
    for task in pending {
        // Ejected peers (latency outliers) are passed by while another way exists.
        let choice = next_hop(&cx.config, &cx.id, &task, &mut |peer| {
            blocked(peer) || cx.tail.is_ejected(peer)
        })
        .or_else(|| next_hop(&cx.config, &cx.id, &task, &mut blocked));
        let Some(choice) = choice else {
            homeless.push(task);
            continue;
        };
        let failed_over = choice
            .avoided
            .iter()
            .find(|a| !on_path.contains(a) && !cx.tail.is_ejected(a));
        if let Some(avoided) = failed_over {
            cx.routing.add(Counted::Failover, 1);
            cx.peer_health.note_routed_around(avoided, &choice.hop);
        }
        by_hop
            .entry(choice.hop)
            .or_default()
            .push(past_avoided_holders(task, choice.holder));
    }
    for task in homeless {
        place_without_peer(cx, rounds, task);
    }
    by_hop
}

/// The task as sent when routed to its holder at `holder` (an index into its holders): the
/// holders this node passed over (failed or ejected here) are left out, so the replica serves
/// its copy rather than forwarding the slice back to an owner it may not know to be down or
/// slow.
fn past_avoided_holders(mut task: SliceTask, holder: usize) -> SliceTask {
    if holder > 0 && holder < task.holders.len() {
        task.holders.drain(..holder);
    }
    task
}

/// A task no peer can take: this node serves its copy when it holds one, else the task is
/// unserved with the latest reason known for it.
fn place_without_peer(cx: &QueryContext, rounds: &mut Rounds, task: SliceTask) {
    if task.holders.iter().any(|h| h == cx.id.as_str()) {
        cx.routing.add(Counted::Failover, 1);
        cx.peer_health
            .note_routed_around(&NodeId(task.owner.clone()), &cx.id);
        rounds.served_here.push(task);
        return;
    }
    cx.routing.add(Counted::Unserved, 1);
    let why = rounds
        .last_error
        .remove(&task.owner)
        .unwrap_or_else(|| "no live holder".to_string());
    rounds
        .results
        .push(failed(&task.owner, SliceErrorKind::Unserved, why));
}

/// Calls every hop of the round at once, each call hedged when slow. A hedge goes to a holder
/// not `excluded` for this query, up as far as this node knows.
async fn call_round(
    cx: &QueryContext,
    route: &RouteContext,
    excluded: &HashSet<NodeId>,
    by_hop: BTreeMap<NodeId, Vec<SliceTask>>,
) -> Vec<(NodeId, Vec<SliceTask>, Raced)> {
    let avoid = |peer: &NodeId| {
        excluded.contains(peer) || !cx.peer_health.is_available(peer) || cx.tail.is_ejected(peer)
    };
    let calls = by_hop.into_iter().map(|(hop, tasks)| {
        let avoid = &avoid;
        async move {
            let raced = hedged_call(cx, route, &hop, &tasks, avoid).await;
            (hop, tasks, raced)
        }
    });
    join_all(calls).await
}

/// Takes the answers of a round: served slices are final, slices a peer could not serve but
/// this node holds are taken back, and the tasks of failed calls are returned for the next
/// round (their hop excluded from now on).
fn settle_round(
    cx: &QueryContext,
    rounds: &mut Rounds,
    calls: Vec<(NodeId, Vec<SliceTask>, Raced)>,
) -> Vec<SliceTask> {
    let mut again = Vec::new();
    for (hop, tasks, raced) in calls {
        for result in raced.served {
            match task_to_take_back(&cx.id, &tasks, &result) {
                Some(task) => {
                    cx.routing.add(Counted::Failover, 1);
                    rounds.served_here.push(task);
                }
                None => rounds.results.push(result),
            }
        }
        if let Some((why, failed)) = raced.failed {
            let why = why.to_string();
            tracing::warn!(peer = %hop, error = %why, "[Router] {} forward to {hop} failed", cx.id);
            rounds.failed_in_query.insert(hop);
            for task in &failed {
                rounds.last_error.insert(task.owner.clone(), why.clone());
            }
            again.extend(failed);
        }
    }
    again
}

/// A slice the peer could not serve (its holders are down or unreachable from there, say a
/// relay that cannot reach the owner while the copy is on this node, which it must not call
/// back) that this node holds a copy of: it serves the slice itself. A slice refused by
/// admission control stays refused.
fn task_to_take_back(me: &NodeId, tasks: &[SliceTask], result: &SliceResult) -> Option<SliceTask> {
    match failure_kind(result) {
        None | Some(SliceErrorKind::Rejected) => return None,
        Some(_) => {}
    }
    tasks
        .iter()
        .find(|t| t.owner == result.owner && t.holders.iter().any(|h| h == me.as_str()))
        .cloned()
}

/// Where a task goes next, and which nodes on the normal way were passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopChoice {
    /// The peer to call.
    pub hop: NodeId,
    /// Holders and relays skipped because `blocked` said so, in the order met.
    pub avoided: Vec<NodeId>,
    /// The index, among the task's holders, of the holder the hop leads to.
    pub holder: usize,
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
    for (index, holder) in task.holders.iter().map(|h| NodeId(h.clone())).enumerate() {
        if &holder == me {
            continue;
        }
        for hop in path_from(config, me, &holder) {
            if !blocked(&hop) {
                return Some(HopChoice {
                    hop,
                    avoided,
                    holder: index,
                });
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
    fn a_slice_a_peer_could_not_serve_is_taken_back_unless_admission_refused_it() {
        let me = NodeId("A".into());
        let tasks = [task(&["C", "A"]), task(&["D", "F"])];
        let unserved = failed("C", SliceErrorKind::Unserved, "no live holder");
        assert_eq!(
            task_to_take_back(&me, &tasks, &unserved).map(|t| t.owner),
            Some("C".to_string())
        );
        let rejected = failed("C", SliceErrorKind::Rejected, "B is full");
        assert_eq!(task_to_take_back(&me, &tasks, &rejected), None);
        let elsewhere = failed("D", SliceErrorKind::Unserved, "no live holder");
        assert_eq!(task_to_take_back(&me, &tasks, &elsewhere), None);
        let served = SliceResult {
            owner: "C".into(),
            ..Default::default()
        };
        assert_eq!(task_to_take_back(&me, &tasks, &served), None);
    }

    #[test]
    fn a_task_routed_past_its_owner_names_only_the_holders_left() {
        let mut blocked = |peer: &NodeId| peer.as_str() == "D";
        let me = NodeId("E".into());
        let choice = next_hop(&config(), &me, &task(&["D", "F"]), &mut blocked).unwrap();
        assert_eq!((choice.hop.as_str(), choice.holder), ("F", 1));
        let sent = past_avoided_holders(task(&["D", "F"]), choice.holder);
        assert_eq!(
            (sent.owner.as_str(), sent.holders),
            ("D", vec!["F".to_string()])
        );
        let direct = past_avoided_holders(task(&["D", "F"]), 0);
        assert_eq!(direct.holders, ["D", "F"]);
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
