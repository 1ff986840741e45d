//! Per-team bookkeeping and the metrics snapshot built from it.

use std::time::Duration;

use serde::Serialize;

use super::permit::Rejection;
use super::strategy::{RejectReason, Strategy};

/// Point-in-time view of an [`Admission`](super::Admission), for metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdmissionSnapshot {
    /// The strategy in force.
    pub strategy: Strategy,
    /// Admitted, unreleased queries of all teams.
    pub total_active: u32,
    /// Highest `total_active` seen since the node started.
    pub peak_total_active: u32,
    /// The configured `max_active`.
    pub max_active: u32,
    /// Every team ever seen by `admit`, sorted by name.
    pub teams: Vec<TeamCounters>,
    /// Rejections of all teams by the strategy in force when each happened, one entry per
    /// strategy in [`Strategy::ALL`] order (zeros included), so a sweep that switches
    /// strategies can tell their rejections apart.
    pub rejected_by_strategy: Vec<StrategyRejections>,
}

/// Rejections counted while one strategy was in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StrategyRejections {
    /// The strategy.
    pub strategy: Strategy,
    /// Rejections of every reason while it was in force.
    pub rejected: u64,
}

/// Counters of one team. Cumulative counters (`u64`) never decrease.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamCounters {
    /// Team name, as passed to `admit`.
    pub team: String,
    /// Admitted, unreleased queries of the team.
    pub active: u32,
    /// Highest `active` seen since the node started: shows whether a team was held to its
    /// `per_team_limit` (`strict`) or borrowed beyond it (`weighted`, `hybrid`).
    pub peak_active: u32,
    /// Queries admitted (at once or after waiting).
    pub admitted: u64,
    /// Rejections of every reason (limits, full queue, queue timeout).
    pub rejected: u64,
    /// Rejections because the team was at its `per_team_limit` (and could not borrow).
    pub rejected_team_limit: u64,
    /// Rejections because the node was at `max_active`.
    pub rejected_total_limit: u64,
    /// Rejections because the team's queue was full.
    pub rejected_queue_full: u64,
    /// Rejections because the wait in the queue exceeded the deadline.
    pub rejected_queue_timeout: u64,
    /// Queries of the team waiting in the fair queue now.
    pub queued: u32,
    /// Mean wait of admitted queries in milliseconds (immediate ones count 0).
    pub avg_wait_ms: f64,
    /// Longest wait of an admitted query in milliseconds.
    pub max_wait_ms: f64,
    /// Permits released (queries finished, failed or cancelled).
    pub completed: u64,
    /// Released permits whose query was marked as answered successfully: the numerator
    /// of the team's goodput.
    pub succeeded: u64,
}

/// Mutable per-team state kept under the admission lock.
#[derive(Clone, Debug, Default)]
pub(super) struct TeamStats {
    pub(super) active: u32,
    pub(super) peak_active: u32,
    pub(super) admitted: u64,
    pub(super) rejected: u64,
    pub(super) rejected_team_limit: u64,
    pub(super) rejected_total_limit: u64,
    pub(super) rejected_queue_full: u64,
    pub(super) rejected_queue_timeout: u64,
    pub(super) completed: u64,
    pub(super) succeeded: u64,
    pub(super) wait_total: Duration,
    pub(super) wait_max: Duration,
}

impl TeamStats {
    /// Records an admission after `waited`.
    pub(super) fn on_admit(&mut self, waited: Duration) {
        self.active += 1;
        self.peak_active = self.peak_active.max(self.active);
        self.admitted += 1;
        self.wait_total += waited;
        self.wait_max = self.wait_max.max(waited);
    }

    /// Undoes [`TeamStats::on_admit`] for a grant that never reached its waiter. The peak
    /// and the longest wait stay: the slot was held, if only for an instant.
    pub(super) fn undo_admit(&mut self, waited: Duration) {
        self.active = self.active.saturating_sub(1);
        self.admitted = self.admitted.saturating_sub(1);
        self.wait_total = self.wait_total.saturating_sub(waited);
    }

    /// Records a released permit; `succeeded` when its query was answered.
    pub(super) fn on_release(&mut self, succeeded: bool) {
        self.active = self.active.saturating_sub(1);
        self.completed += 1;
        if succeeded {
            self.succeeded += 1;
        }
    }

    /// Records a rejection.
    pub(super) fn on_reject(&mut self, rejection: Rejection) {
        self.rejected += 1;
        match rejection {
            Rejection::AtLimit(RejectReason::TeamLimit) => self.rejected_team_limit += 1,
            Rejection::AtLimit(RejectReason::TotalLimit) => self.rejected_total_limit += 1,
            Rejection::QueueFull => self.rejected_queue_full += 1,
            Rejection::QueueTimeout => self.rejected_queue_timeout += 1,
        }
    }

    /// Builds the public counters of team `team` with `queued` waiters.
    pub(super) fn to_counters(&self, team: &str, queued: u32) -> TeamCounters {
        let avg_wait_ms = if self.admitted == 0 {
            0.0
        } else {
            self.wait_total.as_secs_f64() * 1000.0 / self.admitted as f64
        };
        TeamCounters {
            team: team.to_owned(),
            active: self.active,
            peak_active: self.peak_active,
            admitted: self.admitted,
            rejected: self.rejected,
            rejected_team_limit: self.rejected_team_limit,
            rejected_total_limit: self.rejected_total_limit,
            rejected_queue_full: self.rejected_queue_full,
            rejected_queue_timeout: self.rejected_queue_timeout,
            queued,
            avg_wait_ms,
            max_wait_ms: self.wait_max.as_secs_f64() * 1000.0,
            completed: self.completed,
            succeeded: self.succeeded,
        }
    }
}

/// Rejections counted per strategy in force, in [`Strategy::ALL`] order.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RejectionsByStrategy([u64; Strategy::ALL.len()]);

impl RejectionsByStrategy {
    /// Counts one rejection under `strategy`.
    pub(super) fn count(&mut self, strategy: Strategy) {
        if let Some(index) = Strategy::ALL.iter().position(|s| *s == strategy) {
            self.0[index] += 1;
        }
    }

    /// One entry per strategy, zeros included.
    pub(super) fn to_vec(self) -> Vec<StrategyRejections> {
        Strategy::ALL
            .iter()
            .zip(self.0)
            .map(|(&strategy, rejected)| StrategyRejections { strategy, rejected })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_wait_counts_immediate_admissions_as_zero() {
        let mut s = TeamStats::default();
        assert_eq!(s.to_counters("t", 0).avg_wait_ms, 0.0);
        s.on_admit(Duration::ZERO);
        s.on_admit(Duration::from_millis(30));
        let c = s.to_counters("t", 2);
        assert_eq!(c.active, 2);
        assert_eq!(c.admitted, 2);
        assert_eq!(c.queued, 2);
        assert!((c.avg_wait_ms - 15.0).abs() < 1e-9);
        assert!((c.max_wait_ms - 30.0).abs() < 1e-9);
    }

    #[test]
    fn undo_and_release() {
        let mut s = TeamStats::default();
        s.on_admit(Duration::from_millis(10));
        s.undo_admit(Duration::from_millis(10));
        assert_eq!((s.active, s.admitted, s.wait_total), (0, 0, Duration::ZERO));
        s.on_admit(Duration::ZERO);
        s.on_release(false);
        assert_eq!(
            (s.active, s.admitted, s.completed, s.succeeded),
            (0, 1, 1, 0)
        );
        s.on_admit(Duration::ZERO);
        s.on_release(true);
        assert_eq!((s.completed, s.succeeded), (2, 1));
    }

    #[test]
    fn peak_is_the_highest_concurrent_active() {
        let mut s = TeamStats::default();
        for _ in 0..3 {
            s.on_admit(Duration::ZERO);
        }
        s.on_release(true);
        s.on_release(true);
        s.on_admit(Duration::ZERO);
        let c = s.to_counters("t", 0);
        assert_eq!((c.active, c.peak_active), (2, 3));
        // An undone grant keeps the peak it reached.
        s.on_admit(Duration::ZERO);
        s.on_admit(Duration::ZERO);
        s.undo_admit(Duration::ZERO);
        assert_eq!((s.active, s.peak_active), (3, 4));
    }

    #[test]
    fn rejections_are_split_by_reason() {
        let mut s = TeamStats::default();
        s.on_reject(Rejection::AtLimit(RejectReason::TeamLimit));
        s.on_reject(Rejection::AtLimit(RejectReason::TeamLimit));
        s.on_reject(Rejection::AtLimit(RejectReason::TotalLimit));
        s.on_reject(Rejection::QueueFull);
        s.on_reject(Rejection::QueueTimeout);
        let c = s.to_counters("t", 0);
        assert_eq!(
            (
                c.rejected,
                c.rejected_team_limit,
                c.rejected_total_limit,
                c.rejected_queue_full,
                c.rejected_queue_timeout
            ),
            (5, 2, 1, 1, 1)
        );
    }

    #[test]
    fn rejections_by_strategy_list_every_strategy() {
        let mut by = RejectionsByStrategy::default();
        by.count(Strategy::Hybrid);
        by.count(Strategy::Hybrid);
        by.count(Strategy::FairQueue);
        let listed: Vec<(&str, u64)> = by
            .to_vec()
            .iter()
            .map(|r| (r.strategy.name(), r.rejected))
            .collect();
        assert_eq!(
            listed,
            [
                ("strict", 0),
                ("weighted", 0),
                ("hybrid", 2),
                ("fair_queue", 1)
            ]
        );
    }
}
