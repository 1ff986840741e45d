//! The waiting half of a `fair_queue` admission: timeout and cancellation safety.

use std::time::Duration;

use tokio::sync::oneshot;

use super::permit::{Permit, Rejection};
use super::state::Shared;

/// A query sitting in its team's queue.
///
/// If the future awaiting it is dropped (client cancelled), `Drop` takes the
/// waiter out of the queue first and only then drops the receiver; a permit
/// that was granted in the instant before is dropped with the receiver and
/// so releases its slot again.
pub(super) struct Waiting<'a> {
    shared: &'a Shared,
    team: &'a str,
    id: u64,
    rx: oneshot::Receiver<Permit>,
    /// Whether the waiter may still be in the queue.
    queued: bool,
}

impl<'a> Waiting<'a> {
    /// Tracks waiter `id` of `team`, whose slot will arrive on `rx`.
    pub(super) fn new(
        shared: &'a Shared,
        team: &'a str,
        id: u64,
        rx: oneshot::Receiver<Permit>,
    ) -> Self {
        Waiting {
            shared,
            team,
            id,
            rx,
            queued: true,
        }
    }

    /// Waits at most `limit` for a slot.
    pub(super) async fn wait(mut self, limit: Duration) -> Result<Permit, Rejection> {
        let outcome = tokio::time::timeout(limit, &mut self.rx).await;
        self.queued = false;
        match outcome {
            Ok(Ok(permit)) => Ok(permit),
            // Wait ended (deadline, or the sender vanished, which only happens
            // if the waiter was dropped from the queue without a grant).
            Ok(Err(_)) | Err(_) => {
                if self.shared.leave_queue(self.team, self.id, true) {
                    Err(Rejection::QueueTimeout)
                } else {
                    // Granted just as the deadline passed: the permit was sent
                    // under the lock, so it is already in the channel.
                    self.rx.try_recv().map_err(|_| Rejection::QueueTimeout)
                }
            }
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.queued {
            self.queued = false;
            self.shared.leave_queue(self.team, self.id, false);
        }
        // `self.rx` is dropped after this, outside the lock.
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::limits::AdmissionLimits;
    use super::super::state::Entry;
    use super::super::strategy::Strategy;
    use super::*;

    /// A one-slot fair queue whose slot is taken; returns it with a queued "a".
    fn queued() -> (Arc<Shared>, Option<Permit>, u64, oneshot::Receiver<Permit>) {
        let limits = AdmissionLimits {
            max_active: 1,
            ..AdmissionLimits::default()
        };
        let shared = Shared::new(Strategy::FairQueue, limits);
        let seed = shared.enter("seed").ok().and_then(|e| match e {
            Entry::Admitted(p) => Some(p),
            Entry::Queued { .. } => None,
        });
        let Ok(Entry::Queued { id, rx }) = shared.enter("a") else {
            panic!("a not queued");
        };
        (shared, seed, id, rx)
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_wait_leaves_the_queue_without_counting() {
        let (shared, _seed, id, rx) = queued();
        drop(Waiting::new(&shared, "a", id, rx));
        assert_eq!(shared.queued(), 0);
        assert_eq!(shared.snapshot().teams[0].rejected, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_permit_wins_over_a_zero_limit() {
        let (shared, seed, id, rx) = queued();
        drop(seed); // grants the slot to "a"
        let permit = Waiting::new(&shared, "a", id, rx)
            .wait(Duration::ZERO)
            .await;
        assert_eq!(permit.map(|p| p.team().to_owned()), Ok("a".to_owned()));
        assert_eq!(shared.total_active(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_passes() {
        let (shared, _seed, id, rx) = queued();
        let waiting = Waiting::new(&shared, "a", id, rx);
        let result = waiting.wait(Duration::from_millis(5)).await;
        assert_eq!(result.map(|_| ()), Err(Rejection::QueueTimeout));
        assert_eq!(shared.queued(), 0);
    }
}
