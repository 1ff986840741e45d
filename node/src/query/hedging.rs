//! The router's hedged call: which other way each slice of a slow call can take, what the
//! hedge costs from the budget, and what the race teaches about each peer's answer times.
//!
//! A call is hedged only when every one of its slices has another way — a further holder not
//! reached through the same first hop, or this node's own copy — so that the first call can be
//! cancelled once the hedges have answered. A relay's call carrying its own slice (which only
//! it holds on that way) is therefore never hedged here; the relay hedges its own calls to the
//! holders below it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use overlay::config::{ClusterConfig, NodeId};
use overlay::proto::{SliceResult, SliceTask};
use tokio::time::Instant;

use super::context::QueryContext;
use super::counters::Counted;
use super::hedge::{race, HedgeLeg, LegFuture, Raced, Target};
use super::local::serve_local_cancellable;
use super::peer_call::{call_peer, wait_changed, CallError};
use super::route::{path_from, RouteContext};

/// Calls `hop` for `tasks`, hedging when it is slow; `avoid` says which peers a hedge must not
/// go to.
pub async fn hedged_call<'a>(
    cx: &'a QueryContext,
    route: &'a RouteContext,
    hop: &'a NodeId,
    tasks: &'a [SliceTask],
    avoid: &'a (dyn Fn(&NodeId) -> bool + Sync),
) -> Raced {
    let tail = &cx.tail;
    tail.on_call();
    let hedgeable = tail.enabled()
        && tasks
            .iter()
            .all(|t| alternative(&cx.config, &cx.id, t, hop, avoid).is_some());
    let hedged = Arc::new(AtomicBool::new(false));
    let primary: LegFuture<'a> = if hedgeable {
        Box::pin(watched_call(cx, route, hop, tasks, hedged.clone()))
    } else {
        Box::pin(call_peer(cx, route, hop, tasks))
    };
    let delay = tail.hedge_delay(hop);
    let raced = race(tasks, primary, delay, || {
        let legs = plan_hedges(cx, route, hop, tasks, avoid);
        hedged.store(!legs.is_empty(), Ordering::Relaxed);
        legs
    })
    .await;
    if let Some(took) = raced.primary_took {
        tail.record_answer(hop, took);
    }
    // Losing to this node's own copy says little (a local scan beats any network call): only
    // a race lost to another peer counts toward ejection.
    if raced.primary_lost && raced.beaten_by_peer {
        tail.record_lost_hedge(hop);
    }
    for (peer, took) in &raced.hedge_answers {
        tail.record_answer(peer, *took);
    }
    let routing = &cx.routing;
    routing.add(Counted::HedgeSent, u64::from(raced.hedges_sent));
    routing.add(Counted::HedgeWon, u64::from(raced.hedges_won));
    routing.add(Counted::CallCancelled, u64::from(raced.cancelled));
    if raced.hedges_won > 0 {
        tracing::debug!(
            "[Router] {} hedged a slow call to {hop}: the hedge answered first",
            cx.id
        );
    }
    raced
}

/// How many hedge caps an unhedged call may run before it counts as late: a scheduling stall
/// of a busy machine should not eject a peer, a hang should.
const LATE_CAPS: u32 = 2;

/// A call that could be hedged: reported late when it overruns [`LATE_CAPS`] hedge caps
/// unhedged (the budget was spent), and given up as soon as the peer is ejected, so its slices go to the
/// next holder in the router's next round instead of waiting for the health checker.
async fn watched_call(
    cx: &QueryContext,
    route: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
    hedged: Arc<AtomicBool>,
) -> Result<Vec<SliceResult>, CallError> {
    let mut ejected = cx.tail.ejection_signal(hop);
    let started = Instant::now();
    let late = async {
        tokio::time::sleep(cx.tail.delay_cap() * LATE_CAPS).await;
        if !hedged.load(Ordering::Relaxed) {
            cx.tail.record_late(hop, started.elapsed());
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        outcome = call_peer(cx, route, hop, tasks) => outcome,
        Some(()) = wait_changed(&mut ejected) => Err(CallError::Ejected(hop.clone())),
        () = late => Err(CallError::NeverAnswered(hop.clone())),
    }
}

/// The hedge legs for a slow call: one per other way, when every slice has one and the budget
/// pays for them; otherwise none.
fn plan_hedges<'a>(
    cx: &'a QueryContext,
    route: &'a RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
    avoid: &(dyn Fn(&NodeId) -> bool + Sync),
) -> Vec<HedgeLeg<'a>> {
    let mut by_target: BTreeMap<Target, Vec<SliceTask>> = BTreeMap::new();
    for task in tasks {
        match alternative(&cx.config, &cx.id, task, hop, avoid) {
            Some(target) => {
                let hedged = for_holder(cx, task, &target, hop);
                by_target.entry(target).or_default().push(hedged);
            }
            None => return Vec::new(),
        }
    }
    if by_target.is_empty() || !cx.tail.try_hedge(by_target.len() as u32) {
        return Vec::new();
    }
    by_target
        .into_iter()
        .map(|(target, tasks)| {
            let call: LegFuture<'a> = match &target {
                Target::Peer(peer) => {
                    cx.tail.on_call();
                    let (peer, tasks) = (peer.clone(), tasks.clone());
                    Box::pin(async move { call_peer(cx, route, &peer, &tasks).await })
                }
                Target::Local => {
                    let (cx, query, tasks) = (cx.clone(), route.query.clone(), tasks.clone());
                    Box::pin(async move { Ok(serve_local_cancellable(cx, query, tasks).await) })
                }
            };
            HedgeLeg {
                target,
                tasks,
                call,
            }
        })
        .collect()
}

/// The task as the hedge sends it: naming only the holder the hedge is meant for, so that
/// holder serves its copy itself rather than forwarding it back to the slow owner (which it may
/// not know to be slow).
fn for_holder(cx: &QueryContext, task: &SliceTask, target: &Target, hop: &NodeId) -> SliceTask {
    let Target::Peer(way) = target else {
        return task.clone();
    };
    let holder = task.holders.iter().find(|h| {
        let h = NodeId((*h).clone());
        h != cx.id && {
            let path = path_from(&cx.config, &cx.id, &h);
            path.contains(way) && !path.contains(hop)
        }
    });
    SliceTask {
        holders: holder.map_or_else(|| task.holders.clone(), |h| vec![h.clone()]),
        ..task.clone()
    }
}

/// Another way for `task` than through `hop`: the first further holder not reached through
/// `hop` (through the first of its path not avoided), or this node's own copy, in the
/// slice's holder order. `None` when there is none.
pub fn alternative(
    config: &ClusterConfig,
    me: &NodeId,
    task: &SliceTask,
    hop: &NodeId,
    avoid: &dyn Fn(&NodeId) -> bool,
) -> Option<Target> {
    for holder in task.holders.iter().map(|h| NodeId(h.clone())) {
        if &holder == me {
            return Some(Target::Local);
        }
        let path = path_from(config, me, &holder);
        if path.contains(hop) {
            continue;
        }
        if let Some(way) = path.into_iter().find(|p| !avoid(p)) {
            return Some(Target::Peer(way));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClusterConfig {
        ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json")).unwrap()
    }

    fn other_way(me: &str, holders: &[&str], hop: &str, down: &[&str]) -> Option<Target> {
        let task = SliceTask {
            owner: holders[0].to_string(),
            holders: holders.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        };
        alternative(
            &config(),
            &NodeId(me.into()),
            &task,
            &NodeId(hop.into()),
            &|p: &NodeId| down.contains(&p.as_str()),
        )
    }

    fn peer(id: &str) -> Option<Target> {
        Some(Target::Peer(NodeId(id.into())))
    }

    #[test]
    fn the_team_leader_hedges_a_worker_to_its_replica_or_its_own_copy() {
        assert_eq!(other_way("E", &["D", "F"], "D", &[]), peer("F"));
        assert_eq!(other_way("E", &["F", "E"], "F", &[]), Some(Target::Local));
        assert_eq!(other_way("E", &["D", "F"], "D", &["F"]), None);
    }

    #[test]
    fn a_relay_already_on_every_way_gives_no_hedge() {
        // From A, both holders of D's slice lie below E.
        assert_eq!(other_way("A", &["D", "F"], "E", &[]), None);
        // C's copy is on A itself.
        assert_eq!(other_way("A", &["C", "A"], "B", &[]), Some(Target::Local));
    }
}
