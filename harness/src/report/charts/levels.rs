//! Lines per concurrency level (latency percentiles or throughput, one line per run, each
//! point the median of the repetitions with its interval as an error bar) and percentile
//! curves at each run's top level (each percentile likewise).

use super::frame::strategy_color;
use super::lines::Line;
use super::StrategyRun;
use crate::interval::estimate;
use crate::results::{Figure, RunResults};
use crate::stats::{nines, percentile_curve};

/// What a per-level line chart plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelFigure {
    /// p99 and p50 of the time to answer (rejections, backoffs and timeouts included).
    Answer,
    /// p99 of the answered attempts only.
    Success,
    /// Successful queries per second.
    Throughput,
}

/// p99 and p50 (time to answer), success p99 or throughput per level, one line per run in
/// the strategy's colour; every point is the median of the repetitions, with its interval.
pub fn level_lines(
    results: &RunResults,
    runs: &[&StrategyRun],
    prefix: &str,
    figure: LevelFigure,
) -> Vec<Line> {
    let series: &[(&str, Figure, bool)] = match figure {
        LevelFigure::Throughput => &[("", Figure::Throughput, false)],
        LevelFigure::Success => &[(" success p99", Figure::SuccessP99, false)],
        LevelFigure::Answer => &[
            (" p99", Figure::AnswerP99, false),
            (" p50", Figure::AnswerP50, true),
        ],
    };
    let mut lines = Vec::new();
    for run in runs {
        for (name, fig, thin) in series {
            let mut line = Line {
                label: format!("{prefix}{}{name}", run.strategy),
                color: strategy_color(&run.strategy),
                thin: *thin,
                ..Default::default()
            };
            for level in run.levels() {
                let Some(e) = results.estimate(&level, fig) else {
                    continue;
                };
                let x = f64::from(level.level);
                line.points.push((x, e.median));
                if e.n > 1 {
                    line.errors.push((x, e.low, e.high));
                }
            }
            lines.push(line);
        }
    }
    lines
}

/// Percentile curves (nines axis) at each run's top level: at every percentile, the median
/// of the repetitions' values with its interval.
pub fn distribution_lines(results: &RunResults, runs: &[&StrategyRun], prefix: &str) -> Vec<Line> {
    runs.iter()
        .filter_map(|run| {
            let level = run.levels().pop()?;
            let curves: Vec<Vec<(f64, f64)>> = level
                .repetitions
                .iter()
                .map(|m| percentile_curve(&m.overall.answer))
                .collect();
            let mut line = Line {
                label: format!("{prefix}{} (concurrency {})", run.strategy, level.level),
                color: strategy_color(&run.strategy),
                ..Default::default()
            };
            let quantiles = curves.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..quantiles {
                let Some(q) = curves.iter().find_map(|c| c.get(i)).map(|p| p.0) else {
                    continue;
                };
                let values: Vec<f64> = curves
                    .iter()
                    .filter_map(|c| c.get(i))
                    .map(|p| p.1)
                    .collect();
                let Some(e) = estimate(&values, results.workload.confidence) else {
                    continue;
                };
                let x = nines(q);
                line.points.push((x, e.median));
                if e.n > 1 {
                    line.errors.push((x, e.low, e.high));
                }
            }
            Some(line)
        })
        .collect()
}
