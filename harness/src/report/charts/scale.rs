//! The scale charts: each figure of [`crate::report::scale::FIGURES`] against node count,
//! one line per strategy (`scale_<figure>.png/.svg`).

use std::path::{Path, PathBuf};

use super::frame::strategy_color;
use super::lines::{line_chart, Axes, Line};
use crate::report::scale::{points, scale_rows, ScaleRow, FIGURES};
use crate::results::RunResults;

/// Every scale chart of a run that swept generated topologies (none otherwise).
pub(super) fn scale_charts(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<PathBuf>> {
    let rows = scale_rows(results);
    let mut strategies: Vec<&str> = rows.iter().map(|r| r.strategy.as_str()).collect();
    strategies.dedup();
    let mut files = Vec::new();
    for (name, title, figure) in FIGURES {
        let lines: Vec<Line> = strategies
            .iter()
            .map(|strategy| {
                let mine: Vec<&ScaleRow> =
                    rows.iter().filter(|r| r.strategy == *strategy).collect();
                Line {
                    label: strategy.to_string(),
                    points: points(&mine, figure),
                    color: strategy_color(strategy),
                    ..Default::default()
                }
            })
            .filter(|line| !line.points.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        let axes = Axes {
            title: format!("{title} vs node count"),
            x: "nodes".into(),
            y: title.into(),
            ..Default::default()
        };
        files.extend(line_chart(&dir.join(name), &axes, &lines)?);
    }
    Ok(files)
}
