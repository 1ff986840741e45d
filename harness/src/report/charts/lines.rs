//! Line charts: the [`Line`]s and [`Axes`] they are drawn from, shaded fault bands, event
//! markers, points and the legend.

use std::path::{Path, PathBuf};

use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

use super::frame::{both, bounds, color, trim};

/// One line of a line chart.
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Legend.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Colour index.
    pub color: usize,
    /// Drawn thin (secondary figure such as p50 beside p99).
    pub thin: bool,
    /// Error bars: (x, low, high) of each point that has an interval (may be empty).
    pub errors: Vec<(f64, f64, f64)>,
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
    /// Where the legend goes.
    pub legend: Legend,
    /// Names of the integer y values (a discrete axis, such as node states): y is labelled
    /// only at 0, 1, … with these names.
    pub y_names: Vec<String>,
}

/// Where a chart's legend goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    /// Upper left, inside the plot.
    #[default]
    Inside,
    /// In a strip right of the plot, off the data and the fault labels.
    Right,
    /// None (a neighbouring panel carries it).
    Hidden,
}

/// Width of the legend strip right of a plot, pixels.
const LEGEND_STRIP: u32 = 210;

/// A line chart to `<stem>.png` and `<stem>.svg`.
pub fn line_chart(stem: &Path, axes: &Axes, lines: &[Line]) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_lines, axes, lines)
}

/// Draws `lines` on `axes` into `root` (linear or logarithmic y).
pub(super) fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axes: &Axes,
    lines: &[Line],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = if axes.legend == Legend::Right {
        let (w, _) = root.dim_in_pixel();
        let (plot, strip) = root.split_horizontally(w.saturating_sub(LEGEND_STRIP));
        side_legend(&strip, lines)?;
        plot
    } else {
        root.clone()
    };
    let ((x0, x1), (mut y0, mut y1)) = bounds(lines, axes.log_y);
    if !axes.y_names.is_empty() {
        (y0, y1) = (-0.3, axes.y_names.len() as f64 - 0.7);
    }
    let y_names = axes.y_names.clone();
    let y_fmt = move |y: &f64| {
        if y_names.is_empty() {
            return trim(*y);
        }
        let i = y.round();
        if (y - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        y_names.get(i as usize).cloned().unwrap_or_default()
    };
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&axes.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70);
    let nines_x = axes.nines_x;
    let x_fmt = move |x: &f64| x_label(*x, nines_x);
    // The two y scales are different types; the mesh is configured on each, the rest is shared.
    macro_rules! plot {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&axes.x)
                .y_desc(&axes.y)
                .y_labels(if axes.y_names.is_empty() {
                    12
                } else {
                    axes.y_names.len() * 2 + 1
                })
                .x_labels(if nines_x { 9 } else { 10 })
                .y_label_formatter(&y_fmt)
                .x_label_formatter(&x_fmt)
                .draw()
                .map_err(|e| e.to_string())?;
            draw_content(&mut chart, axes, lines, (y0, y1))?;
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

/// An x tick's label: the number, or on a nines axis the percentile of a whole nine (`p99.9`).
fn x_label(x: f64, nines_x: bool) -> String {
    if !nines_x {
        return trim(x);
    }
    if (x - x.round()).abs() > 1e-6 {
        return String::new();
    }
    let p = 100.0 * (1.0 - 10f64.powf(-x.round()));
    format!("p{}", trim(p))
}

/// Everything inside the mesh: bands, markers, the lines and the legend.
fn draw_content<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    axes: &Axes,
    lines: &[Line],
    y: (f64, f64),
) -> Result<(), String> {
    draw_bands(chart, &axes.bands, y)?;
    draw_marks(chart, &axes.marks, y)?;
    for line in lines {
        draw_line(chart, line)?;
    }
    if axes.legend != Legend::Inside {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())
}

/// The legend in its own strip: a sample of each line's stroke and its label, top down.
fn side_legend<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    lines: &[Line],
) -> Result<(), String> {
    for (i, line) in lines.iter().enumerate() {
        let y = 50 + 20 * i as i32;
        let c = color(line.color);
        let width = if line.thin { 1 } else { 2 };
        strip
            .draw(&PathElement::new(
                vec![(6, y), (26, y)],
                c.stroke_width(width),
            ))
            .map_err(|e| e.to_string())?;
        strip
            .draw(&Text::new(
                line.label.clone(),
                (32, y - 7),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Fault windows: a shaded column each, labelled at the top.
fn draw_bands<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    bands: &[Band],
    (y0, y1): (f64, f64),
) -> Result<(), String> {
    for (from, to, label) in bands {
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
    Ok(())
}

/// Event markers: a thin vertical line each with its label.
fn draw_marks<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    marks: &[Mark],
    (y0, y1): (f64, f64),
) -> Result<(), String> {
    for (i, (at, label)) in marks.iter().enumerate() {
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
    Ok(())
}

/// One line, its points and its legend entry.
fn draw_line<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    line: &Line,
) -> Result<(), String> {
    let c = color(line.color);
    let width = if line.thin { 1 } else { 2 };
    chart
        .draw_series(LineSeries::new(
            line.points.iter().copied(),
            c.stroke_width(width),
        ))
        .map_err(|e| e.to_string())?
        .label(&line.label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(width)));
    chart
        .draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, if line.thin { 2 } else { 3 }, c.filled())),
        )
        .map_err(|e| e.to_string())?;
    draw_errors(chart, line, c)
}

/// A vertical bar from the low to the high end of each point's interval, with caps.
fn draw_errors<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    line: &Line,
    c: RGBColor,
) -> Result<(), String> {
    let (x0, x1) = line
        .points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    // Caps one hundredth of the x span wide (on a one-point line, of its x).
    let cap = ((x1 - x0).abs().max(x1.abs()) * 0.01).max(1e-9);
    for &(x, low, high) in &line.errors {
        let segments = [
            vec![(x, low), (x, high)],
            vec![(x - cap, low), (x + cap, low)],
            vec![(x - cap, high), (x + cap, high)],
        ];
        chart
            .draw_series(
                segments
                    .into_iter()
                    .map(|s| PathElement::new(s, c.stroke_width(1))),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
