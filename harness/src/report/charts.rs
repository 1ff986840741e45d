//! Charts as PNG and SVG, drawn with plotters and the embedded DejaVu Sans (no system fonts,
//! no fontconfig). One function per chart: data in, files out, no state.
//!
//! - `frame` — font, palette, canvas, both backends, bounds and number labels.
//! - `lines` — line charts with fault bands, event markers and a legend.
//! - `bars` — grouped bar charts.
//! - `levels` — the lines per concurrency level and the percentile curves.
//! - `timeline` — throughput and latency over time, node states over a run.
//! - `faults` — fault windows and events on the timelines, detection times as bars.
//! - `compare` — the overlay charts of several runs.
//!
//! This file draws every chart of one run ([`render_run`]).

mod bars;
mod compare;
mod faults;
mod frame;
mod levels;
mod lines;
mod timeline;

use std::path::{Path, PathBuf};

use crate::results::{RunResults, StrategyRun};
use crate::stats::{per_second, StepMeasure};

pub use bars::{bar_chart, Bars};
pub use compare::render_compare;
pub use levels::{distribution_lines, level_lines, LevelFigure};
pub use lines::{line_chart, Axes, Band, Line, Mark};
pub use timeline::{fault_timeline, timeline};

/// The charts every run has (timelines come per strategy).
pub const CHART_NAMES: [&str; 6] = [
    "latency_vs_concurrency",
    "success_latency_vs_concurrency",
    "throughput_vs_concurrency",
    "latency_distribution",
    "team_goodput",
    "team_rejections",
];

/// Every chart of a run into `dir`; returns the files written.
pub fn render_run(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<PathBuf>> {
    let runs = results.all_runs();
    let top_level = results
        .workload
        .concurrency
        .iter()
        .max()
        .copied()
        .unwrap_or(0);
    let mut files = level_charts(dir, &runs, top_level)?;
    files.extend(team_charts(dir, results, &runs, top_level)?);
    for run in &runs {
        files.extend(timeline(
            &dir.join(format!("timeline_{}", run.strategy)),
            &run.strategy,
            &run.total(),
        )?);
    }
    for run in runs.iter().filter(|r| !r.state_changes.is_empty()) {
        files.extend(timeline::state_timeline(
            &dir.join(format!("states_{}", run.strategy)),
            run,
        )?);
    }
    for run in runs {
        files.extend(fault_charts(dir, run)?);
    }
    Ok(files)
}

/// Latency, success latency and throughput per level, and the distribution at the top level.
fn level_charts(dir: &Path, runs: &[&StrategyRun], top_level: u32) -> anyhow::Result<Vec<PathBuf>> {
    let per_level = [
        (
            "latency_vs_concurrency",
            "Time to answer (rejections, backoffs, timeouts included) vs concurrency",
            "ms (log)",
            LevelFigure::Answer,
        ),
        (
            "success_latency_vs_concurrency",
            "Latency of answered attempts only (hides rejections) vs concurrency",
            "ms (log)",
            LevelFigure::Success,
        ),
        (
            "throughput_vs_concurrency",
            "Throughput (successful queries/s) vs concurrency",
            "queries/s",
            LevelFigure::Throughput,
        ),
    ];
    let mut files = Vec::new();
    for (name, title, y, figure) in per_level {
        let axes = Axes {
            title: title.into(),
            x: "concurrency".into(),
            y: y.into(),
            log_y: figure != LevelFigure::Throughput,
            nines_x: false,
            ..Default::default()
        };
        files.extend(line_chart(
            &dir.join(name),
            &axes,
            &level_lines(runs, "", figure),
        )?);
    }
    files.extend(line_chart(
        &dir.join("latency_distribution"),
        &Axes {
            title: format!("Time-to-answer distribution at the top concurrency ({top_level})"),
            x: "percentile".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: true,
            ..Default::default()
        },
        &distribution_lines(runs, ""),
    )?);
    Ok(files)
}

/// Per-team goodput and rejection share at each run's top level, one group per run.
fn team_charts(
    dir: &Path,
    results: &RunResults,
    runs: &[&StrategyRun],
    top_level: u32,
) -> anyhow::Result<Vec<PathBuf>> {
    let top: Vec<(String, StepMeasure)> = runs
        .iter()
        .filter_map(|r| {
            r.by_level()
                .last()
                .map(|(_, m)| (r.strategy.clone(), m.clone()))
        })
        .collect();
    let teams: Vec<String> = results
        .workload
        .tenants
        .iter()
        .map(|t| t.team.clone())
        .collect();
    let bars = |title: String, y: &str, f: &dyn Fn(&StepMeasure, &str) -> f64| Bars {
        title,
        y: y.into(),
        groups: top.iter().map(|(s, _)| s.clone()).collect(),
        members: teams.clone(),
        values: top
            .iter()
            .map(|(_, m)| teams.iter().map(|t| f(m, t)).collect())
            .collect(),
    };
    let mut files = bar_chart(
        &dir.join("team_goodput"),
        &bars(
            format!("Per-team goodput at the top concurrency ({top_level})"),
            "successful queries/s",
            &|m, t| per_second(m.teams.get(t).map_or(0, |s| s.ok.count()), m.elapsed_s),
        ),
    )?;
    files.extend(bar_chart(
        &dir.join("team_rejections"),
        &bars(
            format!(
                "Per-team rejected attempts, % of attempts, at the top concurrency ({top_level})"
            ),
            "% of attempts rejected",
            &|m, t| m.teams.get(t).map_or(0.0, |s| s.rejection_share() * 100.0),
        ),
    )?);
    Ok(files)
}

/// For every step of `run` with a fault schedule: its timeline with the faults shaded and its
/// detection times.
fn fault_charts(dir: &Path, run: &StrategyRun) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for step in &run.steps {
        let Some(faults) = &step.faults else {
            continue;
        };
        let name = |kind: &str| {
            dir.join(format!(
                "{kind}_{}_c{}_r{}",
                run.strategy, step.concurrency, step.repetition
            ))
        };
        files.extend(fault_timeline(
            &name("faults"),
            &format!("{} · concurrency {}", run.strategy, step.concurrency),
            &step.measure,
            faults,
        )?);
        files.extend(faults::detection_bars(&name("detection"), faults)?);
    }
    Ok(files)
}
