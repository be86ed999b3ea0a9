//! `latency_cdf.svg`: how long copies took from send to delivery, local against cross-node.

use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::chart::{self, AXIS_FONT, Area, Drawn, LEGEND_FONT, MAX_POINTS, PALETTE, TICK_FONT};
use super::{DeliveryPoint, Figures};

const TITLE: &str = "Send-to-delivery latency";
const X_DESC: &str = "latency (ms)";
const Y_DESC: &str = "fraction of delivered copies";

/// Draws the plot into `path` and returns its caption.
pub(super) fn plot(path: &Path, figures: &Figures<'_>) -> std::io::Result<String> {
    let latencies = |cross: bool| {
        figures
            .deliveries
            .iter()
            .filter(|delivery| delivery.cross_node == cross)
            .map(latency_ms)
            .filter(|ms| ms.is_finite())
            .map(|ms| ms.max(0.0))
            .collect::<Vec<_>>()
    };
    let (local, cross) = (latencies(false), latencies(true));
    let high = local.iter().chain(&cross).copied().fold(0.0, f64::max);
    // A log axis cannot show 0: the smallest positive latency stands in for any below it.
    let low = local
        .iter()
        .chain(&cross)
        .copied()
        .filter(|ms| *ms > 0.0)
        .fold(f64::INFINITY, f64::min);
    let log = chart::wide(low, high);
    let floor = if log { low } else { 0.0 };
    let series = [
        Series {
            name: "local",
            count: local.len(),
            points: cdf(local, floor),
        },
        Series {
            name: "cross-node",
            count: cross.len(),
            points: cdf(cross, floor),
        },
    ];
    chart::render(path, |root| {
        if log {
            draw(root, (low / 1.25..high * 1.25).log_scale(), &series)
        } else {
            draw(root, 0.0..if high > 0.0 { high * 1.05 } else { 1.0 }, &series)
        }
    })?;
    let counts: Vec<String> = series
        .iter()
        .map(|line| format!("{} {}", line.count, line.name))
        .collect();
    Ok(format!(
        "Cumulative distribution of send-to-delivery latency ({}; {} axis). Local: sender, recipient and \
         conversation host on one node; cross-node: any of them elsewhere.",
        counts.join(", "),
        if log { "logarithmic latency" } else { "linear" },
    ))
}

/// A copy's latency; from its two instants if the caller had none to give.
fn latency_ms(delivery: &DeliveryPoint) -> f64 {
    if delivery.latency_ms.is_finite() {
        delivery.latency_ms
    } else {
        (delivery.delivered_s - delivery.sent_s) * 1000.0
    }
}

/// `(latency, fraction of copies at most that late)`, thinned to evenly spaced quantiles.
fn cdf(mut latencies: Vec<f64>, floor: f64) -> Vec<(f64, f64)> {
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len();
    let point = |index: usize| (latencies[index].max(floor), (index + 1) as f64 / n as f64);
    if n <= MAX_POINTS {
        (0..n).map(point).collect()
    } else {
        (0..MAX_POINTS).map(|k| point(k * (n - 1) / (MAX_POINTS - 1))).collect()
    }
}

/// One line of the plot.
struct Series {
    name: &'static str,
    /// Copies it stands for (the points may be thinned).
    count: usize,
    points: Vec<(f64, f64)>,
}

fn draw<X>(root: &Area<'_>, x: X, series: &[Series; 2]) -> Drawn
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let area = chart::titled(root, TITLE)?;
    let mut chart = chart::builder(&area, &[]).build_cartesian_2d(x, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc(X_DESC)
        .y_desc(Y_DESC)
        .x_label_formatter(&|v| chart::number(*v))
        .label_style(TICK_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()?;
    if series.iter().all(|line| line.points.is_empty()) {
        return chart::note(&chart, "no copies were delivered");
    }
    for (line, color) in series.iter().zip([PALETTE[0], PALETTE[1]]) {
        if line.points.is_empty() {
            continue;
        }
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))?
            .label(format!("{} (n = {})", line.name, line.count))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(LEGEND_FONT)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
}
