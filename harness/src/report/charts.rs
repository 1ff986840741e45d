//! Charts as PNG and SVG, drawn with plotters and the embedded DejaVu Sans (no system fonts,
//! no fontconfig). One function per chart: data in, files out, no state.
//!
//! - `frame` — font, palette, canvas, both backends, bounds and number labels.
//! - `lines` — line charts with fault bands, event markers and a legend.
//! - `bars` — grouped bar charts.
//! - `levels` — the lines per concurrency level and the percentile curves.
//! - `timeline` — throughput and latency over time, node states over a run.
//! - `faults` — fault windows and events on the timelines, detection times as bars.
//! - `protection` — each team's served share beside its time to answer, per strategy and level.
//! - `compare` — the overlay charts of several runs.
//! - `scale` — each scale figure against node count, when the run swept topologies.
//! - `waterfall` — the spans of one traced query, a bar each.
//!
//! This file draws every chart of one run ([`render_run`]).

mod bars;
mod compare;
mod faults;
mod frame;
mod levels;
mod lines;
mod protection;
mod scale;
mod timeline;
mod waterfall;

use std::path::{Path, PathBuf};

use crate::interval::Estimate;
use crate::results::{Figure, Level, RunResults, StrategyRun};

pub use bars::{bar_chart, Bars};
pub use compare::render_compare;
pub use levels::{distribution_lines, level_lines, LevelFigure};
pub use lines::{line_chart, Axes, Band, Legend, Line, Mark};
pub use timeline::{fault_timeline, timeline, Repeats};
pub use waterfall::waterfall_chart;

/// The charts over concurrency levels, drawn only when the sweep has more than one level.
const PER_LEVEL_CHARTS: [&str; 3] = [
    "latency_vs_concurrency",
    "success_latency_vs_concurrency",
    "throughput_vs_concurrency",
];

/// The charts of a run (besides the per-strategy timelines), in the order a reader wants
/// them: the question's chart first.
pub fn chart_names(results: &RunResults) -> Vec<&'static str> {
    let mut names = vec!["protection_vs_cost"];
    if results.workload.concurrency.len() > 1 {
        names.extend(PER_LEVEL_CHARTS);
    }
    names.extend(["latency_distribution", "team_goodput", "team_rejections"]);
    if !crate::report::scale::scale_rows(results).is_empty() {
        names.extend(crate::report::scale::FIGURES.iter().map(|f| f.0));
    }
    names
}

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
    let mut files = protection::protection_chart(dir, results)?;
    files.extend(level_charts(dir, results, &runs, top_level)?);
    files.extend(team_charts(dir, results, &runs, top_level)?);
    let confidence = results.workload.confidence;
    for run in &runs {
        let levels = run.levels();
        let (repeats, marks) = level_repeats(&levels);
        files.extend(timeline(
            &dir.join(format!("timeline_{}", run.name())),
            &run.name(),
            &repeats,
            &marks,
            confidence,
        )?);
    }
    for run in runs.iter().filter(|r| !r.state_changes.is_empty()) {
        files.extend(timeline::state_timeline(
            &dir.join(format!("states_{}", run.name())),
            run,
        )?);
    }
    for run in runs {
        files.extend(fault_charts(dir, run, confidence)?);
        files.extend(waterfalls(dir, run)?);
    }
    files.extend(scale::scale_charts(dir, results)?);
    Ok(files)
}

/// Latency, success latency and throughput per level (with more than one level), and the
/// distribution at the top level.
fn level_charts(
    dir: &Path,
    results: &RunResults,
    runs: &[&StrategyRun],
    top_level: u32,
) -> anyhow::Result<Vec<PathBuf>> {
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
    let several = results.workload.concurrency.len() > 1;
    for (name, title, y, figure) in per_level.into_iter().filter(|_| several) {
        let axes = Axes {
            title: title.into(),
            x: format!("concurrency (median, {})", interval_caption(results)),
            y: y.into(),
            log_y: figure != LevelFigure::Throughput,
            nines_x: false,
            ..Default::default()
        };
        files.extend(line_chart(
            &dir.join(name),
            &axes,
            &level_lines(results, runs, "", figure),
        )?);
    }
    files.extend(line_chart(
        &dir.join("latency_distribution"),
        &Axes {
            title: format!("Time-to-answer distribution at the top concurrency ({top_level})"),
            x: format!("percentile (median, {})", interval_caption(results)),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: true,
            ..Default::default()
        },
        &distribution_lines(results, runs, ""),
    )?);
    Ok(files)
}

/// Per-team goodput and rejection share at each run's top level, one group per run, each bar
/// the median of the repetitions with its interval.
fn team_charts(
    dir: &Path,
    results: &RunResults,
    runs: &[&StrategyRun],
    top_level: u32,
) -> anyhow::Result<Vec<PathBuf>> {
    let top: Vec<(String, Level)> = runs
        .iter()
        .filter_map(|r| r.levels().pop().map(|l| (r.name(), l)))
        .collect();
    let teams: Vec<String> = results
        .workload
        .tenants
        .iter()
        .map(|t| t.team.clone())
        .collect();
    let bars = |title: String, y: &str, figure: fn(String) -> Figure| {
        let estimates: Vec<Vec<Option<Estimate>>> = top
            .iter()
            .map(|(_, l)| {
                teams
                    .iter()
                    .map(|t| results.estimate(l, &figure(t.clone())))
                    .collect()
            })
            .collect();
        Bars {
            title: format!("{title} · median, {}", interval_caption(results)),
            y: y.into(),
            groups: top.iter().map(|(s, _)| s.clone()).collect(),
            members: teams.clone(),
            values: estimates
                .iter()
                .map(|row| row.iter().map(|e| e.map_or(0.0, |e| e.median)).collect())
                .collect(),
            colors: teams.iter().map(|t| frame::team_color(t)).collect(),
            errors: estimates
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|e| e.filter(|e| e.n > 1).map(|e| (e.low, e.high)))
                        .collect()
                })
                .collect(),
        }
    };
    let mut files = bar_chart(
        &dir.join("team_goodput"),
        &bars(
            format!("Per-team goodput at concurrency {top_level}"),
            "successful queries/s",
            Figure::TeamGoodput,
        ),
    )?;
    files.extend(bar_chart(
        &dir.join("team_rejections"),
        &bars(
            format!("Per-team rejected attempts at concurrency {top_level}"),
            "% of attempts rejected",
            Figure::TeamRejectedPct,
        ),
    )?);
    Ok(files)
}

/// Each level's repetitions laid back to back after the previous level's longest one, and
/// where each level begins with its label (`c16 ×3`: concurrency 16, three repetitions).
fn level_repeats(levels: &[Level]) -> (Vec<Repeats<'_>>, Vec<Mark>) {
    let mut at = 0.0;
    let mut repeats = Vec::new();
    let mut marks = Vec::new();
    for level in levels {
        let r = Repeats {
            offset: at,
            reps: level.repetitions.iter().collect(),
        };
        let label = match r.reps.len() {
            1 => format!("c{}", level.level),
            n => format!("c{} ×{n}", level.level),
        };
        marks.push((at, label));
        at += r.seconds() as f64;
        repeats.push(r);
    }
    (repeats, marks)
}

/// `95 % bootstrap interval over 3 repetitions`, or `one repetition, no interval`.
fn interval_caption(results: &RunResults) -> String {
    let w = &results.workload;
    if w.repetitions < 2 {
        "one repetition, no interval".to_string()
    } else {
        format!(
            "{:.0} % bootstrap interval over {} repetitions",
            w.confidence * 100.0,
            w.repetitions
        )
    }
}

/// The waterfall of each traced step's slowest sampled query.
fn waterfalls(dir: &Path, run: &StrategyRun) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for step in &run.steps {
        let Some(trace) = step.trace.as_ref() else {
            continue;
        };
        if let Some(slowest) = &trace.slowest {
            let q = &slowest.query;
            let title = format!(
                "{} · c{} r{} · slowest of {} sampled: {} ({}) {} ms at the client",
                run.name(),
                step.concurrency,
                step.repetition,
                trace.sampled.len(),
                q.query,
                q.team,
                frame::trim(q.latency_ms)
            );
            let stem = crate::report::traces::waterfall_stem(run, step);
            files.extend(waterfall_chart(&dir.join(stem), &title, slowest)?);
        }
    }
    Ok(files)
}

/// For every level of `run` with a fault schedule: its timeline (the median of the
/// repetitions per second, with intervals) with the first repetition's fault windows shaded,
/// and each repetition's detection times.
fn fault_charts(dir: &Path, run: &StrategyRun, confidence: f64) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for level in run.levels() {
        let steps: Vec<&crate::results::Step> = run
            .steps
            .iter()
            .filter(|s| s.concurrency == level.level)
            .collect();
        let Some(faults) = steps.iter().find_map(|s| s.faults.as_ref()) else {
            continue;
        };
        let (repeats, _) = level_repeats(std::slice::from_ref(&level));
        let reps = level.repetitions.len();
        files.extend(fault_timeline(
            &dir.join(format!("faults_{}_c{}", run.name(), level.level)),
            &format!(
                "{} · concurrency {} · {reps} repetition{}",
                run.name(),
                level.level,
                if reps == 1 { "" } else { "s" }
            ),
            &repeats[0],
            faults,
            confidence,
        )?);
        for step in steps {
            if let Some(faults) = &step.faults {
                let stem = format!("detection_{}", crate::report::step_stem(run, step));
                files.extend(faults::detection_bars(&dir.join(stem), faults)?);
            }
        }
    }
    Ok(files)
}
