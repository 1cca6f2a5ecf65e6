//! Line charts as PNG files: schedules (`weft schedule --plot`) and training curves.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use weft_core::dry::ScheduleEntry;

/// Fonts tried in turn (Debian's fonts-dejavu-core, then other common locations).
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let path = FONTS.iter().find(|p| Path::new(p).is_file()).ok_or_else(|| {
            "no TrueType font found for plot labels; install Debian's fonts-dejavu-core (make setup does)".to_string()
        })?;
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        register_font_bytes(bytes)
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

fn register_font_bytes(bytes: &'static [u8]) -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| "the font file is not usable".to_string())
}

/// One curve: a name and its points.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// A panel of curves sharing axes.
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// The curves.
    pub series: Vec<Series>,
}

/// Draws panels stacked vertically into a PNG.
pub fn draw(path: &Path, panels: &[Panel]) -> Result<()> {
    register_font()?;
    let height = 320 * panels.len().max(1) as u32;
    let root = BitMapBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (area, panel) in areas.iter().zip(panels) {
        let points = panel.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in points.filter(|(_, y)| y.is_finite()) {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        if x0 > x1 {
            continue;
        }
        if x1 == x0 {
            x1 = x0 + 1.0;
        }
        let pad = ((y1 - y0).abs() * 0.05).max(y1.abs() * 1e-3).max(1e-12);
        let span = (y1 - y0).abs().max(y1.abs() * 1e-3).max(1e-12);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| axis_label(*v, span))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (k, s) in panel.series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| anyhow!("{e}"))?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            // Sparse curves (one point per evaluation) get markers, or a single point would
            // not show at all.
            if s.points.len() < 60 {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                    )
                    .map_err(|e| anyhow!("{e}"))?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A y-axis label: plain decimals, as many as the axis's span needs, unless the values are
/// very large or very small.
fn axis_label(v: f64, span: f64) -> String {
    let magnitude = v.abs().max(span);
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    let decimals = (2.0 - span.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// The lr and momentum curves of every group, like mmpretrain's `vis_scheduler`.
pub fn schedule(path: &Path, entries: &[ScheduleEntry]) -> Result<()> {
    let groups = entries.first().map_or(0, |e| e.lr.len());
    let curve = |pick: &dyn Fn(&ScheduleEntry) -> f64| {
        entries
            .iter()
            .map(|e| (e.iter as f64, pick(e)))
            .collect::<Vec<_>>()
    };
    let lr = (0..groups)
        .map(|g| Series {
            label: format!("group {g}"),
            points: curve(&|e| e.lr[g]),
        })
        .collect();
    let momentum = (0..groups)
        .map(|g| Series {
            label: format!("group {g}"),
            points: curve(&|e| e.momentum[g]),
        })
        .collect();
    draw(
        path,
        &[
            Panel {
                title: "learning rate".into(),
                x_label: "iteration".into(),
                series: lr,
            },
            Panel {
                title: "momentum".into(),
                x_label: "iteration".into(),
                series: momentum,
            },
        ],
    )
}
