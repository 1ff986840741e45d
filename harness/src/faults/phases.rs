//! Queries counted by phase of a step: before the first fault window opened, during a window,
//! and after (once no window is open any more — a gap between two windows counts as after).
//! Pure arithmetic over [`FaultWindow`]s and completion times; the runner feeds it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::FaultWindow;
use crate::latency::{new_histogram, record, LatencySummary};
use crate::stats::{per_second, Outcome, PhaseSample};

/// Where a moment of a step lies relative to the fault windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before the first window opened (the whole step when no fault fired).
    Before,
    /// Inside a window: the first of the list containing the moment.
    During(usize),
    /// After a window closed, outside every window.
    After,
}

/// The phase of `t_s` (seconds since the measured part started); a window contains its start
/// but not its end.
pub fn classify_time(windows: &[FaultWindow], t_s: f64) -> Phase {
    if let Some(i) = windows.iter().position(|w| w.contains(t_s)) {
        return Phase::During(i);
    }
    if t_s < first_start(windows) {
        Phase::Before
    } else {
        Phase::After
    }
}

/// When the first window opened (infinity when none did).
fn first_start(windows: &[FaultWindow]) -> f64 {
    windows
        .iter()
        .map(|w| w.start_s)
        .fold(f64::INFINITY, f64::min)
}

/// Seconds of a step of `step_end_s` measured seconds spent before, during (any window open;
/// overlaps counted once) and after the fault windows; they add up to the step.
pub fn phase_durations(windows: &[FaultWindow], step_end_s: f64) -> (f64, f64, f64) {
    let end = step_end_s.max(0.0);
    let before = first_start(windows).clamp(0.0, end);
    let mut spans: Vec<(f64, f64)> = windows
        .iter()
        .map(|w| {
            let close = w.end_s.unwrap_or(end);
            (w.start_s.clamp(0.0, end), close.clamp(0.0, end))
        })
        .filter(|(open, close)| close > open)
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut during = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (open, close) in spans {
        current = match current {
            Some((o, c)) if open <= c => Some((o, c.max(close))),
            Some((o, c)) => {
                during += c - o;
                Some((open, close))
            }
            None => Some((open, close)),
        };
    }
    if let Some((o, c)) = current {
        during += c - o;
    }
    (before, during, (end - before - during).max(0.0))
}

/// What the queries of one phase (or one window) did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseCounts {
    /// Answered successfully.
    pub ok: u64,
    /// Failed (transport error, timeout, other status).
    pub failed: u64,
    /// Refused by admission.
    pub rejected: u64,
    /// Successful but partial.
    pub partial: u64,
    /// Sent again after a failed attempt.
    pub retried: u64,
    /// Time to answer of every request, whatever its outcome (unanswered ones at their
    /// timeout), µs.
    #[serde(default)]
    pub answers_us: Vec<u64>,
}

impl PhaseCounts {
    /// Counts one query.
    pub fn add(&mut self, sample: &PhaseSample) {
        match sample.outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.answers_us.push(sample.answer_us);
        self.partial += u64::from(sample.partial);
        self.retried += u64::from(sample.retried);
    }

    /// Queries counted, whatever their outcome.
    pub fn total(&self) -> u64 {
        self.ok + self.failed + self.rejected
    }

    /// 99th percentile of the time to answer of every request, ms (0 when there were none):
    /// a phase whose queries were rejected or timed out cannot look fast.
    pub fn p99_ms(&self) -> f64 {
        let mut histogram = new_histogram();
        for &us in &self.answers_us {
            record(&mut histogram, Duration::from_micros(us));
        }
        LatencySummary::of(&histogram).p99_ms
    }

    /// Successful queries per second over `seconds` (0 for an empty phase).
    pub fn throughput(&self, seconds: f64) -> f64 {
        per_second(self.ok, seconds)
    }
}

/// A step's queries by phase, and by window (a query inside overlapping windows counts in
/// each of them, and once in `during`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTotals {
    /// Before the first window opened.
    pub before: PhaseCounts,
    /// Inside any window.
    pub during: PhaseCounts,
    /// After the windows (and between them).
    pub after: PhaseCounts,
    /// Per window, in the order of the windows.
    pub per_window: Vec<PhaseCounts>,
}

impl PhaseTotals {
    /// Counts `samples` against `windows`.
    pub fn tally<'s>(
        windows: &[FaultWindow],
        samples: impl IntoIterator<Item = &'s PhaseSample>,
    ) -> Self {
        let mut totals = PhaseTotals::default();
        for sample in samples {
            totals.add(windows, sample);
        }
        totals
    }

    /// Counts one query and returns its phase.
    pub fn add(&mut self, windows: &[FaultWindow], sample: &PhaseSample) -> Phase {
        if self.per_window.len() < windows.len() {
            self.per_window
                .resize_with(windows.len(), PhaseCounts::default);
        }
        let phase = classify_time(windows, sample.at_s);
        match phase {
            Phase::Before => self.before.add(sample),
            Phase::During(_) => self.during.add(sample),
            Phase::After => self.after.add(sample),
        }
        for (window, counts) in windows.iter().zip(&mut self.per_window) {
            if window.contains(sample.at_s) {
                counts.add(sample);
            }
        }
        phase
    }
}

#[cfg(test)]
mod tests;
