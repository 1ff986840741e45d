//! Lines per concurrency level (latency percentiles or throughput, one line per run) and
//! percentile curves at each run's top level.

use super::lines::Line;
use super::StrategyRun;
use crate::stats::{nines, percentile_curve, StepMeasure};

/// What a per-level line chart plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelFigure {
    /// p99 and p50 of the time to answer (rejections, backoffs and timeouts included).
    Answer,
    /// p99 and p50 of the answered attempts only.
    Success,
    /// Successful queries per second.
    Throughput,
}

/// p99 and p50 (time to answer, or success latency) or throughput per level, one line per run.
pub fn level_lines(runs: &[&StrategyRun], prefix: &str, figure: LevelFigure) -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let levels = run.by_level();
        let x = |c: u32| f64::from(c);
        let hist = |m: &StepMeasure| match figure {
            LevelFigure::Answer => m.overall.answer.clone(),
            _ => m.overall.ok.clone(),
        };
        if figure == LevelFigure::Throughput {
            lines.push(Line {
                label: format!("{prefix}{}", run.strategy),
                points: levels
                    .iter()
                    .map(|(c, m)| (x(*c), m.throughput()))
                    .collect(),
                color: i,
                thin: false,
            });
            continue;
        }
        for (name, thin) in [("p99", false), ("p50", true)] {
            lines.push(Line {
                label: format!("{prefix}{} {name}", run.strategy),
                points: levels
                    .iter()
                    .filter(|(_, m)| hist(m).count() > 0)
                    .map(|(c, m)| {
                        let s = hist(m).summary();
                        (x(*c), if thin { s.p50_ms } else { s.p99_ms })
                    })
                    .collect(),
                color: i,
                thin,
            });
        }
    }
    lines
}

/// Percentile curves (nines axis) at each run's top level.
pub fn distribution_lines(runs: &[&StrategyRun], prefix: &str) -> Vec<Line> {
    runs.iter()
        .enumerate()
        .filter_map(|(i, run)| {
            let (_, m) = run.by_level().last()?.clone();
            Some(Line {
                label: format!("{prefix}{}", run.strategy),
                points: percentile_curve(&m.overall.answer)
                    .into_iter()
                    .map(|(q, ms)| (nines(q), ms))
                    .collect(),
                color: i,
                thin: false,
            })
        })
        .collect()
}
