//! The waterfall of one traced query: a bar per span in tree order, labelled `node: span`
//! and indented by depth in a column of its own, over ms since the query's first span began,
//! coloured by node.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::{both, color, trim};
use crate::trace::{QueryTrace, SpanBar};

/// Most bars drawn; a longer trace shows its longest spans and says so in the title.
const MAX_BARS: usize = 40;

/// Width of the label column, pixels.
const LABELS: u32 = 250;
/// The chart's margin and x label area, pixels (the rows of the label column follow them).
const MARGIN: i32 = 12;
const X_AREA: i32 = 40;

fn draw_waterfall<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    trace: &QueryTrace,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let shown = longest(&trace.bars, MAX_BARS);
    let title = if shown.len() < trace.bars.len() {
        format!(
            "{title} (the {MAX_BARS} longest of {} spans)",
            trace.bars.len()
        )
    } else {
        title.to_string()
    };
    let body = root.titled(&title, ("sans-serif", 18)).map_err(err)?;
    let (labels, plot) = body.split_horizontally(LABELS);
    let rows = shown.len().max(1);
    let end = shown
        .iter()
        .map(|b| b.start_ms + b.duration_ms)
        .fold(0.0f64, f64::max);
    let x_max = if end > 0.0 { end * 1.2 } else { 1.0 };
    let mut chart = ChartBuilder::on(&plot)
        .margin(MARGIN as u32)
        .x_label_area_size(X_AREA as u32)
        .y_label_area_size(0)
        .build_cartesian_2d(0.0..x_max, 0.0..rows as f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ms since the query's first span began")
        .draw()
        .map_err(|e| e.to_string())?;
    let mut nodes: Vec<&str> = Vec::new();
    let (_, height) = labels.dim_in_pixel();
    let row_px = (height as i32 - 2 * MARGIN - X_AREA) as f64 / rows as f64;
    for (i, bar) in shown.iter().enumerate() {
        let node = match nodes.iter().position(|n| *n == bar.node) {
            Some(at) => at,
            None => {
                nodes.push(&bar.node);
                nodes.len() - 1
            }
        };
        let c = color(node);
        let y = (rows - i) as f64;
        let x1 = bar.start_ms + bar.duration_ms.max(x_max / 500.0);
        let rect = Rectangle::new([(bar.start_ms, y - 0.8), (x1, y - 0.2)], c.filled());
        let middle = ("sans-serif", 11)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let text = Text::new(
            format!("{} ms", trim(bar.duration_ms)),
            (x1 + x_max / 200.0, y - 0.5),
            middle,
        );
        chart.draw_series([rect]).map_err(|e| e.to_string())?;
        chart.draw_series([text]).map_err(|e| e.to_string())?;
        let at = (
            8 + 12 * bar.depth.min(12) as i32,
            MARGIN + (row_px * (i as f64 + 0.5)) as i32,
        );
        let style = ("sans-serif", 12)
            .into_font()
            .color(&c)
            .pos(Pos::new(HPos::Left, VPos::Center));
        labels.draw_text(&bar.label(), &style, at).map_err(err)?;
    }
    Ok(())
}

/// The `n` longest of `bars` (all when there are no more), in their waterfall order: a
/// parent lasts at least as long as its children, so it stays when they do.
fn longest(bars: &[SpanBar], n: usize) -> Vec<&SpanBar> {
    let mut by_length: Vec<usize> = (0..bars.len()).collect();
    by_length.sort_by(|&a, &b| bars[b].duration_ms.total_cmp(&bars[a].duration_ms));
    by_length.truncate(n);
    by_length.sort_unstable();
    by_length.into_iter().map(|i| &bars[i]).collect()
}

/// The waterfall of `trace` to `<stem>.png` and `<stem>.svg`.
pub fn waterfall_chart(
    stem: &Path,
    title: &str,
    trace: &QueryTrace,
) -> anyhow::Result<Vec<PathBuf>> {
    both!(stem, draw_waterfall, title, trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_trace_keeps_its_longest_spans_in_waterfall_order() {
        let bar = |name: &str, duration_ms: f64| SpanBar {
            node: "A".into(),
            name: name.into(),
            peer: None,
            depth: 0,
            start_ms: 0.0,
            duration_ms,
            self_ms: duration_ms,
        };
        let bars = [bar("a", 5.0), bar("b", 0.1), bar("c", 3.0), bar("d", 4.0)];
        let names = |kept: Vec<&SpanBar>| kept.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(longest(&bars, 3)), ["a", "c", "d"]);
        assert_eq!(names(longest(&bars, 9)), ["a", "b", "c", "d"]);
    }
}
