//! `scaling.svg`: how a run's costs grow with the nodes, across runs of one scenario at several sizes:
//! wall time, peak resident memory and CPU time per delivered copy, each against the number of nodes,
//! both axes logarithmic (a power law is a straight line, its slope the exponent).

use std::path::Path;

use plotters::prelude::*;

use super::chart::{self, AXIS_FONT, Area, Drawn, PALETTE, TICK_FONT};

/// Pixels of the figure: three panels of the usual width, one above the other.
const SIZE: (u32, u32) = (800, 1200);

/// One run, from its `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScalePoint {
    pub(crate) nodes: f64,
    pub(crate) wall_seconds: f64,
    pub(crate) peak_rss_mb: f64,
    /// None when nothing was delivered.
    pub(crate) cpu_ms_per_delivery: Option<f64>,
}

impl ScalePoint {
    /// The point of a run's summary; None if it lacks a field the figure needs.
    pub(crate) fn of(summary: &serde_json::Value) -> Option<Self> {
        let number = |field: &str| summary.get(field).and_then(serde_json::Value::as_f64);
        let deliveries = number("deliveries")?;
        let cpu_seconds = number("cpu_seconds")?;
        Some(Self {
            nodes: number("nodes")?,
            wall_seconds: number("wall_seconds")?,
            peak_rss_mb: number("peak_rss_bytes")? / 1e6,
            cpu_ms_per_delivery: (deliveries > 0.0).then(|| cpu_seconds * 1000.0 / deliveries),
        })
    }
}

/// Draws the three panels into `path`.
pub(crate) fn plot(path: &Path, points: &[ScalePoint]) -> std::io::Result<()> {
    let mut points = points.to_vec();
    points.sort_by(|a, b| a.nodes.total_cmp(&b.nodes));
    let series = |value: fn(&ScalePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter_map(|point| Some((point.nodes, value(point)?)))
            .filter(|(nodes, value)| *nodes > 0.0 && *value > 0.0)
            .collect()
    };
    chart::render_sized(path, SIZE, |root| {
        let panels = root.split_evenly((3, 1));
        panel(&panels[0], "Wall time", "seconds", &series(|p| Some(p.wall_seconds)))?;
        panel(
            &panels[1],
            "Peak resident memory",
            "MB",
            &series(|p| Some(p.peak_rss_mb)),
        )?;
        panel(
            &panels[2],
            "CPU time per delivered copy",
            "ms",
            &series(|p| p.cpu_ms_per_delivery),
        )
    })
}

fn panel(area: &Area<'_>, title: &str, unit: &str, points: &[(f64, f64)]) -> Drawn {
    let area = chart::titled(area, title)?;
    let span = |values: &mut dyn Iterator<Item = f64>| {
        let (low, high) = values.fold((f64::INFINITY, 0.0_f64), |(low, high), v| (low.min(v), high.max(v)));
        if low.is_finite() {
            (low / 1.5, high * 1.5)
        } else {
            (1.0, 10.0)
        }
    };
    let x = span(&mut points.iter().map(|(nodes, _)| *nodes));
    let y = span(&mut points.iter().map(|(_, value)| *value));
    let mut chart = ChartBuilder::on(&area)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("nodes")
        .y_desc(unit)
        .x_label_formatter(&|v| round_label(*v))
        .y_label_formatter(&|v| round_label(*v))
        .light_line_style(TRANSPARENT)
        .label_style(TICK_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()?;
    if points.is_empty() {
        return chart::note(&chart, "no run to show");
    }
    chart.draw_series(LineSeries::new(points.iter().copied(), PALETTE[0].stroke_width(2)))?;
    chart.draw_series(points.iter().map(|point| Circle::new(*point, 5, PALETTE[0].filled())))?;
    Ok(())
}

/// A label for a tick of a logarithmic axis, or none: only 1, 2, 3 and 5 times a power of ten are
/// labelled, so the crowded ticks below each power stay unlabelled.
fn round_label(value: f64) -> String {
    let leading = value / 10f64.powf(value.log10().floor());
    if [1.0, 2.0, 3.0, 5.0].iter().any(|round| (leading - round).abs() < 1e-6) {
        chart::number(value)
    } else {
        String::new()
    }
}
