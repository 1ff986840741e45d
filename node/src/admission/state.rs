//! The lock-protected state of one node's admission and its transitions.
//!
//! Every method here runs synchronously under the `std::sync::Mutex`; no lock
//! is ever held across an `.await`. Slots granted to queued waiters are handed
//! over as a [`Permit`] through a `tokio::sync::oneshot` channel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::counters::{AdmissionSnapshot, RejectionsByStrategy, TeamStats};
use super::limits::AdmissionLimits;
use super::permit::{Permit, Rejection};
use super::queue::{FairQueue, Waiter};
use super::strategy::{decide, Decision, Strategy};

/// State shared by an `Admission` and all of its permits.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) limits: AdmissionLimits,
    state: Mutex<State>,
}

/// Outcome of the synchronous part of `admit`.
#[derive(Debug)]
pub(super) enum Entry {
    /// Admitted at once.
    Admitted(Permit),
    /// Queued (fair_queue) as waiter `id`; the slot will arrive on `rx`.
    Queued {
        id: u64,
        rx: oneshot::Receiver<Permit>,
    },
}

#[derive(Debug)]
struct State {
    strategy: Strategy,
    total_active: u32,
    peak_total_active: u32,
    teams: BTreeMap<String, TeamStats>,
    rejected_by_strategy: RejectionsByStrategy,
    queue: FairQueue<oneshot::Sender<Permit>>,
    next_waiter_id: u64,
}

impl Shared {
    /// Creates the shared state with nothing active or queued.
    pub(super) fn new(strategy: Strategy, limits: AdmissionLimits) -> Arc<Self> {
        let state = State {
            strategy,
            total_active: 0,
            peak_total_active: 0,
            teams: BTreeMap::new(),
            rejected_by_strategy: RejectionsByStrategy::default(),
            queue: FairQueue::default(),
            next_waiter_id: 0,
        };
        Arc::new(Shared {
            limits,
            state: Mutex::new(state),
        })
    }

    /// Locks the state. A poisoned lock is recovered: every transition below
    /// leaves the state consistent before anything that could panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The strategy in force.
    pub(super) fn strategy(&self) -> Strategy {
        self.lock().strategy
    }

    /// Replaces the strategy for subsequent admissions.
    pub(super) fn set_strategy(&self, strategy: Strategy) {
        self.lock().strategy = strategy;
    }

    /// Admitted, unreleased queries of all teams.
    pub(super) fn total_active(&self) -> u32 {
        self.lock().total_active
    }

    /// Waiters of all teams.
    pub(super) fn queued(&self) -> u32 {
        saturate(self.lock().queue.len())
    }

    /// Admits `team` at once, queues it (fair_queue) or rejects it.
    pub(super) fn enter(self: &Arc<Self>, team: &str) -> Result<Entry, Rejection> {
        let limits = &self.limits;
        let mut state = self.lock();
        let team_active = state.teams.entry(team.to_owned()).or_default().active;
        let decision = decide(state.strategy, limits, state.total_active, team_active);
        let rejection = match (state.strategy, decision) {
            (Strategy::FairQueue, Decision::Admit) if state.queue.is_empty() => None,
            (Strategy::FairQueue, _) => {
                if state.queue.team_len(team) >= limits.queue_capacity as usize {
                    Some(Rejection::QueueFull)
                } else {
                    return Ok(state.enqueue(self, team));
                }
            }
            (_, Decision::Admit) => None,
            (_, Decision::Reject(reason)) => Some(Rejection::AtLimit(reason)),
        };
        match rejection {
            None => Ok(Entry::Admitted(state.grant(self, team, Duration::ZERO))),
            Some(rejection) => {
                state.count_rejection(team, rejection);
                Err(rejection)
            }
        }
    }

    /// Releases one slot of `team` (whose query `succeeded` or not) and admits waiters
    /// that now fit.
    pub(super) fn release(self: &Arc<Self>, team: &str, succeeded: bool) {
        let mut state = self.lock();
        state.total_active = state.total_active.saturating_sub(1);
        if let Some(stats) = state.teams.get_mut(team) {
            stats.on_release(succeeded);
        }
        state.dispatch(self);
    }

    /// Removes waiter `id` of `team` from its queue. Returns `false` if it was
    /// no longer queued, i.e. a permit has already been sent to it.
    pub(super) fn leave_queue(&self, team: &str, id: u64, timed_out: bool) -> bool {
        let mut state = self.lock();
        if state.queue.remove(team, id).is_none() {
            return false;
        }
        if timed_out {
            state.count_rejection(team, Rejection::QueueTimeout);
        }
        true
    }

    /// Counters of every team, sorted by name.
    pub(super) fn snapshot(&self) -> AdmissionSnapshot {
        let state = self.lock();
        let teams = state
            .teams
            .iter()
            .map(|(team, stats)| stats.to_counters(team, saturate(state.queue.team_len(team))))
            .collect();
        AdmissionSnapshot {
            strategy: state.strategy,
            total_active: state.total_active,
            peak_total_active: state.peak_total_active,
            max_active: self.limits.max_active,
            teams,
            rejected_by_strategy: state.rejected_by_strategy.to_vec(),
        }
    }
}

impl State {
    /// Queues `team`'s query (fair_queue) and admits whatever now fits.
    fn enqueue(&mut self, shared: &Arc<Shared>, team: &str) -> Entry {
        let (tx, rx) = oneshot::channel();
        let id = self.next_waiter_id;
        self.next_waiter_id += 1;
        let waiter = Waiter {
            id,
            enqueued: Instant::now(),
            payload: tx,
        };
        self.queue.push(team, waiter);
        // Capacity may be free for this team even though other teams wait.
        self.dispatch(shared);
        Entry::Queued { id, rx }
    }

    /// Counts `rejection` against `team` and the strategy in force.
    fn count_rejection(&mut self, team: &str, rejection: Rejection) {
        self.teams
            .entry(team.to_owned())
            .or_default()
            .on_reject(rejection);
        self.rejected_by_strategy.count(self.strategy);
    }

    /// Counts a new active query of `team` and returns its permit.
    fn grant(&mut self, shared: &Arc<Shared>, team: &str, waited: Duration) -> Permit {
        self.total_active += 1;
        self.peak_total_active = self.peak_total_active.max(self.total_active);
        self.teams
            .entry(team.to_owned())
            .or_default()
            .on_admit(waited);
        Permit::new(Arc::clone(shared), team.to_owned(), waited)
    }

    /// Admits queued waiters while the node has capacity, choosing teams by
    /// weighted round robin and skipping teams at their `per_team_limit`.
    fn dispatch(&mut self, shared: &Arc<Shared>) {
        let limits = &shared.limits;
        while self.total_active < limits.max_active {
            let teams = &self.teams;
            let eligible = |team: &str| {
                teams
                    .get(team)
                    .is_none_or(|s| s.active < limits.per_team_limit)
            };
            let Some((team, waiter)) = self.queue.pop_next(|t| limits.weight(t), eligible) else {
                break;
            };
            let waited = waiter.enqueued.elapsed();
            let permit = self.grant(shared, &team, waited);
            tracing::trace!(%team, ?waited, "admission: queued query admitted");
            if let Err(mut permit) = waiter.payload.send(permit) {
                // The waiter vanished without leaving the queue (not expected:
                // waiters deregister before dropping their receiver). Undo the
                // grant here; dropping an armed permit under the lock would
                // deadlock.
                permit.disarm();
                self.total_active = self.total_active.saturating_sub(1);
                if let Some(stats) = self.teams.get_mut(&team) {
                    stats.undo_admit(waited);
                }
            }
        }
    }
}

/// Converts a count to `u32`, saturating.
fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_slot() -> Arc<Shared> {
        let limits = AdmissionLimits {
            max_active: 1,
            ..AdmissionLimits::default()
        };
        Shared::new(Strategy::FairQueue, limits)
    }

    #[tokio::test]
    async fn grant_to_a_vanished_receiver_is_rolled_back() {
        let shared = one_slot();
        let Ok(Entry::Admitted(seed)) = shared.enter("seed") else {
            panic!("seed not admitted");
        };
        let Ok(Entry::Queued { rx, .. }) = shared.enter("a") else {
            panic!("a not queued");
        };
        drop(rx); // vanishes without leaving the queue
        drop(seed); // dispatch finds no receiver and undoes the grant
        assert_eq!((shared.total_active(), shared.queued()), (0, 0));
        let snap = shared.snapshot();
        let a = &snap.teams[0];
        assert_eq!(
            (a.team.as_str(), a.active, a.admitted, a.avg_wait_ms),
            ("a", 0, 0, 0.0)
        );
    }

    #[tokio::test]
    async fn leave_queue_counts_only_timeouts() {
        let shared = one_slot();
        let _seed = shared.enter("seed");
        let Ok(Entry::Queued { id: first, .. }) = shared.enter("a") else {
            panic!("a not queued");
        };
        let Ok(Entry::Queued { id: second, .. }) = shared.enter("a") else {
            panic!("a not queued");
        };
        assert!(shared.leave_queue("a", first, false));
        assert!(shared.leave_queue("a", second, true));
        assert!(!shared.leave_queue("a", second, true));
        let snap = shared.snapshot();
        let a = &snap.teams[0];
        assert_eq!((a.rejected, a.rejected_queue_timeout, a.queued), (1, 1, 0));
    }
}
