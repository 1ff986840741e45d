//! Watching the cluster during a faulted step: every node's metrics a few times a second. The
//! routing counters split the extra work per query between fault windows and calm; the
//! neighbour views give detection times where the nodes' event logs cannot be read (a remote
//! cluster), from the exact time each node stamped on its status change.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use overlay::config::ClusterConfig;
use overlay::date::unix_ms;
use overlay::event::{Event, EventKind};
use overlay::proto::{NeighborHealth, RoutingStats};
use serde::{Deserialize, Serialize};

use super::{classify_time, FaultWindow, Phase};
use crate::client::fetch;

/// Time between two looks at the cluster.
const EVERY: Duration = Duration::from_millis(250);

/// Longest a node may take to answer a look (a hung node simply misses it).
const ANSWER_WITHIN: Duration = Duration::from_millis(200);

/// One node's figures at one moment.
#[derive(Clone, Debug)]
pub struct NodeLook {
    /// When it was asked, ms since the Unix epoch.
    pub unix_ms: u64,
    /// Its routing counters.
    pub routing: RoutingStats,
    /// Its view of its peers.
    pub neighbors: Vec<NeighborHealth>,
}

/// Every look at every node, by node id, oldest first.
pub type Looks = BTreeMap<String, Vec<NodeLook>>;

/// Looks at every node every 250 ms until dropped, appending to `looks`.
pub async fn watch(config: &ClusterConfig, looks: &Mutex<Looks>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let asks = config.processes.values().map(|p| async move {
            let answer = tokio::time::timeout(ANSWER_WITHIN, fetch(&p.address())).await;
            (p.id.0.clone(), unix_ms(), answer)
        });
        for (id, at, answer) in futures::future::join_all(asks).await {
            if let Ok(Ok(metrics)) = answer {
                let look = NodeLook {
                    unix_ms: at,
                    routing: metrics.routing.unwrap_or_default(),
                    neighbors: metrics.neighbors,
                };
                looks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(id)
                    .or_default()
                    .push(look);
            }
        }
    }
}

/// Routing work in one phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RoutingWork {
    /// Scan calls between nodes.
    pub peer_calls: u64,
    /// Of which failed.
    pub peer_call_failures: u64,
    /// Slice tasks sent again.
    pub retries: u64,
    /// Slice tasks routed to a replica or past a relay.
    pub failovers: u64,
    /// Slice tasks nobody could serve.
    pub unserved: u64,
    /// Hedged slice calls sent (reports written before hedging read as 0).
    #[serde(default)]
    pub hedges_sent: u64,
    /// Of which sent free of the budget, the peer being suspected (silent or ejected).
    #[serde(default)]
    pub hedges_free: u64,
    /// Of which answered first.
    #[serde(default)]
    pub hedges_won: u64,
    /// Calls cancelled because the other leg of a hedge answered first.
    #[serde(default)]
    pub calls_cancelled: u64,
    /// Peers ejected as latency outliers.
    #[serde(default)]
    pub ejections: u64,
}

impl RoutingWork {
    fn add(&mut self, before: &RoutingStats, after: &RoutingStats) {
        // A restarted node starts from zero: its whole count is new work then.
        let delta = |a: i64, b: i64| {
            if a >= b {
                (a - b) as u64
            } else {
                a.max(0) as u64
            }
        };
        self.peer_calls += delta(after.peer_calls, before.peer_calls);
        self.peer_call_failures += delta(after.peer_call_failures, before.peer_call_failures);
        self.retries += delta(after.retries, before.retries);
        self.failovers += delta(after.failovers, before.failovers);
        self.unserved += delta(after.unserved, before.unserved);
        self.hedges_sent += delta(after.hedges_sent, before.hedges_sent);
        self.hedges_free += delta(after.hedges_free, before.hedges_free);
        self.hedges_won += delta(after.hedges_won, before.hedges_won);
        self.calls_cancelled += delta(after.calls_cancelled, before.calls_cancelled);
        self.ejections += delta(after.ejections, before.ejections);
    }
}

/// Routing work inside the fault windows and outside them; each interval between two looks
/// at a node is counted where its midpoint falls (`measured_start_ms` is time zero).
pub fn split_work(
    looks: &Looks,
    windows: &[FaultWindow],
    measured_start_ms: u64,
) -> (RoutingWork, RoutingWork) {
    let (mut during, mut outside) = (RoutingWork::default(), RoutingWork::default());
    for node in looks.values() {
        for pair in node.windows(2) {
            let mid_ms = (pair[0].unix_ms + pair[1].unix_ms) / 2;
            let at_s = (mid_ms as f64 - measured_start_ms as f64) / 1000.0;
            let bucket = match classify_time(windows, at_s) {
                Phase::During(_) => &mut during,
                Phase::Before | Phase::After => &mut outside,
            };
            bucket.add(&pair[0].routing, &pair[1].routing);
        }
    }
    (during, outside)
}

/// The neighbour-status changes the looks reveal, as event-log lines: a rise of a peer's
/// `failures_detected` or `recoveries_detected`, or a turn to `suspected`, stamped with the
/// time the observer recorded for the change.
pub fn events_from_looks(looks: &Looks) -> Vec<Event> {
    let mut events = Vec::new();
    for (observer, node) in looks {
        for pair in node.windows(2) {
            for after in &pair[1].neighbors {
                let Some(before) = pair[0].neighbors.iter().find(|n| n.id == after.id) else {
                    continue;
                };
                let at = u64::try_from(after.last_change_unix_ms).unwrap_or(pair[1].unix_ms);
                let mut push = |kind: EventKind| {
                    let mut event =
                        Event::new(kind, observer.as_str()).with("neighbor", after.id.as_str());
                    event.unix_ms = at;
                    events.push(event);
                };
                if after.failures_detected > before.failures_detected {
                    push(EventKind::NeighborFailed);
                }
                if after.recoveries_detected > before.recoveries_detected {
                    push(EventKind::NeighborRecovered);
                }
                if after.status == "suspected" && before.status == "healthy" {
                    push(EventKind::NeighborSuspected);
                }
            }
        }
    }
    events.sort_by_key(|e| e.unix_ms);
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultAction;

    fn look(unix_ms: u64, calls: i64, failures_detected: i64, status: &str) -> NodeLook {
        NodeLook {
            unix_ms,
            routing: RoutingStats {
                peer_calls: calls,
                ..Default::default()
            },
            neighbors: vec![NeighborHealth {
                id: "C".to_string(),
                status: status.to_string(),
                failures_detected,
                last_change_unix_ms: unix_ms as i64 - 10,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn work_is_split_by_window_and_restarts_count_from_zero() {
        let looks = Looks::from([(
            "A".to_string(),
            vec![
                look(1_000, 0, 0, "healthy"),
                look(2_000, 10, 0, "healthy"),
                look(3_000, 40, 0, "suspected"),
                look(4_000, 5, 1, "failed"),
            ],
        )]);
        let windows = [FaultWindow {
            label: "kill C".to_string(),
            action: FaultAction::Kill,
            target: "C".to_string(),
            peer: None,
            start_s: 1.0,
            end_s: Some(2.0),
        }];
        let (during, outside) = split_work(&looks, &windows, 1_000);
        assert_eq!(during.peer_calls, 30);
        assert_eq!(outside.peer_calls, 10 + 5);
    }

    #[test]
    fn status_changes_become_events_at_the_observers_time() {
        let looks = Looks::from([(
            "A".to_string(),
            vec![
                look(1_000, 0, 0, "healthy"),
                look(1_250, 0, 0, "suspected"),
                look(1_500, 0, 1, "failed"),
            ],
        )]);
        let events = events_from_looks(&looks);
        let kinds: Vec<(EventKind, u64)> = events.iter().map(|e| (e.kind, e.unix_ms)).collect();
        assert_eq!(
            kinds,
            [
                (EventKind::NeighborSuspected, 1_240),
                (EventKind::NeighborFailed, 1_490)
            ]
        );
    }

    #[test]
    fn a_counted_recovery_becomes_a_recovered_event() {
        let with_recoveries = |unix_ms: u64, recoveries_detected: i64, status: &str| {
            let mut look = look(unix_ms, 0, 1, status);
            look.neighbors[0].recoveries_detected = recoveries_detected;
            look
        };
        let looks = Looks::from([(
            "A".to_string(),
            vec![
                with_recoveries(2_000, 0, "failed"),
                with_recoveries(2_250, 1, "healthy"),
            ],
        )]);
        let events = events_from_looks(&looks);
        let kinds: Vec<(EventKind, &str, u64)> = events
            .iter()
            .map(|e| (e.kind, e.node.as_str(), e.unix_ms))
            .collect();
        assert_eq!(kinds, [(EventKind::NeighborRecovered, "A", 2_240)]);
        assert_eq!(events[0].detail["neighbor"], "C");
    }
}
