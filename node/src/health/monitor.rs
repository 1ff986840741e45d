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
use crate::hooks::{Event, EventKind};
use crate::node::Node;

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

/// Samples the node's load forever; abort the task to stop.
pub async fn run_monitor(node: Arc<Node>, reporter: HealthReporter) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = Instant::now();
    loop {
        tick.tick().await;
        let sample = LoadSample {
            avg_latency_ms: node.times.average_ms_within(LATENCY_WINDOW),
            active: node.admission.total_active(),
            queue: node.results.usage().0 as u32,
        };
        let transition = node.state.observe(sample);
        if let Some(t) = transition {
            tracing::warn!("{}", transition_line(node.id().as_str(), &t));
            set_serving(&reporter, t.to).await;
            fire(&node, EventKind::StateChanged, &t.from, &t.to, &t.reason);
            if t.to >= NodeState::Critical && t.from < NodeState::Critical {
                fire(
                    &node,
                    EventKind::OverloadDetected,
                    &t.from,
                    &t.to,
                    &t.reason,
                );
            }
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = Instant::now();
            tracing::info!("{}", node.state.status_line(node.id().as_str()));
        }
    }
}

async fn set_serving(reporter: &HealthReporter, state: NodeState) {
    let status = if state == NodeState::Failing {
        ServingStatus::NotServing
    } else {
        ServingStatus::Serving
    };
    reporter.set_service_status("", status).await;
}

fn fire(node: &Node, kind: EventKind, from: &NodeState, to: &NodeState, reason: &str) {
    if node.hooks.wants(kind) {
        node.hooks.fire(
            Event::new(kind, node.id().as_str())
                .with("from", from.name())
                .with("to", to.name())
                .with("reason", reason),
        );
    }
}
