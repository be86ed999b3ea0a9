//! The figure of a comparison: server CPU per message and p99 latency for each row, one line per
//! server, written as an SVG next to the printed tables.

use std::path::Path;

use plotters::prelude::*;

use crate::Row;

const SIZE: (u32, u32) = (1000, 460);
const FONT: &str = "sans-serif";
const COLOURS: [RGBColor; 3] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];

/// `cpu[row][server]` in CPU seconds per 1,000 messages, `p99[row][server]` in milliseconds.
pub(crate) fn write(
    path: &Path,
    names: &[&str],
    rows: &[Row],
    cpu: &[Vec<f64>],
    p99: &[Vec<f64>],
) -> Result<(), String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let drawn = (|| {
            root.fill(&WHITE)?;
            let (left, right) = root.split_horizontally(SIZE.0 / 2);
            panel(&left, "Server CPU s per 1,000 messages", names, rows, cpu)?;
            panel(&right, "p99 latency, ms (log)", names, rows, p99)?;
            root.present()
        })();
        drawn.map_err(|err| format!("drawing {}: {err}", path.display()))?;
    }
    std::fs::write(path, svg).map_err(|err| format!("writing {}: {err}", path.display()))
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn panel(
    area: &Area<'_>,
    title: &str,
    names: &[&str],
    rows: &[Row],
    values: &[Vec<f64>],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let all = values
        .iter()
        .flatten()
        .copied()
        .filter(|value| value.is_finite() && *value > 0.0);
    let (low, high) = all.fold((f64::MAX, 0.0f64), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let (low, high) = if high > 0.0 {
        (low / 2.0, high * 2.0)
    } else {
        (0.01, 1.0)
    };
    let labels: Vec<String> = rows
        .iter()
        .map(|row| format!("U={} M={} W={}", row.users, row.messages, row.window))
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(rows.len() as f64 - 0.5), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(rows.len())
        .x_label_formatter(&|x| {
            let index = x.round();
            if (x - index).abs() < 0.01 && index >= 0.0 {
                labels.get(index as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style((FONT, 12))
        .draw()?;
    for (server, name) in names.iter().enumerate() {
        let colour = COLOURS[server % COLOURS.len()];
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(row, cells)| cells.get(server).map(|value| (row as f64, *value)))
            .filter(|(_, value)| value.is_finite() && *value > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|point| Circle::new(point, 4, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}
