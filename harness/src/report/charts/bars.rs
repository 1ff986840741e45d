//! Grouped bar charts: one group per category, one coloured bar per member.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{both, color};

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
    /// `values[group][member]`.
    pub values: Vec<Vec<f64>>,
    /// Palette index of each member (the same team or strategy has the same colour in every
    /// chart).
    pub colors: Vec<usize>,
    /// `errors[group][member]`: the interval drawn as an error bar, when there is one.
    pub errors: Vec<Vec<Option<(f64, f64)>>>,
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, bars: &Bars) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let highs = bars.errors.iter().flatten().flatten().map(|e| e.1);
    let max = bars
        .values
        .iter()
        .flatten()
        .copied()
        .chain(highs)
        .fold(0.0f64, f64::max);
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
        let c = color(bars.colors.get(m).copied().unwrap_or(m));
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
        let whiskers = bars.errors.iter().enumerate().filter_map(|(g, row)| {
            let (low, high) = row.get(m).copied().flatten()?;
            let x = g as f64 + 0.1 + m as f64 * width + width * 0.45;
            Some(PathElement::new(
                vec![(x, low), (x, high)],
                BLACK.stroke_width(2),
            ))
        });
        chart.draw_series(whiskers).map_err(|e| e.to_string())?;
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
