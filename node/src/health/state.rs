//! The node's self-assessed state: HEALTHY → WARNING → CRITICAL → FAILING.
//!
//! Each load sample (average latency, active requests, result-queue size) is classified against
//! warning/critical thresholds; FAILING is any metric at `failing_factor` × its critical
//! threshold, and the worst metric decides. The [`StateTracker`] worsens at once but improves only
//! after `recovery_samples` consecutive samples calling for a better state, and then moves to the
//! worst state those samples called for. It keeps the transition history, how often each state was
//! entered and how long it was held. Pure: time is passed in, nothing is logged here; the caller
//! logs [`transition_line`] and [`status_line`], whose shapes old tools grep.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How many transitions a [`StateSnapshot`] keeps, the most recent last.
pub const HISTORY_LIMIT: usize = 64;

/// The node's state, ordered by severity (`Healthy < Warning < Critical < Failing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// All metrics below their warning thresholds.
    Healthy,
    /// Some metric at or above its warning threshold.
    Warning,
    /// Some metric at or above its critical threshold.
    Critical,
    /// Some metric at or above `failing_factor` × its critical threshold.
    Failing,
}

impl NodeState {
    /// Every state, from the mildest to the most severe.
    pub const ALL: [NodeState; 4] = [Self::Healthy, Self::Warning, Self::Critical, Self::Failing];

    /// Lower-case name as logged and exported: "healthy", "warning", "critical", "failing".
    pub fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Failing => "failing",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub use overlay::config::StateThresholds;

/// The thresholds of each metric, in tie-break order.
fn metrics(t: &StateThresholds) -> [Metric; 3] {
    let metric = |name, unit, warning, critical| Metric {
        name,
        unit,
        warning,
        critical,
    };
    [
        metric(
            "latency",
            " ms",
            t.latency_warning_ms,
            t.latency_critical_ms,
        ),
        metric("active", "", t.active_warning, t.active_critical),
        metric("queue", "", t.queue_warning, t.queue_critical),
    ]
}
/// One metric's name, unit as logged, and thresholds.
struct Metric {
    name: &'static str,
    unit: &'static str,
    warning: f64,
    critical: f64,
}

/// One load measurement of the node.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadSample {
    /// Average latency of recent requests, in milliseconds.
    pub avg_latency_ms: f64,
    /// Requests being served now.
    pub active: u32,
    /// Results waiting in the result queue.
    pub queue: u32,
}

/// The state a sample calls for, with the reason naming the metric that decided it, e.g.
/// "active 95 >= 90" or "latency 1200 ms >= 1000 ms"; a healthy reason lists the values:
/// "latency 12 ms, active 3, queue 0". The worst metric wins (ties: latency, then active, then
/// queue); FAILING when any metric >= `failing_factor` × its critical threshold.
pub fn classify(sample: &LoadSample, t: &StateThresholds) -> (NodeState, String) {
    let values = [
        sample.avg_latency_ms,
        f64::from(sample.active),
        f64::from(sample.queue),
    ];
    let mut worst: Option<(NodeState, String)> = None;
    for (m, value) in metrics(t).into_iter().zip(values) {
        let Some((state, limit)) = level(value, &m, t.failing_factor) else {
            continue;
        };
        if worst.as_ref().is_none_or(|(w, _)| state > *w) {
            let unit = m.unit;
            let reason = format!("{} {}{unit} >= {}{unit}", m.name, num(value), num(limit));
            worst = Some((state, reason));
        }
    }
    worst.unwrap_or_else(|| {
        let reason = format!(
            "latency {} ms, active {}, queue {}",
            num(sample.avg_latency_ms),
            sample.active,
            sample.queue
        );
        (NodeState::Healthy, reason)
    })
}

/// The non-healthy state one metric calls for, with the threshold it reached.
fn level(value: f64, m: &Metric, factor: f64) -> Option<(NodeState, f64)> {
    let failing = m.critical * factor;
    if value >= failing {
        Some((NodeState::Failing, failing))
    } else if value >= m.critical {
        Some((NodeState::Critical, m.critical))
    } else if value >= m.warning {
        Some((NodeState::Warning, m.warning))
    } else {
        None
    }
}

/// A number as logged: at most one decimal, none when whole ("12", "12.5").
fn num(value: f64) -> String {
    let text = format!("{value:.1}");
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// One change of state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// State left.
    pub from: NodeState,
    /// State entered.
    pub to: NodeState,
    /// Reason of the sample that called for the new state.
    pub reason: String,
    /// Seconds since the tracker started.
    pub at_s: f64,
}

/// Samples calling for a better state than the current one, in a row.
#[derive(Clone, Debug)]
struct Recovery {
    worst: NodeState,
    reason: String,
    count: u32,
}

/// Tracks the node's state from load samples; a plain struct, the caller wraps it in a Mutex.
#[derive(Clone, Debug)]
pub struct StateTracker {
    thresholds: StateThresholds,
    started: Instant,
    state: NodeState,
    since: Instant,
    reason: String,
    entered: [u64; 4],
    finished_time: [Duration; 4],
    history: VecDeque<Transition>,
    transition_count: u64,
    recovery: Option<Recovery>,
}

impl StateTracker {
    /// A tracker starting Healthy at `now`; the thresholds are checked when the config loads
    /// (invalid ones do not panic, they just classify oddly).
    pub fn new(thresholds: StateThresholds, now: Instant) -> Self {
        Self {
            thresholds,
            started: now,
            state: NodeState::Healthy,
            since: now,
            reason: "no samples yet".to_owned(),
            entered: [1, 0, 0, 0],
            finished_time: [Duration::ZERO; 4],
            history: VecDeque::new(),
            transition_count: 0,
            recovery: None,
        }
    }

    /// Feeds one sample. Worsening applies at once; improving only after `recovery_samples`
    /// consecutive samples calling for a better state, and then to the worst state among those
    /// samples. Returns the transition when the state changed.
    pub fn observe(&mut self, sample: LoadSample, now: Instant) -> Option<Transition> {
        let (target, reason) = classify(&sample, &self.thresholds);
        self.reason.clone_from(&reason);
        if target >= self.state {
            self.recovery = None;
            return (target > self.state).then(|| self.move_to(target, reason, now));
        }
        let count = self.recovery.as_ref().map_or(0, |r| r.count) + 1;
        let recovery = match self.recovery.take() {
            Some(r) if r.worst > target => Recovery { count, ..r },
            _ => Recovery {
                worst: target,
                reason,
                count,
            },
        };
        if recovery.count >= self.thresholds.recovery_samples.max(1) {
            return Some(self.move_to(recovery.worst, recovery.reason, now));
        }
        self.recovery = Some(recovery);
        None
    }

    fn move_to(&mut self, to: NodeState, reason: String, now: Instant) -> Transition {
        let now = now.max(self.since);
        self.finished_time[self.state.index()] += now - self.since;
        let transition = Transition {
            from: self.state,
            to,
            reason,
            at_s: (now - self.started).as_secs_f64(),
        };
        self.state = to;
        self.since = now;
        self.entered[to.index()] += 1;
        self.transition_count += 1;
        if self.history.len() == HISTORY_LIMIT {
            self.history.pop_front();
        }
        self.history.push_back(transition.clone());
        transition
    }

    /// The current state.
    pub fn state(&self) -> NodeState {
        self.state
    }

    /// Everything the tracker knows, with the current stretch counted up to `now`.
    pub fn snapshot(&self, now: Instant) -> StateSnapshot {
        let now = now.max(self.since);
        let total = now - self.started;
        let per_state = NodeState::ALL
            .iter()
            .map(|&state| {
                let mut time = self.finished_time[state.index()];
                if state == self.state {
                    time += now - self.since;
                }
                StateStats {
                    state,
                    entered: self.entered[state.index()],
                    time_s: time.as_secs_f64(),
                    probability: share(time, total, state == self.state),
                }
            })
            .collect();
        StateSnapshot {
            state: self.state,
            reason: self.reason.clone(),
            since_s: (now - self.since).as_secs_f64(),
            per_state,
            transitions: self.history.iter().cloned().collect(),
            transition_count: self.transition_count,
        }
    }
}

/// Share of `total` spent in a state; with no time elapsed the current state has it all.
fn share(time: Duration, total: Duration, current: bool) -> f64 {
    if total.is_zero() {
        return if current { 1.0 } else { 0.0 };
    }
    (time.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 1.0)
}

/// What a tracker reports: for metrics, the status endpoint and the logs.
#[derive(Clone, Debug, Serialize)]
pub struct StateSnapshot {
    /// The current state.
    pub state: NodeState,
    /// Reason of the latest sample ("no samples yet" before the first).
    pub reason: String,
    /// Seconds in the current state.
    pub since_s: f64,
    /// One entry per [`NodeState::ALL`], in order.
    pub per_state: Vec<StateStats>,
    /// Recent transitions, most recent last, at most [`HISTORY_LIMIT`].
    pub transitions: Vec<Transition>,
    /// Transitions since the tracker started, including those dropped from `transitions`.
    pub transition_count: u64,
}

/// Counts and time of one state.
#[derive(Clone, Debug, Serialize)]
pub struct StateStats {
    /// The state.
    pub state: NodeState,
    /// Times entered (the initial healthy counts 1).
    pub entered: u64,
    /// Total seconds spent in it, current stretch included.
    pub time_s: f64,
    /// `time_s` / total elapsed, in 0..=1 (the current state is 1 when no time elapsed).
    pub probability: f64,
}

/// The status log line: `[StateTracker] B state: healthy (latency 12 ms, active 3, queue 0)`.
pub fn status_line(node: &str, snap: &StateSnapshot) -> String {
    format!(
        "[StateTracker] {node} state: {} ({})",
        snap.state, snap.reason
    )
}

/// The transition log line: `[StateTracker] B state transition: healthy -> warning (active 75 >= 70)`.
pub fn transition_line(node: &str, t: &Transition) -> String {
    format!(
        "[StateTracker] {node} state transition: {} -> {} ({})",
        t.from, t.to, t.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(avg_latency_ms: f64, active: u32, queue: u32) -> LoadSample {
        LoadSample {
            avg_latency_ms,
            active,
            queue,
        }
    }

    fn class(latency: f64, active: u32, queue: u32) -> (NodeState, String) {
        classify(&sample(latency, active, queue), &StateThresholds::default())
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn classify_healthy_lists_the_values() {
        assert_eq!(
            class(12.0, 3, 0),
            (
                NodeState::Healthy,
                "latency 12 ms, active 3, queue 0".into()
            )
        );
        assert_eq!(class(12.25, 0, 0).1, "latency 12.2 ms, active 0, queue 0");
        assert_eq!(class(999.9, 69, 29).0, NodeState::Healthy);
    }

    #[test]
    fn classify_latency_edges() {
        assert_eq!(
            class(1000.0, 0, 0),
            (NodeState::Warning, "latency 1000 ms >= 1000 ms".into())
        );
        assert_eq!(class(1200.0, 0, 0).1, "latency 1200 ms >= 1000 ms");
        assert_eq!(class(4999.9, 0, 0).0, NodeState::Warning);
        assert_eq!(
            class(5000.0, 0, 0),
            (NodeState::Critical, "latency 5000 ms >= 5000 ms".into())
        );
        assert_eq!(class(9999.9, 0, 0).0, NodeState::Critical);
        assert_eq!(
            class(10000.0, 0, 0),
            (NodeState::Failing, "latency 10000 ms >= 10000 ms".into())
        );
        assert_eq!(class(f64::INFINITY, 0, 0).0, NodeState::Failing);
    }

    #[test]
    fn classify_active_edges() {
        assert_eq!(class(0.0, 69, 0).0, NodeState::Healthy);
        assert_eq!(
            class(0.0, 70, 0),
            (NodeState::Warning, "active 70 >= 70".into())
        );
        assert_eq!(class(0.0, 89, 0).0, NodeState::Warning);
        assert_eq!(
            class(0.0, 95, 0),
            (NodeState::Critical, "active 95 >= 90".into())
        );
        assert_eq!(class(0.0, 179, 0).0, NodeState::Critical);
        assert_eq!(
            class(0.0, 180, 0),
            (NodeState::Failing, "active 180 >= 180".into())
        );
    }

    #[test]
    fn classify_queue_edges() {
        assert_eq!(class(0.0, 0, 29).0, NodeState::Healthy);
        assert_eq!(
            class(0.0, 0, 30),
            (NodeState::Warning, "queue 30 >= 30".into())
        );
        assert_eq!(
            class(0.0, 0, 50),
            (NodeState::Critical, "queue 50 >= 50".into())
        );
        assert_eq!(class(0.0, 0, 99).0, NodeState::Critical);
        assert_eq!(
            class(0.0, 0, 100),
            (NodeState::Failing, "queue 100 >= 100".into())
        );
    }

    #[test]
    fn classify_worst_metric_wins_and_ties_go_to_the_first() {
        assert_eq!(
            class(1500.0, 95, 31),
            (NodeState::Critical, "active 95 >= 90".into())
        );
        assert_eq!(
            class(1500.0, 0, 120),
            (NodeState::Failing, "queue 120 >= 100".into())
        );
        assert_eq!(class(1500.0, 75, 35).1, "latency 1500 ms >= 1000 ms");
    }

    #[test]
    fn classify_uses_configured_thresholds() {
        let t = StateThresholds {
            active_warning: 5.0,
            active_critical: 10.0,
            failing_factor: 3.0,
            ..Default::default()
        };
        assert_eq!(classify(&sample(0.0, 29, 0), &t).0, NodeState::Critical);
        assert_eq!(
            classify(&sample(0.0, 30, 0), &t),
            (NodeState::Failing, "active 30 >= 30".into())
        );
    }

    #[test]
    fn worsening_applies_at_once() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0);
        assert_eq!(tracker.observe(sample(5.0, 1, 0), t0), None);
        let tr = tracker
            .observe(sample(0.0, 75, 0), t0 + secs(2))
            .expect("transition");
        assert_eq!(
            (tr.from, tr.to, tr.reason.as_str(), tr.at_s),
            (
                NodeState::Healthy,
                NodeState::Warning,
                "active 75 >= 70",
                2.0
            )
        );
        let tr = tracker
            .observe(sample(0.0, 0, 100), t0 + secs(3))
            .expect("transition");
        assert_eq!((tr.from, tr.to), (NodeState::Warning, NodeState::Failing));
        assert_eq!(tracker.state(), NodeState::Failing);
    }

    #[test]
    fn improving_waits_for_recovery_samples() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0);
        tracker.observe(sample(0.0, 95, 0), t0);
        assert_eq!(tracker.observe(sample(1.0, 0, 0), t0 + secs(1)), None);
        assert_eq!(tracker.observe(sample(1.0, 0, 0), t0 + secs(2)), None);
        // A sample at the current state breaks the run.
        assert_eq!(tracker.observe(sample(0.0, 95, 0), t0 + secs(3)), None);
        assert_eq!(tracker.observe(sample(1.0, 0, 0), t0 + secs(4)), None);
        assert_eq!(tracker.observe(sample(1.0, 0, 0), t0 + secs(5)), None);
        let tr = tracker
            .observe(sample(7.0, 2, 1), t0 + secs(6))
            .expect("recovers");
        assert_eq!((tr.from, tr.to), (NodeState::Critical, NodeState::Healthy));
        assert_eq!(tr.reason, "latency 7 ms, active 2, queue 1");
    }

    #[test]
    fn improving_goes_to_the_worst_state_of_the_run() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0);
        tracker.observe(sample(0.0, 200, 0), t0);
        tracker.observe(sample(0.0, 0, 0), t0);
        tracker.observe(sample(0.0, 95, 0), t0);
        let tr = tracker.observe(sample(0.0, 0, 0), t0).expect("recovers");
        assert_eq!(
            (tr.from, tr.to, tr.reason.as_str()),
            (NodeState::Failing, NodeState::Critical, "active 95 >= 90")
        );
    }

    #[test]
    fn one_recovery_sample_improves_at_once() {
        let t0 = Instant::now();
        let t = StateThresholds {
            recovery_samples: 1,
            ..Default::default()
        };
        let mut tracker = StateTracker::new(t, t0);
        tracker.observe(sample(0.0, 75, 0), t0);
        assert!(tracker.observe(sample(0.0, 0, 0), t0).is_some());
        assert_eq!(tracker.state(), NodeState::Healthy);
    }

    #[test]
    fn history_is_capped_but_counted() {
        let t0 = Instant::now();
        let t = StateThresholds {
            recovery_samples: 1,
            ..Default::default()
        };
        let mut tracker = StateTracker::new(t, t0);
        for i in 0..100u64 {
            let active = if i % 2 == 0 { 75 } else { 0 };
            assert!(tracker
                .observe(sample(0.0, active, 0), t0 + secs(i))
                .is_some());
        }
        let snap = tracker.snapshot(t0 + secs(100));
        assert_eq!(snap.transition_count, 100);
        assert_eq!(snap.transitions.len(), HISTORY_LIMIT);
        assert_eq!(snap.transitions.last().map(|t| t.at_s), Some(99.0));
        assert_eq!(snap.transitions[0].at_s, 36.0);
    }

    #[test]
    fn time_and_probability_accounting() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0);
        tracker.observe(sample(0.0, 75, 0), t0 + secs(6)); // healthy 0..6
        tracker.observe(sample(0.0, 95, 0), t0 + secs(8)); // warning 6..8
        let snap = tracker.snapshot(t0 + secs(10)); // critical 8..10
        assert_eq!(snap.state, NodeState::Critical);
        assert_eq!(snap.since_s, 2.0);
        let got: Vec<_> = snap
            .per_state
            .iter()
            .map(|s| (s.state, s.entered, s.time_s, s.probability))
            .collect();
        assert_eq!(
            got,
            vec![
                (NodeState::Healthy, 1, 6.0, 0.6),
                (NodeState::Warning, 1, 2.0, 0.2),
                (NodeState::Critical, 1, 2.0, 0.2),
                (NodeState::Failing, 0, 0.0, 0.0),
            ]
        );
    }

    #[test]
    fn no_elapsed_time_gives_the_current_state_everything() {
        let t0 = Instant::now();
        let tracker = StateTracker::new(StateThresholds::default(), t0);
        let snap = tracker.snapshot(t0);
        let probs: Vec<_> = snap.per_state.iter().map(|s| s.probability).collect();
        assert_eq!(probs, vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            (snap.reason.as_str(), snap.transition_count),
            ("no samples yet", 0)
        );
    }

    #[test]
    fn instants_going_backwards_do_not_panic_or_subtract() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0 + secs(5));
        let tr = tracker.observe(sample(0.0, 75, 0), t0).expect("transition");
        assert_eq!(tr.at_s, 0.0);
        let snap = tracker.snapshot(t0);
        assert!(snap.per_state.iter().all(|s| s.time_s == 0.0));
    }

    #[test]
    fn log_lines_have_the_fixed_shapes() {
        let t0 = Instant::now();
        let mut tracker = StateTracker::new(StateThresholds::default(), t0);
        tracker.observe(sample(12.0, 3, 0), t0);
        let line = status_line("B", &tracker.snapshot(t0));
        assert_eq!(
            line,
            "[StateTracker] B state: healthy (latency 12 ms, active 3, queue 0)"
        );
        let tr = tracker.observe(sample(0.0, 75, 0), t0).expect("transition");
        assert_eq!(
            transition_line("B", &tr),
            "[StateTracker] B state transition: healthy -> warning (active 75 >= 70)"
        );
    }

    #[test]
    fn names_order_and_serialization() {
        let names: Vec<_> = NodeState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["healthy", "warning", "critical", "failing"]);
        assert!(
            NodeState::Healthy < NodeState::Warning && NodeState::Critical < NodeState::Failing
        );
        let t0 = Instant::now();
        let json =
            serde_json::to_value(StateTracker::new(StateThresholds::default(), t0).snapshot(t0))
                .expect("json");
        assert_eq!(json["state"], "healthy");
        assert_eq!(json["per_state"][3]["state"], "failing");
    }
}
