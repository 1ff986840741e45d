//! One measured step with its fault schedule: the load and the events run side by side, then
//! the nodes are restored and the step's fault figures are put together — windows, queries
//! before / during / after, detection times, false alarms and the extra work per query.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use overlay::config::ClusterConfig;
use overlay::proto::RoutingStats;
use serde::{Deserialize, Serialize};

use super::detect::{analyse, read_events, DetectionReport};
use super::execute::{execute, restore, unix_ms, FaultTargets, FiredRecord};
use super::{phase_durations, FaultPlan, FaultWindow, PhaseCounts, PhaseTotals};
use crate::commands::metrics::fetch;
use crate::load::driver::Stop;
use crate::stats::StepMeasure;

/// How long after the step the nodes' logs are read, so recoveries right at the end count.
const SETTLE: Duration = Duration::from_millis(1500);

/// The queries of one phase, summed up.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseSummary {
    /// Seconds the phase lasted.
    pub seconds: f64,
    /// Answered.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
    /// Refused by admission.
    pub rejected: u64,
    /// Answered, declared partial.
    pub partial: u64,
    /// Sent again after a failed attempt.
    pub retried: u64,
    /// Answered per second.
    pub throughput: f64,
    /// p99 of the answered, ms.
    pub p99_ms: f64,
}

impl PhaseSummary {
    fn of(counts: &PhaseCounts, seconds: f64) -> Self {
        PhaseSummary {
            seconds,
            ok: counts.ok,
            failed: counts.failed,
            rejected: counts.rejected,
            partial: counts.partial,
            retried: counts.retried,
            throughput: counts.throughput(seconds),
            p99_ms: counts.p99_ms(),
        }
    }
}

/// Routing work the whole cluster did during the step, from the nodes' counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Amplification {
    /// Measured queries of the step.
    pub queries: u64,
    /// Scan calls between nodes.
    pub peer_calls: i64,
    /// Of which failed.
    pub peer_call_failures: i64,
    /// Slice tasks sent again.
    pub retries: i64,
    /// Slice tasks routed to a replica or past a relay.
    pub failovers: i64,
    /// Slice tasks nobody could serve.
    pub unserved: i64,
}

impl Amplification {
    /// Scan calls between nodes per measured query.
    pub fn calls_per_query(&self) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            self.peer_calls as f64 / self.queries as f64
        }
    }
}

/// What the fault schedule did in one step.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StepFaults {
    /// Events as they fired.
    pub fired: Vec<FiredRecord>,
    /// Fault windows on the step's time axis.
    pub windows: Vec<FaultWindow>,
    /// Queries before the first window.
    pub before: PhaseSummary,
    /// Queries inside any window.
    pub during: PhaseSummary,
    /// Queries after the windows (and between them).
    pub after: PhaseSummary,
    /// Queries inside each window.
    pub per_window: Vec<PhaseSummary>,
    /// Detection and recovery times, false alarms, the nodes' events.
    pub detection: DetectionReport,
    /// Extra work per query over the step (fault windows and calm together).
    pub amplification: Amplification,
    /// What could not be done (an event that failed, a node not restored).
    pub notes: Vec<String>,
}

/// Runs `step` while firing `plan`; then restores the nodes and reads their event logs from
/// `events_dir` (local clusters write them; without it there are no detection times).
#[allow(clippy::too_many_arguments)]
pub async fn run_with_faults(
    step: impl Future<Output = StepMeasure>,
    plan: &FaultPlan,
    targets: &mut FaultTargets<'_>,
    warmup: Duration,
    completed: &AtomicU64,
    stop: Stop,
    events_dir: Option<&Path>,
) -> (StepMeasure, StepFaults) {
    let routing_before = routing_totals(targets.config).await;
    let step_start_ms = unix_ms();
    let measured_start = Instant::now() + warmup;
    let measured_start_ms = step_start_ms + warmup.as_millis() as u64;
    let fired = Mutex::new(Vec::new());
    let measure = {
        tokio::pin!(step);
        let events = execute(plan, targets, measured_start, completed, stop, &fired);
        tokio::select! {
            measure = &mut step => measure,
            () = events => step.await,
        }
    };
    let mut notes = restore(plan, targets).await;
    tokio::time::sleep(SETTLE).await;
    let fired = fired.into_inner().unwrap_or_else(|p| p.into_inner());
    notes.extend(fired.iter().filter_map(|f| {
        f.error.as_ref().map(|e| {
            format!(
                "{} {} at {:.2} s failed: {e}",
                f.fired.action.name(),
                f.fired.target,
                f.fired.at_s
            )
        })
    }));
    let fired_events: Vec<_> = fired.iter().map(|f| f.fired.clone()).collect();
    let windows = plan.windows(&fired_events, measure.elapsed_s);
    let totals = PhaseTotals::tally(&windows, &measure.samples);
    let (before_s, during_s, after_s) = phase_durations(&windows, measure.elapsed_s);
    let detection = match events_dir {
        Some(dir) => analyse(
            &read_events(dir),
            &fired,
            step_start_ms,
            unix_ms(),
            measured_start_ms,
        ),
        None => {
            notes.push("no event logs (remote cluster): detection times unavailable".to_string());
            DetectionReport::default()
        }
    };
    let routing_after = routing_totals(targets.config).await;
    let queries = measure.samples.len() as u64;
    let faults = StepFaults {
        per_window: totals
            .per_window
            .iter()
            .zip(&windows)
            .map(|(counts, w)| {
                let end = w.end_s.unwrap_or(measure.elapsed_s);
                PhaseSummary::of(counts, (end - w.start_s).max(0.0))
            })
            .collect(),
        before: PhaseSummary::of(&totals.before, before_s),
        during: PhaseSummary::of(&totals.during, during_s),
        after: PhaseSummary::of(&totals.after, after_s),
        fired,
        windows,
        detection,
        amplification: Amplification {
            queries,
            peer_calls: routing_after.peer_calls - routing_before.peer_calls,
            peer_call_failures: routing_after.peer_call_failures
                - routing_before.peer_call_failures,
            retries: routing_after.retries - routing_before.retries,
            failovers: routing_after.failovers - routing_before.failovers,
            unserved: routing_after.unserved - routing_before.unserved,
        },
        notes,
    };
    (measure, faults)
}

/// The routing counters of every node that answers, summed. A node restarted during the step
/// starts its counters again, so the step's figures are a lower bound then.
async fn routing_totals(config: &ClusterConfig) -> RoutingStats {
    let mut total = RoutingStats::default();
    for process in config.processes.values() {
        if let Ok(Ok(metrics)) =
            tokio::time::timeout(Duration::from_secs(1), fetch(&process.address())).await
        {
            let r = metrics.routing.unwrap_or_default();
            total.peer_calls += r.peer_calls;
            total.peer_call_failures += r.peer_call_failures;
            total.retries += r.retries;
            total.failovers += r.failovers;
            total.unserved += r.unserved;
        }
    }
    total
}
