//! The router's hedged call: which other way each slice of a slow call can take, what the
//! hedge costs from the budget, and what the race teaches about each peer's answer times.
//!
//! A call is hedged only when every one of its slices has another way — a further holder not
//! reached through the same first hop, the holder itself past a relay that is the hop (as
//! failover passes a failed relay), or this node's own copy — so that the first call can be
//! cancelled once the hedges have answered. A coordinator's call to a team leader is thus
//! hedged by asking the slices' holders below it directly.
//!
//! The hedge is a speculation after the peer's hedge delay, within the budget; once the peer
//! is suspected (silent for `eject_ratio` times its median answer time, or ejected) every call
//! still waiting on it is hedged at once, free of the budget.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use overlay::config::{ClusterConfig, NodeId};
use overlay::proto::{SliceResult, SliceTask};
use tokio::time::Instant;

use super::context::QueryContext;
use super::counters::Counted;
use super::hedge::{race, HedgeLeg, HedgeWhen, LegFuture, Pay, Raced, Suspicion, Target};
use super::local::serve_local_cancellable;
use super::peer_call::{call_peer, wait_changed, CallError};
use super::route::{path_from, RouteContext};
use crate::tail::Silence;

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
    let when = HedgeWhen {
        delay: tail.hedge_delay(hop),
        suspected: if hedgeable {
            suspicion(cx, hop, Instant::now())
        } else {
            Box::pin(std::future::pending())
        },
    };
    let raced = race(tasks, primary, when, |pay| {
        let legs = plan_hedges(cx, route, hop, tasks, avoid, pay);
        hedged.fetch_or(!legs.is_empty(), Ordering::Relaxed);
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
    routing.add(Counted::HedgeFree, u64::from(raced.hedges_free));
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
/// unhedged, which counts toward ejecting the peer.
async fn watched_call(
    cx: &QueryContext,
    route: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
    hedged: Arc<AtomicBool>,
) -> Result<Vec<SliceResult>, CallError> {
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
        () = late => Err(CallError::NeverAnswered(hop.clone())),
    }
}

/// Resolves once `hop` is suspected while a call sent to it at `sent` waits: it was ejected,
/// or it has been silent long enough while others answered (see `TailTolerance::silence`).
fn suspicion<'a>(cx: &'a QueryContext, hop: &'a NodeId, sent: Instant) -> Suspicion<'a> {
    let mut ejected = cx.tail.ejection_signal(hop);
    Box::pin(async move {
        let silent = async {
            loop {
                match cx.tail.silence(hop, sent) {
                    Silence::Suspected => return,
                    Silence::Until(at) => tokio::time::sleep_until(at).await,
                    Silence::Unjudged => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            Some(()) = wait_changed(&mut ejected) => {}
            () = silent => {}
        }
    })
}

/// The hedge legs for a slow call: one per other way, when every slice has one and the hedge
/// is paid for (free, or from the budget); otherwise none.
fn plan_hedges<'a>(
    cx: &'a QueryContext,
    route: &'a RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
    avoid: &(dyn Fn(&NodeId) -> bool + Sync),
    pay: Pay,
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
    let paid = pay == Pay::Free || cx.tail.try_hedge(by_target.len() as u32);
    if by_target.is_empty() || !paid {
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
                    let (cx, tasks) = (cx.clone(), tasks.clone());
                    Box::pin(async move { Ok(serve_local_cancellable(cx, route, tasks).await) })
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
        h != cx.id && way_around(&cx.config, &cx.id, &h, hop).contains(way)
    });
    SliceTask {
        holders: holder.map_or_else(|| task.holders.clone(), |h| vec![h.clone()]),
        ..task.clone()
    }
}

/// Another way for `task` than through `hop`: this node's own copy when it holds one (no call
/// at all), else the first holder's way around `hop` (through the first of it not avoided), in
/// the slice's holder order. `None` when there is none.
pub fn alternative(
    config: &ClusterConfig,
    me: &NodeId,
    task: &SliceTask,
    hop: &NodeId,
    avoid: &dyn Fn(&NodeId) -> bool,
) -> Option<Target> {
    if task.holders.iter().any(|h| h == me.as_str()) {
        return Some(Target::Local);
    }
    for holder in task.holders.iter().map(|h| NodeId(h.clone())) {
        let way = way_around(config, me, &holder, hop);
        if let Some(way) = way.into_iter().find(|p| !avoid(p)) {
            return Some(Target::Peer(way));
        }
    }
    None
}

/// The way from `me` to `holder` that does not pass through `hop`: the path to it, or, when
/// `hop` lies on that path, the part below `hop` (the holder asked directly past a relay, as
/// failover does for a failed relay). Empty when `hop` is the holder.
fn way_around(config: &ClusterConfig, me: &NodeId, holder: &NodeId, hop: &NodeId) -> Vec<NodeId> {
    let mut path = path_from(config, me, holder);
    if let Some(at) = path.iter().position(|p| p == hop) {
        path.drain(..=at);
    }
    path
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
    fn a_call_to_a_relay_is_hedged_straight_to_the_holders_below_it() {
        // From A, both holders of D's slice lie below E: D is asked directly, past E.
        assert_eq!(other_way("A", &["D", "F"], "E", &[]), peer("D"));
        assert_eq!(other_way("A", &["D", "F"], "E", &["D"]), peer("F"));
        // E's own slice: its copy on D.
        assert_eq!(other_way("A", &["E", "D"], "E", &[]), peer("D"));
        assert_eq!(other_way("A", &["E", "D"], "E", &["D"]), None);
        // C's copy is on A itself.
        assert_eq!(other_way("A", &["C", "A"], "B", &[]), Some(Target::Local));
    }

    #[test]
    fn a_hedge_names_only_the_holder_it_goes_to() {
        let config = config();
        let way = |me: &str, holder: &str, hop: &str| -> Vec<String> {
            let (me, holder, hop) = (NodeId(me.into()), NodeId(holder.into()), NodeId(hop.into()));
            way_around(&config, &me, &holder, &hop)
                .into_iter()
                .map(|n| n.0)
                .collect()
        };
        assert_eq!(way("A", "D", "E"), ["D"]);
        assert_eq!(way("A", "E", "E"), Vec::<String>::new());
        assert_eq!(way("E", "F", "D"), ["F"]);
        assert_eq!(way("A", "F", "B"), ["E", "F"]);
    }
}
