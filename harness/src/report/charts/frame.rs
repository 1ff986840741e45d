//! What every chart shares: the embedded font, the palette, the canvas size, drawing one chart
//! to both PNG and SVG, axis bounds and number labels.

use std::sync::Once;

use plotters::prelude::*;

/// DejaVu Sans (Bitstream Vera licence, see `harness/assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Width and height of every chart, pixels.
pub(super) const SIZE: (u32, u32) = (960, 600);

/// Registers the embedded font under every family and style plotters may ask for (once).
pub(super) fn register_font() {
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

/// The palette index of a strategy: the same in every chart and every compared run.
pub(super) fn strategy_color(strategy: &str) -> usize {
    match strategy {
        "strict" => 0,
        "weighted" => 3,
        "hybrid" => 4,
        "fair_queue" => 6,
        "baseline" => 5,
        other => named_or_hashed(other),
    }
}

/// The palette index of a team: its own colour when it is named after one (green, pink,
/// red...), else one chosen by its name, so it is the same in every chart.
pub(super) fn team_color(team: &str) -> usize {
    named_or_hashed(team)
}

/// The palette entry a name spells (`blue`, `red`, `green`, `orange`, `purple`, `grey`,
/// `cyan`, `pink`), else one picked by a hash of the name.
fn named_or_hashed(name: &str) -> usize {
    const NAMES: [&str; 8] = [
        "blue", "red", "green", "orange", "purple", "grey", "cyan", "pink",
    ];
    let lower = name.to_ascii_lowercase();
    NAMES.iter().position(|n| *n == lower).unwrap_or_else(|| {
        let hash = lower.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % NAMES.len() as u64) as usize
    })
}

/// Colour `i` of the palette (it repeats after eight).
pub(super) fn color(i: usize) -> RGBColor {
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
        use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
        $crate::report::charts::frame::register_font();
        let size = $crate::report::charts::frame::SIZE;
        let png = $stem.with_extension("png");
        let svg = $stem.with_extension("svg");
        {
            let root = BitMapBackend::new(&png, size).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| anyhow::anyhow!("{}: {e}", png.display()))?;
            root.present().map_err(|e| anyhow::anyhow!("{}: {e}", png.display()))?;
        }
        {
            let root = SVGBackend::new(&svg, size).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| anyhow::anyhow!("{}: {e}", svg.display()))?;
            root.present().map_err(|e| anyhow::anyhow!("{}: {e}", svg.display()))?;
        }
        Ok::<Vec<std::path::PathBuf>, anyhow::Error>(vec![png, svg])
    }};
}
pub(super) use both;

/// The x and y ranges that hold every point and error bar of `lines` (y from 0, or padded on
/// a log axis).
pub(super) fn bounds(lines: &[super::Line], log_y: bool) -> ((f64, f64), (f64, f64)) {
    let pts = lines.iter().flat_map(|l| {
        l.points.iter().copied().chain(
            l.errors
                .iter()
                .flat_map(|&(x, low, high)| [(x, low), (x, high)]),
        )
    });
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
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

/// `x` with two decimals, trailing zeros dropped.
pub(super) fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
