//! Charts as PNG and SVG, drawn with plotters and the embedded DejaVu Sans (no system fonts,
//! no fontconfig). One function per chart: data in, files out, no state.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::anyhow;
use overlay::event::EventKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::json::{RunResults, StrategyRun};
use crate::faults::detect::Detection;
use crate::faults::step::StepFaults;
use crate::stats::{nines, per_second, percentile_curve, StepMeasure};

/// DejaVu Sans (Bitstream Vera licence, see `harness/assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The charts every run has (timelines come per strategy).
pub const CHART_NAMES: [&str; 6] = [
    "latency_vs_concurrency",
    "success_latency_vs_concurrency",
    "throughput_vs_concurrency",
    "latency_distribution",
    "team_goodput",
    "team_rejections",
];

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

const SIZE: (u32, u32) = (960, 600);

/// One line of a line chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Colour index.
    pub color: usize,
    /// Drawn thin (secondary figure such as p50 beside p99).
    pub thin: bool,
}

/// A shaded x range and its label.
pub type Band = (f64, f64, String);

/// A vertical marker at x and its label.
pub type Mark = (f64, String);

/// Axes of a line chart.
#[derive(Clone, Debug, Default)]
pub struct Axes {
    /// Title.
    pub title: String,
    /// X label.
    pub x: String,
    /// Y label.
    pub y: String,
    /// Logarithmic y.
    pub log_y: bool,
    /// X is a "nines" axis (labels as percentiles).
    pub nines_x: bool,
    /// Shaded x ranges with their labels (fault windows).
    pub bands: Vec<Band>,
    /// Vertical markers with their labels (the cluster's own events).
    pub marks: Vec<Mark>,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                let _ = plotters::style::register_font(family, style, FONT);
            }
        }
    });
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(90, 90, 90),
        RGBColor(23, 190, 207),
        RGBColor(227, 119, 194),
    ];
    COLORS[i % COLORS.len()]
}

/// Draws with both backends: `<stem>.png` and `<stem>.svg`.
macro_rules! both {
    ($stem:expr, $draw:ident, $($arg:expr),*) => {{
        register_font();
        let png = $stem.with_extension("png");
        let svg = $stem.with_extension("svg");
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| anyhow!("{}: {e}", png.display()))?;
            root.present().map_err(|e| anyhow!("{}: {e}", png.display()))?;
        }
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| anyhow!("{}: {e}", svg.display()))?;
            root.present().map_err(|e| anyhow!("{}: {e}", svg.display()))?;
        }
        Ok::<Vec<PathBuf>, anyhow::Error>(vec![png, svg])
    }};
}

fn bounds(lines: &[Line], log_y: bool) -> ((f64, f64), (f64, f64)) {
    let pts = lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return ((0.0, 1.0), (if log_y { 0.01 } else { 0.0 }, 1.0));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if log_y {
        y0 = (y0.max(0.001) / 1.5).max(0.001);
        y1 = (y1.max(y0 * 2.0)) * 1.5;
    } else {
        y0 = 0.0;
        y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.1 };
    }
    ((x0, x1), (y0, y1))
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axes: &Axes,
    lines: &[Line],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let ((x0, x1), (y0, y1)) = bounds(lines, axes.log_y);
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&axes.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70);
    let nines_x = axes.nines_x;
    let x_fmt = move |x: &f64| {
        if nines_x {
            if (x - x.round()).abs() > 1e-6 {
                return String::new();
            }
            let p = 100.0 * (1.0 - 10f64.powf(-x.round()));
            format!("p{}", trim(p))
        } else {
            trim(*x)
        }
    };
    macro_rules! plot {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&axes.x)
                .y_desc(&axes.y)
                .y_labels(12)
                .x_labels(if nines_x { 9 } else { 10 })
                .y_label_formatter(&|y: &f64| trim(*y))
                .x_label_formatter(&x_fmt)
                .draw()
                .map_err(|e| e.to_string())?;
            for (from, to, label) in &axes.bands {
                let shade = RGBColor(255, 120, 0).mix(0.15);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(*from, y0), (*to, y1)],
                        shade.filled(),
                    )))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        label.clone(),
                        (*from, y1),
                        ("sans-serif", 13).into_font().color(&RGBColor(160, 60, 0)),
                    )))
                    .map_err(|e| e.to_string())?;
            }
            for (i, (at, label)) in axes.marks.iter().enumerate() {
                let grey = RGBColor(90, 90, 90);
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*at, y0), (*at, y1)],
                        grey.mix(0.6).stroke_width(1),
                    )))
                    .map_err(|e| e.to_string())?;
                // Labels step down so neighbours do not overprint each other.
                let y = y0 + (y1 - y0) * (0.95 - 0.07 * (i % 8) as f64);
                chart
                    .draw_series(std::iter::once(Text::new(
                        label.clone(),
                        (*at, y),
                        ("sans-serif", 11).into_font().color(&grey),
                    )))
                    .map_err(|e| e.to_string())?;
            }
            for line in lines {
                let c = color(line.color);
                let width = if line.thin { 1 } else { 2 };
                chart
                    .draw_series(LineSeries::new(
                        line.points.iter().copied(),
                        c.stroke_width(width),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(&line.label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(width))
                    });
                chart
                    .draw_series(
                        line.points
                            .iter()
                            .map(|&p| Circle::new(p, if line.thin { 2 } else { 3 }, c.filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    if axes.log_y {
        plot!(builder
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(|e| e.to_string())?);
    } else {
        plot!(builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?);
    }
    Ok(())
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A line chart to `<stem>.png` and `<stem>.svg`.
pub fn line_chart(stem: &Path, axes: &Axes, lines: &[Line]) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_lines, axes, lines)
}

/// Grouped bars: one group per category, one bar per member.
#[derive(Clone, Debug)]
pub struct Bars {
    /// Title.
    pub title: String,
    /// Y label.
    pub y: String,
    /// Category names (x groups).
    pub groups: Vec<String>,
    /// Member names (bars within a group, coloured).
    pub members: Vec<String>,
    /// values[group][member].
    pub values: Vec<Vec<f64>>,
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, bars: &Bars) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max = bars.values.iter().flatten().copied().fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let n = bars.groups.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(&bars.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)
        .map_err(|e| e.to_string())?;
    let groups = bars.groups.clone();
    let fmt = move |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 0.01 {
            groups.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&fmt)
        .y_desc(&bars.y)
        .draw()
        .map_err(|e| e.to_string())?;
    let members = bars.members.len().max(1);
    let width = 0.8 / members as f64;
    for (m, name) in bars.members.iter().enumerate() {
        let c = color(m);
        chart
            .draw_series(bars.values.iter().enumerate().map(|(g, row)| {
                let x = g as f64 + 0.1 + m as f64 * width;
                Rectangle::new(
                    [
                        (x, 0.0),
                        (x + width * 0.9, row.get(m).copied().unwrap_or(0.0)),
                    ],
                    c.filled(),
                )
            }))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A grouped bar chart to `<stem>.png` and `<stem>.svg`.
pub fn bar_chart(stem: &Path, bars: &Bars) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_bars, bars)
}

/// Two stacked panels over time: throughput (ok, rejected, failed per second) and latency.
fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    m: &StepMeasure,
    faults: Option<&StepFaults>,
) -> Result<(), String> {
    let (bands, marks) = faults
        .map(|f| fault_overlay(f, m.elapsed_s))
        .unwrap_or_default();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2);
    let t = |p: &crate::stats::SecondPoint| f64::from(p.second);
    // Rates per second of window covered (the last second of a step is partial).
    let r = |n: u64, p: &crate::stats::SecondPoint| n as f64 / p.span_s.max(0.05);
    let rate = vec![
        Line {
            label: "ok/s".into(),
            points: m.timeline.iter().map(|p| (t(p), r(p.ok, p))).collect(),
            color: 2,
            thin: false,
        },
        Line {
            label: "rejected/s".into(),
            points: m
                .timeline
                .iter()
                .map(|p| (t(p), r(p.rejected, p)))
                .collect(),
            color: 1,
            thin: false,
        },
        Line {
            label: "failed/s".into(),
            points: m.timeline.iter().map(|p| (t(p), r(p.failed, p))).collect(),
            color: 5,
            thin: true,
        },
    ];
    let mut team_lines: Vec<Line> = Vec::new();
    if let Some(first) = m.timeline.first() {
        for (i, team) in first.team_ok.keys().enumerate() {
            team_lines.push(Line {
                label: format!("{team} goodput/s"),
                points: m
                    .timeline
                    .iter()
                    .map(|p| (t(p), r(p.team_ok.get(team).copied().unwrap_or(0), p)))
                    .collect(),
                color: 3 + i,
                thin: true,
            });
        }
    }
    let mut upper_lines = rate;
    upper_lines.extend(team_lines);
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
        },
        &upper_lines,
    )?;
    let latency = vec![
        Line {
            label: "p50 ms".into(),
            points: m
                .timeline
                .iter()
                .filter(|p| p.ok > 0)
                .map(|p| (t(p), p.p50_ms))
                .collect(),
            color: 0,
            thin: true,
        },
        Line {
            label: "p99 ms".into(),
            points: m
                .timeline
                .iter()
                .filter(|p| p.ok > 0)
                .map(|p| (t(p), p.p99_ms))
                .collect(),
            color: 1,
            thin: false,
        },
    ];
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
        },
        &latency,
    )
}

/// Fault windows as shaded bands, and the cluster's failure-handling events as markers
/// (`B: failed C`, `A: circuit open E`, `C: recovered C`, ...).
fn fault_overlay(f: &StepFaults, step_end_s: f64) -> (Vec<Band>, Vec<Mark>) {
    // A window nothing closed lasted until the step ended.
    let bands = f
        .windows
        .iter()
        .map(|w| {
            (
                w.start_s,
                w.end_s.unwrap_or(step_end_s.max(w.start_s)),
                w.label.clone(),
            )
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let marks = f
        .detection
        .events
        .iter()
        .filter_map(|e| {
            let what = match e.event {
                EventKind::NeighborSuspected => "suspected",
                EventKind::NeighborFailed => "declared failed",
                EventKind::NeighborRecovered => "recovered",
                EventKind::CircuitOpened => "circuit open",
                EventKind::CircuitClosed => "circuit closed",
                EventKind::Failover => "routed around",
                EventKind::StateChanged => "state",
                _ => return None,
            };
            // One marker per kind and subject per second keeps the chart readable.
            seen.insert((e.at_s as i64, what, e.subject.clone()))
                .then(|| (e.at_s, format!("{}: {what} {}", e.node, e.subject)))
        })
        .collect();
    (bands, marks)
}

/// Detection times per fault (groups) and observer (bars): time to declare the faulted node
/// failed, ms.
fn detection_bars(stem: &Path, faults: &StepFaults) -> anyhow::Result<Vec<PathBuf>> {
    let d = &faults.detection.detections;
    if d.is_empty() {
        return Ok(Vec::new());
    }
    let (groups, members, values) = detection_groups(d);
    bar_chart(
        stem,
        &Bars {
            title: "time to declare the faulted node failed, per observer".into(),
            y: "ms".into(),
            groups,
            members,
            values,
        },
    )
}

/// One group per fault (by its index, in the order they come, labelled "kill C" or, when two
/// faults would read the same, "kill C (#2)"), one member per observer, and each observer's
/// time to declare the node failed (0 when it did not).
fn detection_groups(d: &[Detection]) -> (Vec<String>, Vec<String>, Vec<Vec<f64>>) {
    let label = |x: &Detection| format!("{} {}", x.action.name(), x.target);
    let mut faults: Vec<(usize, String)> = Vec::new();
    for x in d {
        if !faults.iter().any(|(index, _)| *index == x.index) {
            faults.push((x.index, label(x)));
        }
    }
    let repeated = |name: &str| faults.iter().filter(|(_, l)| l == name).count() > 1;
    let groups = faults
        .iter()
        .map(|(index, name)| {
            if repeated(name) {
                format!("{name} (#{index})")
            } else {
                name.clone()
            }
        })
        .collect();
    let mut members: Vec<String> = d.iter().map(|x| x.observer.clone()).collect();
    members.sort();
    members.dedup();
    let values = faults
        .iter()
        .map(|(index, _)| {
            members
                .iter()
                .map(|m| {
                    d.iter()
                        .find(|x| x.index == *index && &x.observer == m)
                        .and_then(|x| x.detected_ms)
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .collect();
    (groups, members, values)
}

/// Each node's state over the strategy's run (0 healthy, 1 warning, 2 critical, 3 failing),
/// with the start of every step marked.
fn state_timeline(stem: &Path, run: &StrategyRun) -> anyhow::Result<Vec<PathBuf>> {
    let level = |state: &str| match state {
        "warning" => 1.0,
        "critical" => 2.0,
        "failing" => 3.0,
        _ => 0.0,
    };
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
        .map(|(i, node)| {
            // Steps, not slopes: each state holds until the next change.
            let mut points = vec![(0.0, 0.0)];
            for c in run.state_changes.iter().filter(|c| c.node == *node) {
                points.push((c.at_s, level(&c.from)));
                points.push((c.at_s, level(&c.to)));
            }
            let last = points.last().map_or(0.0, |p| p.1);
            points.push((end, last));
            Line {
                label: format!("{node} state"),
                points,
                color: i,
                thin: false,
            }
        })
        .collect();
    line_chart(
        stem,
        &Axes {
            title: format!(
                "{}: node states (0 healthy, 1 warning, 2 critical, 3 failing)",
                run.strategy
            ),
            x: "seconds since the cluster was up".into(),
            y: "state".into(),
            marks: run.step_starts.clone(),
            ..Default::default()
        },
        &lines,
    )
}

/// Throughput and latency over time of one strategy's whole sweep.
pub fn timeline(stem: &Path, title: &str, m: &StepMeasure) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_timeline, title, m, None)
}

/// Throughput and latency over time of one step with its fault windows shaded and the
/// cluster's events marked.
pub fn fault_timeline(
    stem: &Path,
    title: &str,
    m: &StepMeasure,
    faults: &StepFaults,
) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_timeline, title, m, Some(faults))
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
    let mut files = Vec::new();
    files.extend(line_chart(
        &dir.join("latency_vs_concurrency"),
        &Axes {
            title: "Time to answer (rejections, backoffs, timeouts included) vs concurrency".into(),
            x: "concurrency".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: false,
            ..Default::default()
        },
        &level_lines(&runs, "", LevelFigure::Answer),
    )?);
    files.extend(line_chart(
        &dir.join("success_latency_vs_concurrency"),
        &Axes {
            title: "Latency of answered attempts only (hides rejections) vs concurrency".into(),
            x: "concurrency".into(),
            y: "ms (log)".into(),
            log_y: true,
            nines_x: false,
            ..Default::default()
        },
        &level_lines(&runs, "", LevelFigure::Success),
    )?);
    files.extend(line_chart(
        &dir.join("throughput_vs_concurrency"),
        &Axes {
            title: "Throughput (successful queries/s) vs concurrency".into(),
            x: "concurrency".into(),
            y: "queries/s".into(),
            log_y: false,
            nines_x: false,
            ..Default::default()
        },
        &level_lines(&runs, "", LevelFigure::Throughput),
    )?);
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
        &distribution_lines(&runs, ""),
    )?);
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
    let team_values = |f: &dyn Fn(&StepMeasure, &str) -> f64| {
        top.iter()
            .map(|(_, m)| teams.iter().map(|t| f(m, t)).collect())
            .collect()
    };
    files.extend(bar_chart(
        &dir.join("team_goodput"),
        &Bars {
            title: format!("Per-team goodput at the top concurrency ({top_level})"),
            y: "successful queries/s".into(),
            groups: top.iter().map(|(s, _)| s.clone()).collect(),
            members: teams.clone(),
            values: team_values(&|m, t| {
                per_second(m.teams.get(t).map_or(0, |s| s.ok.count()), m.elapsed_s)
            }),
        },
    )?);
    files.extend(bar_chart(
        &dir.join("team_rejections"),
        &Bars {
            title: format!(
                "Per-team rejected attempts, % of attempts, at the top concurrency ({top_level})"
            ),
            y: "% of attempts rejected".into(),
            groups: top.iter().map(|(s, _)| s.clone()).collect(),
            members: teams.clone(),
            values: team_values(&|m, t| {
                m.teams.get(t).map_or(0.0, |s| s.rejection_share() * 100.0)
            }),
        },
    )?);
    for run in &runs {
        files.extend(timeline(
            &dir.join(format!("timeline_{}", run.strategy)),
            &run.strategy,
            &run.total(),
        )?);
    }
    for run in runs.iter().filter(|r| !r.state_changes.is_empty()) {
        files.extend(state_timeline(
            &dir.join(format!("states_{}", run.strategy)),
            run,
        )?);
    }
    for run in runs {
        for step in &run.steps {
            if let Some(faults) = &step.faults {
                files.extend(fault_timeline(
                    &dir.join(format!(
                        "faults_{}_c{}_r{}",
                        run.strategy, step.concurrency, step.repetition
                    )),
                    &format!("{} · concurrency {}", run.strategy, step.concurrency),
                    &step.measure,
                    faults,
                )?);
                files.extend(detection_bars(
                    &dir.join(format!(
                        "detection_{}_c{}_r{}",
                        run.strategy, step.concurrency, step.repetition
                    )),
                    faults,
                )?);
            }
        }
    }
    Ok(files)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultAction, FaultWindow};

    fn detection(index: usize, observer: &str, detected_ms: f64) -> Detection {
        Detection {
            index,
            action: FaultAction::Kill,
            target: "C".to_string(),
            observer: observer.to_string(),
            suspected_ms: None,
            detected_ms: Some(detected_ms),
            recovered_ms: None,
        }
    }

    #[test]
    fn an_open_window_is_drawn_to_the_end_of_the_step() {
        let window = |start_s: f64, end_s: Option<f64>| FaultWindow {
            label: "kill C".to_string(),
            action: FaultAction::Kill,
            target: "C".to_string(),
            peer: None,
            start_s,
            end_s,
        };
        let faults = StepFaults {
            windows: vec![window(1.0, Some(2.5)), window(3.0, None)],
            ..Default::default()
        };
        let (bands, _) = fault_overlay(&faults, 10.0);
        let spans: Vec<(f64, f64)> = bands.iter().map(|b| (b.0, b.1)).collect();
        assert_eq!(spans, [(1.0, 2.5), (3.0, 10.0)]);
    }

    #[test]
    fn faults_that_read_the_same_stay_apart() {
        let d = [
            detection(0, "A", 300.0),
            detection(0, "B", 400.0),
            detection(2, "A", 350.0),
        ];
        let (groups, members, values) = detection_groups(&d);
        assert_eq!(groups, ["kill C (#0)", "kill C (#2)"]);
        assert_eq!(members, ["A", "B"]);
        assert_eq!(values, [vec![300.0, 400.0], vec![350.0, 0.0]]);
        let (groups, _, _) = detection_groups(&d[..2]);
        assert_eq!(groups, ["kill C"]);
    }
}
