//! Per-team bookkeeping and the metrics snapshot built from it.

use std::time::Duration;

use serde::Serialize;

use super::strategy::Strategy;

/// Point-in-time view of an [`Admission`](super::Admission), for metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdmissionSnapshot {
    /// The strategy in force.
    pub strategy: Strategy,
    /// Admitted, unreleased queries of all teams.
    pub total_active: u32,
    /// The configured `max_active`.
    pub max_active: u32,
    /// Every team ever seen by `admit`, sorted by name.
    pub teams: Vec<TeamCounters>,
}

/// Counters of one team. Cumulative counters (`u64`) never decrease.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamCounters {
    /// Team name, as passed to `admit`.
    pub team: String,
    /// Admitted, unreleased queries of the team.
    pub active: u32,
    /// Queries admitted (at once or after waiting).
    pub admitted: u64,
    /// Rejections of every reason (limits, full queue, queue timeout).
    pub rejected: u64,
    /// Rejections because the team's queue was full.
    pub rejected_queue_full: u64,
    /// Rejections because the wait in the queue exceeded the deadline.
    pub rejected_queue_timeout: u64,
    /// Queries of the team waiting in the fair queue now.
    pub queued: u32,
    /// Mean wait of admitted queries in milliseconds (immediate ones count 0).
    pub avg_wait_ms: f64,
    /// Permits released (queries finished, failed or cancelled).
    pub completed: u64,
}

/// Mutable per-team state kept under the admission lock.
#[derive(Clone, Debug, Default)]
pub(super) struct TeamStats {
    pub(super) active: u32,
    pub(super) admitted: u64,
    pub(super) rejected: u64,
    pub(super) rejected_queue_full: u64,
    pub(super) rejected_queue_timeout: u64,
    pub(super) completed: u64,
    pub(super) wait_total: Duration,
}

impl TeamStats {
    /// Records an admission after `waited`.
    pub(super) fn on_admit(&mut self, waited: Duration) {
        self.active += 1;
        self.admitted += 1;
        self.wait_total += waited;
    }

    /// Undoes [`TeamStats::on_admit`] for a grant that never reached its waiter.
    pub(super) fn undo_admit(&mut self, waited: Duration) {
        self.active = self.active.saturating_sub(1);
        self.admitted = self.admitted.saturating_sub(1);
        self.wait_total = self.wait_total.saturating_sub(waited);
    }

    /// Records a released permit.
    pub(super) fn on_release(&mut self) {
        self.active = self.active.saturating_sub(1);
        self.completed += 1;
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
            admitted: self.admitted,
            rejected: self.rejected,
            rejected_queue_full: self.rejected_queue_full,
            rejected_queue_timeout: self.rejected_queue_timeout,
            queued,
            avg_wait_ms,
            completed: self.completed,
        }
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
    }

    #[test]
    fn undo_and_release() {
        let mut s = TeamStats::default();
        s.on_admit(Duration::from_millis(10));
        s.undo_admit(Duration::from_millis(10));
        assert_eq!((s.active, s.admitted, s.wait_total), (0, 0, Duration::ZERO));
        s.on_admit(Duration::ZERO);
        s.on_release();
        assert_eq!((s.active, s.admitted, s.completed), (0, 1, 1));
    }
}
