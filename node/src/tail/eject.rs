//! Outlier ejection rules for one peer: when a peer is slow enough, for long enough, to be
//! routed around for a while. Ejection is not failure: the peer answers, only too late.
//!
//! Two rules eject a peer:
//! - it was late `lost_hedges` times in a row (it lost a hedge: the other holder answered
//!   first; or, with the hedge budget spent, it overran the hedge cap while its team answers
//!   much faster), with no answer of its own in between: a hung or very slow peer, caught
//!   within a few calls;
//! - its median answer time stayed at least `ratio` times its team's median (its mates of the
//!   same role) for `after`: a peer slower than the others, though not slow enough to lose
//!   hedges.
//!
//! An ejected peer is routed around for `eject_for`, then tried again with a clean slate.

use std::time::Duration;

use tokio::time::Instant;

/// The thresholds of ejection.
#[derive(Clone, Debug)]
pub struct EjectRules {
    /// Median answer time, as a multiple of the team's, that counts as slow.
    pub ratio: f64,
    /// How long a peer must stay slow.
    pub after: Duration,
    /// Hedges lost in a row that eject at once.
    pub lost_hedges: u32,
    /// How long an ejection lasts.
    pub eject_for: Duration,
    /// A median below this never counts as slow (microsecond jitter is not an outlier).
    pub least_slow: Duration,
}

/// Why a peer was ejected.
#[derive(Clone, Debug, PartialEq)]
pub enum EjectReason {
    /// Lost this many hedges in a row.
    LostHedges(u32),
    /// Median answer time against the team's.
    Slow {
        /// The peer's median.
        median: Duration,
        /// The median of its team's medians.
        team_median: Duration,
    },
}

impl EjectReason {
    /// A short name, as in hook events.
    pub fn name(&self) -> &'static str {
        match self {
            EjectReason::LostHedges(_) => "lost_hedges",
            EjectReason::Slow { .. } => "slow",
        }
    }
}

impl std::fmt::Display for EjectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EjectReason::LostHedges(n) => write!(
                f,
                "late {n} times in a row (lost hedges, or past the hedge cap with the budget spent)"
            ),
            EjectReason::Slow {
                median,
                team_median,
            } => write!(
                f,
                "median answer {:.1} ms against its team's {:.1} ms",
                median.as_secs_f64() * 1000.0,
                team_median.as_secs_f64() * 1000.0
            ),
        }
    }
}

/// The outlier state of one peer.
#[derive(Clone, Debug, Default)]
pub struct OutlierState {
    lost_streak: u32,
    slow_since: Option<Instant>,
    ejected_until: Option<Instant>,
}

/// What [`OutlierState::ejected`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ejected {
    /// Not ejected.
    No,
    /// Ejected now.
    Yes,
    /// The ejection just ended: the peer is tried again.
    JustEnded,
}

impl OutlierState {
    /// The peer answered: its streak of lost hedges ends.
    pub fn on_answer(&mut self) {
        self.lost_streak = 0;
    }

    /// The peer lost a hedge; the reason to eject it, when this makes one.
    pub fn on_lost_hedge(&mut self, rules: &EjectRules) -> Option<EjectReason> {
        self.lost_streak = self.lost_streak.saturating_add(1);
        (self.lost_streak >= rules.lost_hedges).then_some(EjectReason::LostHedges(self.lost_streak))
    }

    /// Judges the peer's median against its team's (either unknown: no verdict, and a slow
    /// spell is not interrupted); the reason to eject it, when it has been slow long enough.
    pub fn judge_latency(
        &mut self,
        now: Instant,
        median: Option<Duration>,
        team_median: Option<Duration>,
        rules: &EjectRules,
    ) -> Option<EjectReason> {
        let (Some(median), Some(team_median)) = (median, team_median) else {
            return None;
        };
        let slow = median >= rules.least_slow
            && median.as_secs_f64() >= rules.ratio * team_median.as_secs_f64();
        if !slow {
            self.slow_since = None;
            return None;
        }
        let since = *self.slow_since.get_or_insert(now);
        (now.duration_since(since) >= rules.after).then_some(EjectReason::Slow {
            median,
            team_median,
        })
    }

    /// Ejects the peer from `now` for the rules' duration.
    pub fn eject(&mut self, now: Instant, rules: &EjectRules) {
        self.ejected_until = Some(now + rules.eject_for);
        self.lost_streak = 0;
        self.slow_since = None;
    }

    /// Whether the peer is ejected at `now`; an ejection past its end is lifted here.
    pub fn ejected(&mut self, now: Instant) -> Ejected {
        match self.ejected_until {
            Some(until) if now < until => Ejected::Yes,
            Some(_) => {
                self.ejected_until = None;
                Ejected::JustEnded
            }
            None => Ejected::No,
        }
    }

    /// Whether the peer is ejected at `now`, without lifting anything.
    pub fn is_ejected_at(&self, now: Instant) -> bool {
        self.ejected_until.is_some_and(|until| now < until)
    }
}

/// Most members of a team of `team_size` that may be ejected at once: `share` of them, at
/// least one.
pub fn allowed_ejections(team_size: usize, share: f64) -> usize {
    ((team_size as f64 * share).floor() as usize).max(1)
}

/// The median of some durations (the lower middle of an even count); `None` when empty.
pub fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort_unstable();
    let middle = values.len().checked_sub(1)? / 2;
    values.get(middle).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn rules() -> EjectRules {
        EjectRules {
            ratio: 5.0,
            after: Duration::from_secs(3),
            lost_hedges: 3,
            eject_for: Duration::from_secs(5),
            least_slow: 5 * MS,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lost_hedges_in_a_row_eject_and_an_answer_resets_the_streak() {
        let mut s = OutlierState::default();
        assert_eq!(s.on_lost_hedge(&rules()), None);
        assert_eq!(s.on_lost_hedge(&rules()), None);
        s.on_answer();
        assert_eq!(s.on_lost_hedge(&rules()), None);
        assert_eq!(s.on_lost_hedge(&rules()), None);
        assert_eq!(s.on_lost_hedge(&rules()), Some(EjectReason::LostHedges(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_slow_against_its_team_for_long_enough_is_ejected_then_tried_again() {
        let mut s = OutlierState::default();
        let judge = |s: &mut OutlierState, median: u32| {
            s.judge_latency(Instant::now(), Some(median * MS), Some(10 * MS), &rules())
        };
        assert_eq!(judge(&mut s, 60), None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(judge(&mut s, 60), None);
        // A fast spell restarts the count.
        assert_eq!(judge(&mut s, 20), None);
        assert_eq!(judge(&mut s, 60), None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(judge(&mut s, 60), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let reason = judge(&mut s, 60).expect("slow for 3 s");
        assert_eq!(reason.name(), "slow");
        // Unknown team latency: no verdict either way.
        assert_eq!(
            s.judge_latency(Instant::now(), Some(60 * MS), None, &rules()),
            None
        );

        s.eject(Instant::now(), &rules());
        assert_eq!(s.ejected(Instant::now()), Ejected::Yes);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(s.ejected(Instant::now()), Ejected::JustEnded);
        assert_eq!(s.ejected(Instant::now()), Ejected::No);
        // Tried again with a clean slate: being slow must last the full time again.
        assert_eq!(judge(&mut s, 60), None);
    }

    #[test]
    fn tiny_medians_are_never_outliers_and_a_team_keeps_members() {
        let mut s = OutlierState::default();
        let now = Instant::now();
        let r = EjectRules {
            after: Duration::ZERO,
            ..rules()
        };
        assert_eq!(s.judge_latency(now, Some(4 * MS), Some(MS / 10), &r), None);
        assert!(s.judge_latency(now, Some(6 * MS), Some(MS), &r).is_some());
        assert_eq!(allowed_ejections(3, 0.5), 1);
        assert_eq!(allowed_ejections(4, 0.5), 2);
        assert_eq!(allowed_ejections(2, 0.0), 1);
        assert_eq!(median(vec![3 * MS, MS, 2 * MS]), Some(2 * MS));
        assert_eq!(median(vec![]), None);
    }
}
