//! Charts over time: throughput and latency second by second (a whole sweep, or one step with
//! its fault windows and the cluster's events), and each node's state over a strategy's run.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::faults::fault_overlay;
use super::frame::{both, SIZE};
use super::lines::{draw_lines, line_chart, Axes, Legend, Line, Mark};
use super::StrategyRun;
use crate::faults::step::StepFaults;
use crate::stats::{SecondPoint, StepMeasure};

/// Throughput and latency over time of one strategy's whole sweep, each step's start marked
/// with its label (`steps`: second of the merged timeline, label).
pub fn timeline(
    stem: &Path,
    title: &str,
    m: &StepMeasure,
    steps: &[Mark],
) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_timeline, title, m, Overlay::Steps(steps))
}

/// What a timeline adds to its lines.
enum Overlay<'a> {
    /// Step starts, labelled with their level.
    Steps(&'a [Mark]),
    /// A step's fault windows and the cluster's events.
    Faults(&'a StepFaults),
}

/// Throughput and latency over time of one step with its fault windows shaded and the
/// cluster's events marked.
pub fn fault_timeline(
    stem: &Path,
    title: &str,
    m: &StepMeasure,
    faults: &StepFaults,
) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_timeline, title, m, Overlay::Faults(faults))
}

/// Two stacked panels over time: throughput (ok, rejected, failed per second) and latency.
fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    m: &StepMeasure,
    overlay: Overlay<'_>,
) -> Result<(), String> {
    let (bands, marks) = match overlay {
        Overlay::Faults(f) => fault_overlay(f, m.elapsed_s),
        Overlay::Steps(steps) => (Vec::new(), steps.to_vec()),
    };
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2);
    draw_lines(
        &upper,
        &Axes {
            title: format!("{title}: throughput over time"),
            x: "second of the measured windows (steps back to back)".into(),
            y: "queries/s".into(),
            log_y: false,
            nines_x: false,
            bands: bands.clone(),
            marks: marks.clone(),
            legend: Legend::Right,
            ..Default::default()
        },
        &throughput_lines(m),
    )?;
    draw_lines(
        &lower,
        &Axes {
            title: format!("{title}: latency over time"),
            x: "second".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: false,
            bands,
            marks,
            legend: Legend::Right,
            ..Default::default()
        },
        &latency_lines(m),
    )
}

/// The second a timeline point stands for, as x.
fn second(p: &SecondPoint) -> f64 {
    f64::from(p.second)
}

/// Shortest bin drawn, seconds: a step's last, partial second shorter than this is dropped
/// rather than drawn as a spike or a dip.
const MIN_BIN_S: f64 = 0.5;

/// The seconds worth drawing: every full one, and a partial last one of at least
/// [`MIN_BIN_S`].
fn bins(m: &StepMeasure) -> impl Iterator<Item = &SecondPoint> {
    m.timeline.iter().filter(|p| p.span_s >= MIN_BIN_S)
}

/// `n` per second of window covered (the last second of a step is partial).
fn rate(n: u64, p: &SecondPoint) -> f64 {
    n as f64 / p.span_s.max(MIN_BIN_S)
}

/// ok, rejected and failed per second, then each team's goodput per second.
fn throughput_lines(m: &StepMeasure) -> Vec<Line> {
    let series = |label: &str, count: fn(&SecondPoint) -> u64, color: usize, thin: bool| Line {
        label: label.into(),
        points: bins(m).map(|p| (second(p), rate(count(p), p))).collect(),
        color,
        thin,
        errors: Vec::new(),
    };
    let mut lines = vec![
        series("ok/s", |p| p.ok, 0, false),
        series("rejected/s", |p| p.rejected, 1, false),
        series("failed/s", |p| p.failed, 5, true),
    ];
    if let Some(first) = m.timeline.first() {
        for team in first.team_ok.keys() {
            lines.push(Line {
                label: format!("{team} goodput/s"),
                points: bins(m)
                    .map(|p| {
                        let ok = p.team_ok.get(team).copied().unwrap_or(0);
                        (second(p), rate(ok, p))
                    })
                    .collect(),
                color: super::frame::team_color(team),
                thin: true,
                errors: Vec::new(),
            });
        }
    }
    lines
}

/// p50 and p99 of the answered queries per second (seconds without answers left out).
fn latency_lines(m: &StepMeasure) -> Vec<Line> {
    let series = |label: &str, ms: fn(&SecondPoint) -> f64, color: usize, thin: bool| Line {
        label: label.into(),
        points: bins(m)
            .filter(|p| p.ok > 0)
            .map(|p| (second(p), ms(p)))
            .collect(),
        color,
        thin,
        errors: Vec::new(),
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
            title: format!("{}: node states", run.name()),
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
