//! The "protection versus cost" chart of a run: for every strategy across every level, each
//! team's served share of its demand (left) beside its time-to-answer p99 (right). Strategies
//! keep their colours; the first team's lines are thick, the others' thin.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{both, strategy_color};
use super::lines::{draw_lines, Axes, Legend, Line};
use crate::results::{Figure, RunResults, StrategyRun};

/// `protection_vs_cost.png` / `.svg` of a run into `dir`.
pub(super) fn protection_chart(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<PathBuf>> {
    let stem = dir.join("protection_vs_cost");
    both!(&stem, draw, results)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &RunResults,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally((super::frame::SIZE.0 - 210) / 2);
    let teams = team_styles(results);
    let served = Axes {
        title: "Served % of each team's demand".into(),
        x: format!("concurrency ({teams})"),
        y: "% of demand served".into(),
        legend: Legend::Hidden,
        ..Default::default()
    };
    let cost = Axes {
        title: "Time-to-answer p99 per team (cost)".into(),
        x: format!("concurrency ({teams})"),
        y: "ms (log)".into(),
        log_y: true,
        legend: Legend::Right,
        ..Default::default()
    };
    draw_lines(&left, &served, &team_lines(results, Figure::ServedPct))?;
    draw_lines(&right, &cost, &team_lines(results, Figure::TeamAnswerP99))
}

/// `green thick, pink thin`: which line style is which team.
fn team_styles(results: &RunResults) -> String {
    results
        .workload
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{} {}", t.team, if i == 0 { "thick" } else { "thin" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per strategy and team of `figure(team)` over the levels, with error bars.
fn team_lines(results: &RunResults, figure: fn(String) -> Figure) -> Vec<Line> {
    let mut lines = Vec::new();
    for run in &results.strategies {
        for (i, tenant) in results.workload.tenants.iter().enumerate() {
            lines.push(line(
                results,
                run,
                &tenant.team,
                figure(tenant.team.clone()),
                i > 0,
            ));
        }
    }
    lines
}

fn line(results: &RunResults, run: &StrategyRun, team: &str, figure: Figure, thin: bool) -> Line {
    let mut line = Line {
        label: format!("{} · {team}", run.name()),
        color: strategy_color(&run.strategy),
        thin,
        ..Default::default()
    };
    for level in run.levels() {
        if let Some(e) = results.estimate(&level, &figure) {
            let x = f64::from(level.level);
            line.points.push((x, e.median));
            if e.n > 1 {
                line.errors.push((x, e.low, e.high));
            }
        }
    }
    line
}
