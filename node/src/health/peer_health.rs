//! What this node knows about the health of every other process: probe results and call
//! outcomes feed one record per peer, which routing asks before sending work.
//!
//! A peer is *healthy*, *suspected* (some consecutive failures, below the threshold) or
//! *failed* (threshold reached). Probes and failed calls both count as evidence, so a query
//! that hits a dead peer makes the next query avoid it at once. Calls additionally go through
//! a per-peer circuit breaker (closed / open / half-open). The first answered probe of a failed
//! peer declares it recovered. Every change is logged in the shapes old tools grep and fires
//! the matching hook event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use overlay::config::NodeId;
use overlay::date::unix_ms;
use overlay::proto::NeighborHealth;
use tokio::sync::watch;

use super::breaker::{BreakerSettings, BreakerState, CircuitBreaker};
use super::reroute::ReroutePlans;
use crate::hooks::{Event, EventKind, HookPool};

/// How often at most a "routed around" event is fired per peer.
const ROUTED_AROUND_EVERY: Duration = Duration::from_secs(1);

/// A peer's health as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerStatus {
    /// Answering.
    Healthy,
    /// Missed some probes or calls, fewer than the threshold.
    Suspected,
    /// Declared failed: routing avoids it until a probe is answered.
    Failed,
}

impl PeerStatus {
    /// Lower-case name, as in metrics.
    pub fn name(self) -> &'static str {
        match self {
            PeerStatus::Healthy => "healthy",
            PeerStatus::Suspected => "suspected",
            PeerStatus::Failed => "failed",
        }
    }
}

/// Where a piece of evidence came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// A health probe: the membership protocol heard from the peer, or did not.
    Probe,
    /// A forwarded query.
    Call,
    /// The membership protocol suspects the peer: suspected here too, never declared failed.
    Suspicion,
    /// The membership protocol declared the peer down: declared failed at once.
    Membership,
}

impl Evidence {
    /// Lower-case name, as in hook events.
    fn name(self) -> &'static str {
        match self {
            Evidence::Probe => "probe",
            Evidence::Call => "call",
            Evidence::Suspicion => "suspicion",
            Evidence::Membership => "membership",
        }
    }
}

#[derive(Debug)]
struct PeerRecord {
    status: PeerStatus,
    consecutive_failures: u32,
    breaker: CircuitBreaker,
    last_rtt: Option<Duration>,
    failures_detected: u64,
    recoveries_detected: u64,
    last_change_unix_ms: u64,
    last_routed_around: Option<Instant>,
    /// Answered at least once since this node started: until then a missed probe means the
    /// peer is still starting (nodes of a cluster start in any order), not that it failed.
    /// Failed calls count either way.
    seen_alive: bool,
    /// Bumped each time the peer is declared failed, so calls waiting on it give up.
    failed_generation: watch::Sender<u64>,
}

/// The health of every peer, shared by the checker, routing and metrics.
#[derive(Debug)]
pub struct PeerHealth {
    own_id: NodeId,
    failure_threshold: u32,
    peers: HashMap<NodeId, Mutex<PeerRecord>>,
    hooks: Arc<HookPool>,
    reroute: ReroutePlans,
}

impl PeerHealth {
    /// Records for `peers` (every one probed by the checker), all healthy.
    pub fn new(
        own_id: NodeId,
        peers: impl IntoIterator<Item = NodeId>,
        failure_threshold: u32,
        breaker: &BreakerSettings,
        hooks: Arc<HookPool>,
        reroute: ReroutePlans,
    ) -> Self {
        let peers = peers
            .into_iter()
            .map(|id| {
                let record = PeerRecord {
                    status: PeerStatus::Healthy,
                    consecutive_failures: 0,
                    breaker: CircuitBreaker::new(breaker.clone()),
                    last_rtt: None,
                    failures_detected: 0,
                    recoveries_detected: 0,
                    last_change_unix_ms: 0,
                    last_routed_around: None,
                    seen_alive: false,
                    failed_generation: watch::channel(0).0,
                };
                (id, Mutex::new(record))
            })
            .collect();
        Self {
            own_id,
            failure_threshold: failure_threshold.max(1),
            peers,
            hooks,
            reroute,
        }
    }

    /// May work be sent to `peer` now: not declared failed, and its breaker lets the call
    /// through (in half-open, this call is the trial). Unknown peers are never usable.
    pub fn usable(&self, peer: &NodeId) -> bool {
        let Some(mut record) = self.lock(peer) else {
            return false;
        };
        if record.status == PeerStatus::Failed {
            return false;
        }
        let before = record.breaker.state();
        let allowed = record.breaker.allow(Instant::now());
        let after = record.breaker.state();
        drop(record);
        if before != after {
            self.breaker_changed(peer, before, after, "cool-down over");
        }
        allowed
    }

    /// Whether the peer is up as far as this node knows: not declared failed and its breaker
    /// not cooling down. Unlike [`PeerHealth::usable`] this asks without claiming a half-open trial.
    pub fn is_available(&self, peer: &NodeId) -> bool {
        self.lock(peer)
            .is_some_and(|r| r.status != PeerStatus::Failed && !r.breaker.refuses(Instant::now()))
    }

    /// The peer's status.
    pub fn status(&self, peer: &NodeId) -> Option<PeerStatus> {
        self.lock(peer).map(|r| r.status)
    }

    /// A receiver that changes whenever `peer` is declared failed.
    pub fn failure_signal(&self, peer: &NodeId) -> Option<watch::Receiver<u64>> {
        self.lock(peer).map(|r| r.failed_generation.subscribe())
    }

    /// An answered probe or call.
    pub fn record_success(&self, peer: &NodeId, evidence: Evidence, rtt: Option<Duration>) {
        let Some(mut record) = self.lock(peer) else {
            return;
        };
        if rtt.is_some() {
            record.last_rtt = rtt;
        }
        record.seen_alive = true;
        record.consecutive_failures = 0;
        let recovered = record.status == PeerStatus::Failed;
        // Calls decide an open breaker (through its half-open trial); an answered probe only
        // clears a closed breaker's count, so the two failure counts agree, or closes it when
        // the peer comes back from failed.
        let breaker_change = if recovered
            || evidence == Evidence::Call
            || record.breaker.state() == BreakerState::Closed
        {
            record.breaker.on_success(Instant::now())
        } else {
            None
        };
        if record.status != PeerStatus::Healthy {
            record.status = PeerStatus::Healthy;
            record.last_change_unix_ms = unix_ms();
        }
        if recovered {
            record.recoveries_detected += 1;
        }
        drop(record);
        if recovered {
            tracing::info!("[HealthChecker] {} detected recovery: {peer}", self.own_id);
            self.reroute.log_recovery(peer);
            self.fire(EventKind::NeighborRecovered, peer, |e| e);
        }
        if let Some((from, to)) = breaker_change {
            self.breaker_changed(peer, from, to, "call answered");
        }
    }

    /// A missed probe or failed call; `why` says what happened.
    pub fn record_failure(&self, peer: &NodeId, evidence: Evidence, why: &str) {
        let Some(mut record) = self.lock(peer) else {
            return;
        };
        if evidence != Evidence::Call && !record.seen_alive {
            return;
        }
        let now = Instant::now();
        let counted = record.consecutive_failures.saturating_add(1);
        record.consecutive_failures = match evidence {
            Evidence::Membership => counted.max(self.failure_threshold),
            Evidence::Suspicion => counted
                .min(self.failure_threshold - 1)
                .max(record.consecutive_failures),
            Evidence::Probe | Evidence::Call => counted,
        };
        let failures = record.consecutive_failures;
        let mut breaker_change = if evidence == Evidence::Call {
            record.breaker.on_failure(now)
        } else {
            None
        };
        let previous = record.status;
        let next = if failures >= self.failure_threshold {
            PeerStatus::Failed
        } else {
            PeerStatus::Suspected
        };
        if next != previous {
            record.status = next;
            record.last_change_unix_ms = unix_ms();
        }
        let declared = next == PeerStatus::Failed && previous != PeerStatus::Failed;
        if declared {
            record.failures_detected += 1;
            record.failed_generation.send_modify(|g| *g += 1);
            breaker_change = breaker_change.or_else(|| record.breaker.trip(now));
        }
        drop(record);
        let source = evidence.name();
        if previous == PeerStatus::Healthy && next == PeerStatus::Suspected {
            tracing::info!(
                "[HealthChecker] {} suspects {peer}: {why} ({failures} consecutive failures)",
                self.own_id
            );
            self.fire(EventKind::NeighborSuspected, peer, |e| {
                e.with("failures", failures).with("source", source)
            });
        }
        if declared {
            tracing::warn!(
                "[HealthChecker] {} detected failure: {peer} ({failures} consecutive failures)",
                self.own_id
            );
            self.reroute.log_failure(peer);
            self.fire(EventKind::NeighborFailed, peer, |e| {
                e.with("failures", failures)
                    .with("source", source)
                    .with("reason", why)
            });
        }
        if let Some((from, to)) = breaker_change {
            self.breaker_changed(peer, from, to, why);
        }
    }

    /// Notes that work meant for `peer` went elsewhere; fires a `failover` event at most once a
    /// second per peer.
    pub fn note_routed_around(&self, peer: &NodeId, to: &NodeId) {
        let Some(mut record) = self.lock(peer) else {
            return;
        };
        let now = Instant::now();
        if record
            .last_routed_around
            .is_some_and(|at| now.duration_since(at) < ROUTED_AROUND_EVERY)
        {
            return;
        }
        record.last_routed_around = Some(now);
        drop(record);
        tracing::info!("[Router] {} routing around {peer} via {to}", self.own_id);
        self.fire(EventKind::Failover, peer, |e| e.with("via", to.as_str()));
    }

    /// Every peer's record, ordered by id.
    pub fn snapshot(&self) -> Vec<NeighborHealth> {
        let mut out: Vec<NeighborHealth> = self
            .peers
            .iter()
            .map(|(id, record)| {
                let r = record.lock().unwrap_or_else(|p| p.into_inner());
                NeighborHealth {
                    id: id.0.clone(),
                    status: r.status.name().to_string(),
                    breaker: r.breaker.state().name().to_string(),
                    consecutive_failures: r.consecutive_failures,
                    last_rtt_ms: r.last_rtt.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
                    failures_detected: r.failures_detected as i64,
                    recoveries_detected: r.recoveries_detected as i64,
                    last_change_unix_ms: r.last_change_unix_ms as i64,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The peers the checker probes: all of them, by id.
    pub fn peers(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.peers.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn breaker_changed(&self, peer: &NodeId, from: BreakerState, to: BreakerState, why: &str) {
        tracing::info!(
            "[CircuitBreaker] {} breaker for {peer}: {} -> {} ({why})",
            self.own_id,
            from.name(),
            to.name()
        );
        let kind = match to {
            BreakerState::Open => EventKind::CircuitOpened,
            BreakerState::Closed => EventKind::CircuitClosed,
            BreakerState::HalfOpen => return,
        };
        self.fire(kind, peer, |e| e.with("from", from.name()));
    }

    fn fire(&self, kind: EventKind, peer: &NodeId, detail: impl FnOnce(Event) -> Event) {
        self.hooks
            .emit(kind, |event| detail(event.with("neighbor", peer.as_str())));
    }

    fn lock(&self, peer: &NodeId) -> Option<MutexGuard<'_, PeerRecord>> {
        self.peers
            .get(peer)
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookSettings;
    use overlay::config::ClusterConfig;
    use overlay::partition::PartitionMap;

    fn health() -> PeerHealth {
        let config =
            ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json"))
                .unwrap();
        let me = NodeId("A".into());
        PeerHealth::new(
            me.clone(),
            [NodeId("C".into())],
            2,
            &BreakerSettings::default(),
            HookPool::new("A", HookSettings::default()),
            ReroutePlans::new(me, &config, &PartitionMap::default()),
        )
    }

    #[tokio::test]
    async fn probes_count_once_the_peer_was_seen_and_calls_always() {
        let c = NodeId("C".into());
        let h = health();
        // Still starting: missed probes are not failures.
        h.record_failure(&c, Evidence::Probe, "refused");
        h.record_failure(&c, Evidence::Probe, "refused");
        assert_eq!(h.status(&c), Some(PeerStatus::Healthy));
        h.record_success(&c, Evidence::Probe, Some(Duration::from_millis(1)));
        h.record_failure(&c, Evidence::Probe, "refused");
        assert_eq!(h.status(&c), Some(PeerStatus::Suspected));
        let signal = h.failure_signal(&c).unwrap();
        h.record_failure(&c, Evidence::Probe, "refused");
        assert_eq!(h.status(&c), Some(PeerStatus::Failed));
        assert!(signal.has_changed().unwrap());
        assert!(!h.usable(&c) && !h.is_available(&c));
        h.record_success(&c, Evidence::Probe, None);
        assert!(h.usable(&c));
        let view = &h.snapshot()[0];
        assert_eq!((view.failures_detected, view.recoveries_detected), (1, 1));

        // Three failed calls open the breaker even below the failure threshold; an answered
        // probe does not close it, but the peer is taken again once the cool-down is over.
        let patient = PeerHealth {
            failure_threshold: 10,
            ..health()
        };
        patient.record_success(&c, Evidence::Probe, Some(Duration::from_millis(1)));
        for _ in 0..3 {
            patient.record_failure(&c, Evidence::Call, "reset");
        }
        assert_eq!(patient.status(&c), Some(PeerStatus::Suspected));
        assert_eq!(patient.snapshot()[0].breaker, "open");
        assert!(!patient.is_available(&c) && !patient.usable(&c));
        patient.record_success(&c, Evidence::Probe, None);
        assert_eq!(patient.snapshot()[0].breaker, "open");

        // Failed calls count even for a peer never seen.
        let fresh = health();
        fresh.record_failure(&c, Evidence::Call, "refused");
        fresh.record_failure(&c, Evidence::Call, "refused");
        assert_eq!(fresh.status(&c), Some(PeerStatus::Failed));
    }
}
