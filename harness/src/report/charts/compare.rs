//! The overlay charts of `harness compare`: several runs' lines on one set of axes.

use std::path::{Path, PathBuf};

use super::levels::{distribution_lines, level_lines, LevelFigure};
use super::lines::{line_chart, Axes};
use super::RunResults;

/// Overlay charts of several runs (for `harness compare`).
pub fn render_compare(dir: &Path, runs: &[RunResults]) -> anyhow::Result<Vec<PathBuf>> {
    let mut latency = Vec::new();
    let mut throughput = Vec::new();
    let mut distribution = Vec::new();
    let mut color = 0;
    for results in runs {
        let prefix = format!("{} ", results.run_id);
        for run in results.all_runs() {
            for (set, mut lines) in [
                (
                    &mut latency,
                    level_lines(&[run], &prefix, LevelFigure::Answer),
                ),
                (
                    &mut throughput,
                    level_lines(&[run], &prefix, LevelFigure::Throughput),
                ),
                (&mut distribution, distribution_lines(&[run], &prefix)),
            ] {
                for line in &mut lines {
                    line.color = color;
                }
                set.extend(lines);
            }
            color += 1;
        }
    }
    let mut files = Vec::new();
    files.extend(line_chart(
        &dir.join("latency_vs_concurrency"),
        &Axes {
            title: "Time to answer vs concurrency (runs compared)".into(),
            x: "concurrency".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: false,
            ..Default::default()
        },
        &latency,
    )?);
    files.extend(line_chart(
        &dir.join("throughput_vs_concurrency"),
        &Axes {
            title: "Throughput vs concurrency (runs compared)".into(),
            x: "concurrency".into(),
            y: "queries/s".into(),
            log_y: false,
            nines_x: false,
            ..Default::default()
        },
        &throughput,
    )?);
    files.extend(line_chart(
        &dir.join("latency_distribution"),
        &Axes {
            title: "Time-to-answer distribution at the top concurrency (runs compared)".into(),
            x: "percentile".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: true,
            ..Default::default()
        },
        &distribution,
    )?);
    Ok(files)
}
