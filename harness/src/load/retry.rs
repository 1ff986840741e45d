//! What a request does after a rejected attempt, and how long it took to be answered.
//!
//! A rejected attempt is tried again after the backoff while the request's deadline (when it
//! was due, plus the timeout) leaves room; a request that runs out of time, or that is not retried,
//! counts as unanswered, and its time to answer is the time until its deadline. So a strategy
//! that answers few queries quickly and rejects the rest cannot look faster than one that
//! answers them all.

use std::time::{Duration, Instant};

/// Shortest pause before a retry, so a zero backoff cannot spin on a rejecting node.
pub const MIN_BACKOFF: Duration = Duration::from_millis(1);

/// How rejected attempts are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retry rejected attempts until the deadline (`load.retry_rejected`).
    pub retry_rejected: bool,
    /// Pause before each retry (`load.reject_backoff_ms`).
    pub backoff: Duration,
}

/// After a rejected attempt that ended at `done`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterRejection {
    /// Wait this long, then send the request again.
    Retry(Duration),
    /// Give up; `timed_out` when it was the deadline that stopped it.
    GiveUp {
        /// The deadline left no room for another attempt.
        timed_out: bool,
    },
}

impl RetryPolicy {
    /// The pause before a retry (at least [`MIN_BACKOFF`]).
    pub fn pause(&self) -> Duration {
        self.backoff.max(MIN_BACKOFF)
    }

    /// What to do after a rejection at `done`, for a request due by `deadline`.
    pub fn after_rejection(&self, done: Instant, deadline: Instant) -> AfterRejection {
        if !self.retry_rejected {
            return AfterRejection::GiveUp { timed_out: false };
        }
        if done + self.pause() < deadline {
            AfterRejection::Retry(self.pause())
        } else {
            AfterRejection::GiveUp { timed_out: true }
        }
    }
}

/// Time to answer of a request due at `due`: until `answered` when it was answered, else until
/// its `deadline` (never less than zero).
pub fn time_to_answer(due: Instant, answered: Option<Instant>, deadline: Instant) -> Duration {
    answered.unwrap_or(deadline).saturating_duration_since(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_retried_until_the_deadline() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(100);
        let policy = RetryPolicy {
            retry_rejected: true,
            backoff: Duration::from_millis(10),
        };
        assert_eq!(
            policy.after_rejection(t0 + Duration::from_millis(5), deadline),
            AfterRejection::Retry(Duration::from_millis(10))
        );
        // 95 ms + 10 ms backoff passes the deadline: the request times out unanswered.
        assert_eq!(
            policy.after_rejection(t0 + Duration::from_millis(95), deadline),
            AfterRejection::GiveUp { timed_out: true }
        );
        let once = RetryPolicy {
            retry_rejected: false,
            ..policy
        };
        assert_eq!(
            once.after_rejection(t0, deadline),
            AfterRejection::GiveUp { timed_out: false }
        );
        let eager = RetryPolicy {
            retry_rejected: true,
            backoff: Duration::ZERO,
        };
        assert_eq!(
            eager.after_rejection(t0, deadline),
            AfterRejection::Retry(MIN_BACKOFF)
        );
    }

    #[test]
    fn time_to_answer_includes_rejections_and_counts_the_unanswered_at_the_timeout() {
        let due = Instant::now();
        let deadline = due + Duration::from_secs(2);
        // Two rejections and backoffs, answered 350 ms after it was due: 350 ms, however fast
        // the answered attempt itself was.
        let answered = due + Duration::from_millis(350);
        assert_eq!(
            time_to_answer(due, Some(answered), deadline),
            Duration::from_millis(350)
        );
        // Never answered (rejected to the end, or failed fast): the whole timeout.
        assert_eq!(time_to_answer(due, None, deadline), Duration::from_secs(2));
        // Answered after its deadline (the last attempt ran over): the real wait, not less.
        let late = due + Duration::from_millis(2_300);
        assert_eq!(
            time_to_answer(due, Some(late), deadline),
            Duration::from_millis(2_300)
        );
    }
}
