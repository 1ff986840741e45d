//! One measured step with its fault schedule: the load and the events run side by side, then
//! the nodes are restored and the step's fault figures are put together — windows, queries
//! before / during / after, detection times, false alarms and the extra work per query.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use overlay::date::unix_ms;
use serde::{Deserialize, Serialize};

use super::detect::{analyse, read_events, DetectionReport};
use super::execute::{execute, restore, FaultTargets, FiredRecord};
use super::poll::{events_from_looks, split_work, watch, Looks, RoutingWork};
use super::{phase_durations, FaultPlan, FaultWindow, PhaseCounts, PhaseTotals};
use crate::stats::StepMeasure;
use crate::stop::Stop;

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
    /// Time-to-answer p99 of every request, ms (rejections, backoffs and timeouts included).
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

/// Extra routing work per query in one kind of period.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseWork {
    /// Measured queries that completed in the period.
    pub queries: u64,
    /// What the nodes' routing counters grew by in the period.
    pub work: RoutingWork,
}

impl PhaseWork {
    /// `n` per query (0 without queries).
    pub fn per_query(&self, n: u64) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            n as f64 / self.queries as f64
        }
    }
}

/// Routing work the cluster did inside the fault windows and outside them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Amplification {
    /// Inside any fault window.
    pub during: PhaseWork,
    /// Before, between and after the windows.
    pub outside: PhaseWork,
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
    let config = targets.config;
    let step_start_ms = unix_ms();
    let measured_start = Instant::now() + warmup;
    let measured_start_ms = step_start_ms + warmup.as_millis() as u64;
    let fired = Mutex::new(Vec::new());
    let looks = Mutex::new(Looks::new());
    let measure = {
        tokio::pin!(step);
        let events = execute(plan, targets, measured_start, completed, stop, &fired);
        // The watcher never ends by itself: the step's end drops it and the events.
        let side = async { tokio::join!(events, watch(config, &looks)) };
        tokio::select! {
            measure = &mut step => measure,
            _ = side => step.await,
        }
    };
    let mut notes = restore(plan, targets).await;
    tokio::time::sleep(SETTLE).await;
    let fired = fired.into_inner().unwrap_or_else(|p| p.into_inner());
    notes.extend(failure_notes(&fired));
    let fired_events: Vec<_> = fired.iter().map(|f| f.fired.clone()).collect();
    let windows = plan.windows(&fired_events, measure.elapsed_s);
    let looks = looks.into_inner().unwrap_or_else(|p| p.into_inner());
    let node_events = match events_dir {
        Some(dir) => read_events(dir),
        // Without the nodes' logs, their metrics say when each status changed.
        None => events_from_looks(&looks),
    };
    let detection = analyse(
        &node_events,
        &super::network::per_process(&fired, plan),
        step_start_ms,
        unix_ms(),
        measured_start_ms,
    );
    let work = split_work(&looks, &windows, measured_start_ms);
    let faults = figures(&measure, fired, windows, detection, work, notes);
    (measure, faults)
}

/// One note per event that could not be fired.
fn failure_notes(fired: &[FiredRecord]) -> impl Iterator<Item = String> + '_ {
    fired.iter().filter_map(|f| {
        f.error.as_ref().map(|e| {
            format!(
                "{} {} at {:.2} s failed: {e}",
                f.fired.action.name(),
                f.fired.target,
                f.fired.at_s
            )
        })
    })
}

/// The step's fault figures: the queries of each phase and window, what the nodes detected
/// and the routing work (`work`: during the windows, outside them) per query.
fn figures(
    measure: &StepMeasure,
    fired: Vec<FiredRecord>,
    windows: Vec<FaultWindow>,
    detection: DetectionReport,
    work: (RoutingWork, RoutingWork),
    notes: Vec<String>,
) -> StepFaults {
    let totals = PhaseTotals::tally(&windows, &measure.samples);
    let (before_s, during_s, after_s) = phase_durations(&windows, measure.elapsed_s);
    let (work_during, work_outside) = work;
    StepFaults {
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
            during: PhaseWork {
                queries: totals.during.total(),
                work: work_during,
            },
            outside: PhaseWork {
                queries: totals.before.total() + totals.after.total(),
                work: work_outside,
            },
        },
        notes,
    }
}
