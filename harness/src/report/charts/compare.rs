//! The overlay charts of `harness compare`: several runs' lines on one set of axes.

use std::path::{Path, PathBuf};

use super::levels::{distribution_lines, level_lines, LevelFigure};
use super::lines::{line_chart, Axes};
use super::RunResults;

/// Overlay charts of several runs (for `harness compare`): each strategy in its own colour in
/// every run; the first run's lines thick, the others' thin; p99 only, with error bars.
pub fn render_compare(dir: &Path, runs: &[RunResults]) -> anyhow::Result<Vec<PathBuf>> {
    let mut latency = Vec::new();
    let mut throughput = Vec::new();
    let mut distribution = Vec::new();
    for (i, results) in runs.iter().enumerate() {
        let prefix = format!("{} ", results.run_id);
        let all = results.all_runs();
        for (set, lines) in [
            (
                &mut latency,
                level_lines(results, &all, &prefix, LevelFigure::Answer),
            ),
            (
                &mut throughput,
                level_lines(results, &all, &prefix, LevelFigure::Throughput),
            ),
            (
                &mut distribution,
                distribution_lines(results, &all, &prefix),
            ),
        ] {
            set.extend(
                lines
                    .into_iter()
                    .filter(|l| !l.label.ends_with(" p50"))
                    .map(|mut l| {
                        l.thin = i > 0;
                        l
                    }),
            );
        }
    }
    let mut files = Vec::new();
    files.extend(line_chart(
        &dir.join("latency_vs_concurrency"),
        &Axes {
            title: "Time-to-answer p99 vs concurrency (first run thick)".into(),
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
            title: "Throughput vs concurrency (first run thick)".into(),
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
            title: "Time-to-answer distribution at the top concurrency (runs compared; median of the repetitions, interval bars)".into(),
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
