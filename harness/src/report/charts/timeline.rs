//! Charts over time: throughput and latency second by second (a whole sweep, or one level with
//! its fault windows and the cluster's events), each second the median of the level's
//! repetitions with its interval; and each node's state over a strategy's run.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::faults::fault_overlay;
use super::frame::{both, SIZE};
use super::lines::{draw_lines, line_chart, Axes, Legend, Line, Mark};
use super::StrategyRun;
use crate::faults::step::StepFaults;
use crate::interval::estimate;
use crate::stats::{SecondPoint, StepMeasure};

/// One level's repetitions on a timeline: second `i` of every repetition side by side, drawn
/// from `offset` seconds as the median of the repetitions with its interval.
pub struct Repeats<'a> {
    /// Where the level's first second goes on the x axis.
    pub offset: f64,
    /// Each repetition's measure.
    pub reps: Vec<&'a StepMeasure>,
}

impl Repeats<'_> {
    /// Seconds of the longest repetition.
    pub fn seconds(&self) -> usize {
        self.reps
            .iter()
            .map(|m| m.timeline.len())
            .max()
            .unwrap_or(0)
    }
}

/// Throughput and latency over time of one strategy's whole sweep, its levels back to back,
/// every second the median of the level's repetitions with its interval at `confidence`;
/// each level's start marked with its label (`steps`).
pub fn timeline(
    stem: &Path,
    title: &str,
    levels: &[Repeats<'_>],
    steps: &[Mark],
    confidence: f64,
) -> anyhow::Result<Vec<PathBuf>> {
    let shown = Shown {
        levels,
        confidence,
        overlay: Overlay::Steps(steps),
    };
    both!(stem, draw_timeline, title, &shown)
}

/// What a timeline draws.
struct Shown<'a> {
    levels: &'a [Repeats<'a>],
    confidence: f64,
    overlay: Overlay<'a>,
}

/// What a timeline adds to its lines.
enum Overlay<'a> {
    /// Step starts, labelled with their level.
    Steps(&'a [Mark]),
    /// A step's fault windows and the cluster's events.
    Faults(&'a StepFaults),
}

/// Throughput and latency over time of one level (the median of its repetitions per second,
/// with intervals) with the fault windows of `faults` shaded and the cluster's events marked.
pub fn fault_timeline(
    stem: &Path,
    title: &str,
    level: &Repeats<'_>,
    faults: &StepFaults,
    confidence: f64,
) -> anyhow::Result<Vec<PathBuf>> {
    let levels = std::slice::from_ref(level);
    let shown = Shown {
        levels,
        confidence,
        overlay: Overlay::Faults(faults),
    };
    both!(stem, draw_timeline, title, &shown)
}

/// Two stacked panels over time: throughput (ok, rejected, failed per second) and latency.
fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    shown: &Shown<'_>,
) -> Result<(), String> {
    let (bands, marks) = match shown.overlay {
        Overlay::Faults(f) => {
            let end = shown
                .levels
                .iter()
                .flat_map(|l| &l.reps)
                .map(|m| m.elapsed_s);
            fault_overlay(f, end.fold(0.0, f64::max))
        }
        Overlay::Steps(steps) => (Vec::new(), steps.to_vec()),
    };
    let several = shown.levels.iter().any(|l| l.reps.len() > 1);
    let of = if several {
        " (median of the repetitions, interval bars)"
    } else {
        ""
    };
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2);
    draw_lines(
        &upper,
        &Axes {
            title: format!("{title}: throughput over time{of}"),
            x: "second of the measured window (levels back to back)".into(),
            y: "queries/s".into(),
            log_y: false,
            nines_x: false,
            bands: bands.clone(),
            marks: marks.clone(),
            legend: Legend::Right,
            ..Default::default()
        },
        &throughput_lines(shown),
    )?;
    draw_lines(
        &lower,
        &Axes {
            title: format!("{title}: latency over time{of}"),
            x: "second".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: false,
            bands,
            marks,
            legend: Legend::Right,
            ..Default::default()
        },
        &latency_lines(shown),
    )
}

/// Shortest bin drawn, seconds: a step's last, partial second shorter than this is dropped
/// rather than drawn as a spike or a dip.
const MIN_BIN_S: f64 = 0.5;

/// `n` per second of window covered (the last second of a step is partial).
fn rate(n: u64, p: &SecondPoint) -> f64 {
    n as f64 / p.span_s.max(MIN_BIN_S)
}

/// A line of `value` per second: at each second of each level, the median over the
/// repetitions whose second is worth drawing (a full one, or a partial last one of at least
/// [`MIN_BIN_S`]) and has the value, with its interval.
fn median_line(
    shown: &Shown<'_>,
    label: String,
    color: usize,
    thin: bool,
    value: impl Fn(&SecondPoint) -> Option<f64>,
) -> Line {
    let mut line = Line {
        label,
        color,
        thin,
        ..Default::default()
    };
    for level in shown.levels {
        for i in 0..level.seconds() {
            let values: Vec<f64> = level
                .reps
                .iter()
                .filter_map(|m| m.timeline.get(i))
                .filter(|p| p.span_s >= MIN_BIN_S)
                .filter_map(&value)
                .collect();
            let Some(e) = estimate(&values, shown.confidence) else {
                continue;
            };
            let x = level.offset + i as f64;
            line.points.push((x, e.median));
            if e.n > 1 {
                line.errors.push((x, e.low, e.high));
            }
        }
    }
    line
}

/// ok, rejected and failed per second, then each team's goodput per second.
fn throughput_lines(shown: &Shown<'_>) -> Vec<Line> {
    let series = |label: &str, count: fn(&SecondPoint) -> u64, color: usize, thin: bool| {
        median_line(shown, label.into(), color, thin, |p| {
            Some(rate(count(p), p))
        })
    };
    let mut lines = vec![
        series("ok/s", |p| p.ok, 0, false),
        series("rejected/s", |p| p.rejected, 1, false),
        series("failed/s", |p| p.failed, 5, true),
    ];
    let first = shown
        .levels
        .iter()
        .flat_map(|l| &l.reps)
        .find_map(|m| m.timeline.first());
    if let Some(first) = first {
        for team in first.team_ok.keys() {
            lines.push(median_line(
                shown,
                format!("{team} goodput/s"),
                super::frame::team_color(team),
                true,
                |p| Some(rate(p.team_ok.get(team).copied().unwrap_or(0), p)),
            ));
        }
    }
    lines
}

/// p50 and p99 of the answered queries per second (seconds without answers left out).
fn latency_lines(shown: &Shown<'_>) -> Vec<Line> {
    let series = |label: &str, ms: fn(&SecondPoint) -> f64, color: usize, thin: bool| {
        median_line(shown, label.into(), color, thin, |p| {
            (p.ok > 0).then(|| ms(p))
        })
    };
    vec![
        series("p50 ms", |p| p.p50_ms, 0, true),
        series("p99 ms", |p| p.p99_ms, 1, false),
    ]
}

/// Each node's state over the strategy's run (0 healthy, 1 warning, 2 critical, 3 failing),
/// with the start of every step marked.
pub(super) fn state_timeline(stem: &Path, run: &StrategyRun) -> anyhow::Result<Vec<PathBuf>> {
    let end = run
        .state_changes
        .iter()
        .map(|c| c.at_s)
        .chain(run.step_starts.iter().map(|(at, _)| *at))
        .fold(0.0f64, f64::max)
        + 5.0;
    let mut nodes: Vec<&str> = run.state_changes.iter().map(|c| c.node.as_str()).collect();
    nodes.sort();
    nodes.dedup();
    let lines: Vec<Line> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Line {
            label: format!("{node} state"),
            points: state_steps(run, node, end),
            color: i,
            thin: false,
            errors: Vec::new(),
        })
        .collect();
    line_chart(
        stem,
        &Axes {
            title: format!("{}: node states", run.strategy),
            x: "seconds since the cluster was up".into(),
            y: "state".into(),
            marks: run.step_starts.clone(),
            legend: Legend::Right,
            y_names: ["healthy", "warning", "critical", "failing"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        },
        &lines,
    )
}

/// Steps, not slopes: each state of `node` holds until its next change, the last until `end`.
fn state_steps(run: &StrategyRun, node: &str, end: f64) -> Vec<(f64, f64)> {
    let level = |state: &str| match state {
        "warning" => 1.0,
        "critical" => 2.0,
        "failing" => 3.0,
        _ => 0.0,
    };
    let mut points = vec![(0.0, 0.0)];
    for c in run.state_changes.iter().filter(|c| c.node == node) {
        points.push((c.at_s, level(&c.from)));
        points.push((c.at_s, level(&c.to)));
    }
    let last = points.last().map_or(0.0, |p| p.1);
    points.push((end, last));
    points
}
