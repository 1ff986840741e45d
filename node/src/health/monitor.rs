//! The node's watch on itself: samples its own load twice a second, feeds the state tracker,
//! and on every transition logs it, fires `state_changed` (and `overload_detected` when the
//! node turns critical or failing) and updates the standard gRPC health service (a failing
//! node reports NOT_SERVING).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use overlay::config::StateThresholds;
use overlay::date::unix_ms;
use overlay::proto::{StateTime, StateTransition};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::state::{status_line, transition_line, LoadSample, NodeState, StateTracker, Transition};
use crate::hooks::{Event, EventKind, HookPool};

/// How often the node samples its own load.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// The span of recent queries whose mean processing time is the latency sample: long enough to
/// smooth single slow queries, short enough that an idle node's state recovers.
pub const LATENCY_WINDOW: Duration = Duration::from_secs(5);

/// How often the current state is logged even without a change.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// The state tracker of one node and the wall-clock time it started.
#[derive(Debug)]
pub struct StateMonitor {
    tracker: Mutex<StateTracker>,
    started_unix_ms: u64,
}

impl StateMonitor {
    /// A tracker starting healthy now.
    pub fn new(thresholds: StateThresholds) -> Self {
        Self {
            tracker: Mutex::new(StateTracker::new(thresholds, Instant::now())),
            started_unix_ms: unix_ms(),
        }
    }

    /// The current state.
    pub fn state(&self) -> NodeState {
        self.lock().state()
    }

    /// Metrics fields: state, seconds in it, per-state times and the latest transitions.
    pub fn metrics(&self) -> (String, f64, Vec<StateTime>, Vec<StateTransition>) {
        let snap = self.lock().snapshot(Instant::now());
        let times = snap
            .per_state
            .iter()
            .map(|s| StateTime {
                state: s.state.name().to_string(),
                entered: s.entered as i64,
                time_s: s.time_s,
                probability: s.probability,
            })
            .collect();
        let transitions = snap
            .transitions
            .iter()
            .map(|t| StateTransition {
                from: t.from.name().to_string(),
                to: t.to.name().to_string(),
                reason: t.reason.clone(),
                at_s: t.at_s,
                unix_ms: (self.started_unix_ms as f64 + t.at_s * 1000.0) as i64,
            })
            .collect();
        (
            snap.state.name().to_string(),
            snap.since_s,
            times,
            transitions,
        )
    }

    /// Feeds one load sample; the transition when the state changed.
    pub fn observe(&self, sample: LoadSample) -> Option<Transition> {
        self.lock().observe(sample, Instant::now())
    }

    /// The `[StateTracker] B state: ...` line for now.
    pub fn status_line(&self, node_id: &str) -> String {
        status_line(node_id, &self.lock().snapshot(Instant::now()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateTracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the self-watch reads and tells: the node's load, its state tracker, the hooks to
/// fire on transitions and the standard health service names to update.
pub struct SelfWatch {
    /// This node's id, for log lines and events.
    pub id: String,
    /// The node's current load.
    pub sample: Box<dyn Fn() -> LoadSample + Send + Sync>,
    /// The node's state tracker.
    pub state: Arc<StateMonitor>,
    /// Where transition events go.
    pub hooks: Arc<HookPool>,
    /// The services the standard health service answers for (set where the server is built).
    pub health_services: Vec<&'static str>,
}

/// Samples the node's load forever; abort the task to stop.
pub async fn run_monitor(watch: SelfWatch, reporter: HealthReporter) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = Instant::now();
    loop {
        tick.tick().await;
        if let Some(t) = watch.state.observe((watch.sample)()) {
            tracing::warn!("{}", transition_line(&watch.id, &t));
            let status = serving_status(t.to);
            for service in &watch.health_services {
                reporter.set_service_status(*service, status).await;
            }
            for event in transition_events(&watch.id, &t) {
                watch.hooks.fire(event);
            }
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = Instant::now();
            tracing::info!("{}", watch.state.status_line(&watch.id));
        }
    }
}

/// What the standard health service says in a state: only a failing node stops serving.
fn serving_status(state: NodeState) -> ServingStatus {
    if state == NodeState::Failing {
        ServingStatus::NotServing
    } else {
        ServingStatus::Serving
    }
}

/// The hook events of a transition: `state_changed`, and `overload_detected` when the node
/// turns critical or failing.
fn transition_events(node_id: &str, t: &Transition) -> Vec<Event> {
    let event = |kind| {
        Event::new(kind, node_id)
            .with("from", t.from.name())
            .with("to", t.to.name())
            .with("reason", t.reason.as_str())
    };
    let mut events = vec![event(EventKind::StateChanged)];
    if t.to >= NodeState::Critical && t.from < NodeState::Critical {
        events.push(event(EventKind::OverloadDetected));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(from: NodeState, to: NodeState) -> Transition {
        Transition {
            from,
            to,
            reason: "active 95 >= 90".to_string(),
            at_s: 1.0,
        }
    }

    #[test]
    fn only_a_failing_node_stops_serving() {
        for state in NodeState::ALL {
            let expected = if state == NodeState::Failing {
                ServingStatus::NotServing
            } else {
                ServingStatus::Serving
            };
            assert_eq!(serving_status(state), expected, "{state}");
        }
    }

    #[test]
    fn turning_critical_also_reports_overload() {
        let kinds = |from, to| -> Vec<EventKind> {
            transition_events("A", &transition(from, to))
                .iter()
                .map(|e| e.kind)
                .collect()
        };
        use NodeState::*;
        assert_eq!(
            kinds(Warning, Critical),
            [EventKind::StateChanged, EventKind::OverloadDetected]
        );
        assert_eq!(
            kinds(Healthy, Failing),
            [EventKind::StateChanged, EventKind::OverloadDetected]
        );
        assert_eq!(kinds(Critical, Failing), [EventKind::StateChanged]);
        assert_eq!(kinds(Healthy, Warning), [EventKind::StateChanged]);
        let event = &transition_events("A", &transition(Warning, Critical))[0];
        assert_eq!(event.detail["to"], "critical");
        assert_eq!(event.detail["reason"], "active 95 >= 90");
    }

    #[test]
    fn metrics_carry_state_times_and_transitions() {
        let monitor = StateMonitor::new(StateThresholds::default());
        let busy = LoadSample {
            active: 75,
            ..Default::default()
        };
        let t = monitor.observe(busy).expect("warning at once");
        assert_eq!((t.from, t.to), (NodeState::Healthy, NodeState::Warning));
        let (state, _, times, transitions) = monitor.metrics();
        assert_eq!(state, "warning");
        assert_eq!(times.len(), 4);
        assert_eq!((times[1].state.as_str(), times[1].entered), ("warning", 1));
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].to, "warning");
        assert!(transitions[0].unix_ms as u64 >= monitor.started_unix_ms);
    }
}
