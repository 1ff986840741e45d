//! Per-neighbour circuit breaker: closed → open → half-open → closed.
//!
//! Closed lets every call through and counts consecutive failures; at `failure_threshold` it
//! opens. Open refuses calls for `open_for`, then [`CircuitBreaker::allow`] moves it to half-open
//! and admits exactly one trial call. The trial's success closes it (and resets `open_for`); its
//! failure reopens it with `open_for` doubled, capped at `max_open_for`. A trial whose outcome is
//! never reported (a cancelled call) is given up after the current `open_for`, and another trial
//! is admitted, so a lost outcome cannot wedge the breaker. Pure: time is passed in.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The state of a [`CircuitBreaker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go out; failures are counted.
    Closed,
    /// Calls are refused until `open_for` has passed.
    Open,
    /// One trial call is out; its outcome closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    /// Name as logged and exported: "closed", "open", "half_open".
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// When a breaker opens and for how long.
#[derive(Clone, Debug)]
pub struct BreakerSettings {
    /// Consecutive failures that open a closed breaker (0 counts as 1).
    pub failure_threshold: u32,
    /// How long an opened breaker refuses calls before a trial call.
    pub open_for: Duration,
    /// Cap on `open_for`, which doubles each time a half-open trial fails.
    pub max_open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            open_for: Duration::from_secs(1),
            max_open_for: Duration::from_secs(8),
        }
    }
}

/// A state change, `(from, to)`.
pub type BreakerTransition = (BreakerState, BreakerState);

/// A circuit breaker for calls to one neighbour; a plain struct, the caller wraps it in a Mutex.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: BreakerState,
    /// When the breaker last opened, or when the current trial was admitted (half-open).
    since: Option<Instant>,
    open_for: Duration,
    failures: u32,
    opened: u64,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        let open_for = settings.open_for.min(settings.max_open_for);
        Self {
            settings,
            state: BreakerState::Closed,
            since: None,
            open_for,
            failures: 0,
            opened: 0,
        }
    }

    /// May a call go out now? Closed: yes. Open: no until `open_for` has passed, then it becomes
    /// HalfOpen and admits exactly one trial call (returns true once); while that trial is
    /// outstanding further calls get false (until `open_for` passes again with no outcome, when
    /// the trial is taken as lost and a new one admitted).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open | BreakerState::HalfOpen if self.waited(now) => {
                self.state = BreakerState::HalfOpen;
                self.since = Some(now);
                true
            }
            BreakerState::Open | BreakerState::HalfOpen => false,
        }
    }

    /// Has `open_for` passed since the breaker opened (or since the trial went out)?
    fn waited(&self, now: Instant) -> bool {
        self.since
            .is_none_or(|since| now.saturating_duration_since(since) >= self.open_for)
    }

    /// A call (or health probe) succeeded: closes the breaker, resets the failure count and the
    /// `open_for` backoff. Returns the transition when the state changed.
    pub fn on_success(&mut self, _now: Instant) -> Option<BreakerTransition> {
        self.failures = 0;
        self.open_for = self.settings.open_for.min(self.settings.max_open_for);
        self.since = None;
        self.set(BreakerState::Closed)
    }

    /// A call (or health probe) failed: counts it; opens at `failure_threshold` consecutive
    /// failures when closed, and at once when half-open (doubling `open_for`). Open stays open
    /// without restarting its wait.
    pub fn on_failure(&mut self, now: Instant) -> Option<BreakerTransition> {
        self.failures = self.failures.saturating_add(1);
        match self.state {
            BreakerState::Closed if self.failures >= self.settings.failure_threshold.max(1) => {
                self.open(now)
            }
            BreakerState::HalfOpen => self.open(now),
            BreakerState::Closed | BreakerState::Open => None,
        }
    }

    /// Opens at once (e.g. the health checker declared the neighbour failed); an open breaker
    /// stays as it is, a half-open one reopens as if its trial failed.
    pub fn trip(&mut self, now: Instant) -> Option<BreakerTransition> {
        match self.state {
            BreakerState::Open => None,
            BreakerState::Closed | BreakerState::HalfOpen => self.open(now),
        }
    }

    fn open(&mut self, now: Instant) -> Option<BreakerTransition> {
        if self.state == BreakerState::HalfOpen {
            self.open_for = self
                .open_for
                .saturating_mul(2)
                .min(self.settings.max_open_for);
        }
        self.since = Some(now);
        self.opened += 1;
        self.set(BreakerState::Open)
    }

    fn set(&mut self, to: BreakerState) -> Option<BreakerTransition> {
        let from = std::mem::replace(&mut self.state, to);
        (from != to).then_some((from, to))
    }

    /// Whether a call now would be refused: open and still cooling down. Asks without
    /// claiming the half-open trial (see [`Self::allow`]).
    pub fn refuses(&self, now: Instant) -> bool {
        self.state == BreakerState::Open && !self.waited(now)
    }

    /// The current state; Open even once `open_for` has elapsed, until [`Self::allow`] moves it
    /// to HalfOpen.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// Times the breaker opened.
    pub fn opened_count(&self) -> u64 {
        self.opened
    }

    /// How long the breaker stays open this time (or would, if it opened now).
    pub fn open_for(&self) -> Duration {
        self.open_for
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::{Closed, HalfOpen, Open};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings::default())
    }

    /// A default breaker opened by three failures at `t0`.
    fn opened(t0: Instant) -> CircuitBreaker {
        let mut b = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.on_failure(t0), Some((Closed, Open)));
        b
    }

    #[test]
    fn closed_allows_and_opens_at_threshold() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert!(b.allow(t0));
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(
            (b.state(), b.consecutive_failures(), b.opened_count()),
            (Closed, 2, 0)
        );
        assert_eq!(b.on_failure(t0), Some((Closed, Open)));
        assert_eq!(
            (b.state(), b.consecutive_failures(), b.opened_count()),
            (Open, 3, 1)
        );
    }

    #[test]
    fn success_resets_the_failure_count_while_closed() {
        let t0 = Instant::now();
        let mut b = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.on_success(t0), None);
        assert_eq!(b.consecutive_failures(), 0);
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(), Closed);
    }

    #[test]
    fn open_refuses_until_open_for_then_admits_one_trial() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + ms(999)));
        assert_eq!(b.state(), Open);
        assert!(b.allow(t0 + ms(1000)));
        assert_eq!(b.state(), HalfOpen);
        assert!(!b.allow(t0 + ms(1000)));
        assert!(!b.allow(t0 + ms(1500)));
    }

    #[test]
    fn state_reports_open_after_open_for_until_allow() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        // Long past open_for, but nothing asked yet.
        assert_eq!(b.state(), Open);
        assert!(b.allow(t0 + ms(5000)));
        assert_eq!(b.state(), HalfOpen);
    }

    #[test]
    fn trial_success_closes_and_resets() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert!(b.allow(t0 + ms(1000)));
        assert_eq!(b.on_success(t0 + ms(1010)), Some((HalfOpen, Closed)));
        assert_eq!(
            (b.state(), b.consecutive_failures(), b.open_for()),
            (Closed, 0, ms(1000))
        );
        assert!(b.allow(t0 + ms(1011)));
    }

    #[test]
    fn trial_failure_reopens_with_doubled_open_for_capped() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let mut now = t0;
        for expected in [2000, 4000, 8000, 8000, 8000] {
            now += b.open_for();
            assert!(b.allow(now));
            assert_eq!(b.on_failure(now), Some((HalfOpen, Open)));
            assert_eq!(b.open_for(), ms(expected));
            assert!(!b.allow(now + ms(expected - 1)));
        }
        assert_eq!(b.opened_count(), 6);
    }

    #[test]
    fn success_after_backoff_resets_open_for() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert!(b.allow(t0 + ms(1000)));
        b.on_failure(t0 + ms(1000));
        assert_eq!(b.open_for(), ms(2000));
        assert_eq!(b.on_success(t0 + ms(1100)), Some((Open, Closed)));
        assert_eq!(b.open_for(), ms(1000));
        b.trip(t0 + ms(1200));
        assert!(!b.allow(t0 + ms(2199)));
        assert!(b.allow(t0 + ms(2200)));
    }

    #[test]
    fn failures_while_open_neither_transition_nor_extend() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(b.on_failure(t0 + ms(900)), None);
        assert_eq!(b.consecutive_failures(), 4);
        assert!(b.allow(t0 + ms(1000)));
    }

    #[test]
    fn refuses_only_while_cooling_down_and_claims_nothing() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert!(b.refuses(t0 + ms(999)));
        assert!(!b.refuses(t0 + ms(1000)));
        assert_eq!(b.state(), Open, "asking does not move it to half-open");
        assert!(b.allow(t0 + ms(1000)), "the trial is still there to claim");
        assert!(!breaker().refuses(t0));
    }

    #[test]
    fn trip_opens_at_once() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert_eq!(b.trip(t0), Some((Closed, Open)));
        assert_eq!(b.trip(t0 + ms(500)), None);
        assert!(!b.allow(t0 + ms(999)));
        assert!(b.allow(t0 + ms(1000)));
        assert_eq!(b.trip(t0 + ms(1000)), Some((HalfOpen, Open)));
        assert_eq!((b.open_for(), b.opened_count()), (ms(2000), 2));
    }

    #[test]
    fn lost_trial_is_replaced_after_open_for() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert!(b.allow(t0 + ms(1000)));
        assert!(!b.allow(t0 + ms(1999)));
        assert!(b.allow(t0 + ms(2000)));
        assert!(!b.allow(t0 + ms(2001)));
        assert_eq!(b.state(), HalfOpen);
    }

    #[test]
    fn zero_threshold_counts_as_one_and_open_for_is_capped() {
        let t0 = Instant::now();
        let settings = BreakerSettings {
            failure_threshold: 0,
            open_for: ms(50),
            max_open_for: ms(20),
        };
        let mut b = CircuitBreaker::new(settings);
        assert_eq!(b.on_failure(t0), Some((Closed, Open)));
        assert!(b.allow(t0 + ms(20)));
    }

    #[test]
    fn names_and_serialization() {
        assert_eq!(
            [Closed.name(), Open.name(), HalfOpen.name()],
            ["closed", "open", "half_open"]
        );
        assert_eq!(
            serde_json::to_string(&HalfOpen).expect("json"),
            "\"half_open\""
        );
    }
}
