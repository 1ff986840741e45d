//! The RAII [`Permit`] of an admitted query and the [`Rejection`] of a refused one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::state::Shared;
use super::strategy::RejectReason;

/// Proof that a query of a team was admitted; holds one slot of the node.
///
/// Dropping it releases the slot on every path out (success, error, panic
/// unwinding, task cancellation) and lets the fair queue admit the next
/// waiter. Keep it alive for as long as the query runs.
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    shared: Arc<Shared>,
    team: String,
    waited: Duration,
    /// `false` only for a grant undone under the lock (never handed out).
    armed: bool,
    /// Set by [`Permit::mark_succeeded`]; counted as `succeeded` on release.
    succeeded: bool,
}

impl Permit {
    /// Wraps a slot already counted in `shared` for `team`.
    pub(super) fn new(shared: Arc<Shared>, team: String, waited: Duration) -> Self {
        Permit {
            shared,
            team,
            waited,
            armed: true,
            succeeded: false,
        }
    }

    /// Makes dropping this permit a no-op (its slot was uncounted by hand).
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }

    /// The team the query was admitted for.
    pub fn team(&self) -> &str {
        &self.team
    }

    /// How long the query waited in the fair queue (zero if admitted at once).
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Records that the query was answered successfully, so the release counts toward the
    /// team's `succeeded` (its goodput). Without it a release counts only as `completed`
    /// (errors, rejections downstream, cancellations).
    pub fn mark_succeeded(&mut self) {
        self.succeeded = true;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.armed {
            self.armed = false;
            self.shared.release(&self.team, self.succeeded);
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("team", &self.team)
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

/// Why a query was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A limit was reached (`strict`, `weighted`, `hybrid`).
    #[error("rejected: {0}")]
    AtLimit(RejectReason),
    /// `fair_queue`: the team's queue already holds `queue_capacity` waiters.
    #[error("rejected: the team's admission queue is full")]
    QueueFull,
    /// `fair_queue`: the query waited until its deadline without a slot.
    #[error("rejected: timed out waiting in the admission queue")]
    QueueTimeout,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit() {
        let msg = Rejection::AtLimit(RejectReason::TeamLimit).to_string();
        assert!(msg.contains("team"), "{msg}");
        let msg = Rejection::AtLimit(RejectReason::TotalLimit).to_string();
        assert!(msg.contains("total"), "{msg}");
        assert!(Rejection::QueueTimeout.to_string().contains("timed out"));
    }
}
