//! What every figure shares: the canvas, fonts and colours, rendering to a file, fault shading, the
//! note on an empty chart, and thinning long series.

use std::io;
use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::FaultWindow;

/// Pixels of every figure: readable at this size on screen, and scaled down cleanly in a paper.
pub(super) const SIZE: (u32, u32) = (800, 500);
/// SVG names a generic family, so the viewer picks its own sans-serif font: the SVG backend writes
/// `<text>` elements and only estimates their width, so no font files are read here.
pub(super) const FONT: &str = "sans-serif";
// Sizes in plotters' units (the SVG's pixels are 1/1.24 of them): large enough to stay legible when
// the figure is shrunk to a paper's column.
/// The title.
const TITLE_FONT: (&str, u32) = (FONT, 26);
/// Tick labels.
pub(super) const TICK_FONT: (&str, u32) = (FONT, 16);
/// Axis descriptions.
pub(super) const AXIS_FONT: (&str, u32) = (FONT, 18);
/// Legend entries.
pub(super) const LEGEND_FONT: (&str, u32) = (FONT, 15);
/// Fault labels.
const FAULT_FONT: (&str, u32) = (FONT, 14);
/// Points kept per series: a few per horizontal pixel, so a long run's SVG stays small.
pub(super) const MAX_POINTS: usize = 2000;
/// Tableau 10 and two more: distinct, and mostly distinguishable by the colour-blind and in grey.
pub(super) const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(255, 187, 120),
];

/// The whole canvas.
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// A chart whose x axis is time in seconds.
pub(super) type TimeChart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;
/// What drawing returns; turned into an `io::Error` once, in [`render`].
pub(super) type Drawn = Result<(), DrawingAreaErrorKind<io::Error>>;

/// Draws a figure of the usual size into a string, then writes it: the backend's own file output
/// reports errors only when dropped, where they would be lost.
pub(super) fn render(path: &Path, draw: impl FnOnce(&Area<'_>) -> Drawn) -> io::Result<()> {
    render_sized(path, SIZE, draw)
}

/// [`render`] on a canvas of `size` pixels.
pub(super) fn render_sized(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> io::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(io::Error::other)?;
        draw(&root).map_err(io::Error::other)?;
        root.present().map_err(io::Error::other)?;
    }
    std::fs::write(path, svg)
}

/// The time axis: the run's duration, stretched to the last point (copies still arrive while the
/// run drains), and never empty.
pub(super) fn time_range(duration_s: f64, last: impl IntoIterator<Item = f64>) -> Range<f64> {
    let end = last
        .into_iter()
        .filter(|t| t.is_finite())
        .fold(if duration_s.is_finite() { duration_s } else { 0.0 }, f64::max);
    0.0..if end > 0.0 { end } else { 1.0 }
}

/// Rows of fault labels, above the plot: faults close in time are staggered over them.
const LABEL_ROWS: usize = 4;
/// Pixels per row of fault labels.
const LABEL_ROW: i32 = 15;

/// The canvas less its margins and title: what [`builder`] lays the chart out on.
pub(super) fn titled<'b>(root: &Area<'b>, title: &str) -> Result<Area<'b>, DrawingAreaErrorKind<io::Error>> {
    root.margin(12, 4, 16, 16).titled(title, TITLE_FONT)
}

/// Starts a chart on a [`titled`] area, leaving a band above the plot for the labels of `faults`,
/// where they cannot hide the data.
pub(super) fn builder<'a, 'b>(area: &'a Area<'b>, faults: &[FaultWindow]) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(label_band(faults))
        .x_label_area_size(56)
        .y_label_area_size(80);
    builder
}

/// Pixels between the title and the plot: a few, plus a row per fault label.
fn label_band(faults: &[FaultWindow]) -> i32 {
    8 + faults.len().min(LABEL_ROWS) as i32 * LABEL_ROW
}

/// Shades each fault window in light red over the whole height, labelled in the band above the plot
/// (see [`builder`]) on `area`, the chart's [`titled`] area: drawn on the plot itself they would be
/// clamped into it. A fault without an end (or ending after the axis) runs to the axis' end; an
/// instantaneous one gets a sliver.
pub(super) fn shade_faults<Y: Ranged<ValueType = f64>>(
    area: &Area<'_>,
    chart: &mut TimeChart<'_, '_, Y>,
    faults: &[FaultWindow],
    x: &Range<f64>,
    y: (f64, f64),
) -> Drawn {
    let fill = RGBColor(220, 40, 40).mix(0.12).filled();
    let band = label_band(faults);
    for (index, fault) in faults.iter().enumerate() {
        if fault.start_s.is_nan() || fault.start_s >= x.end {
            continue;
        }
        let start = fault.start_s.max(x.start);
        let end = if fault.end_s.is_nan() {
            x.end
        } else {
            fault.end_s.min(x.end)
        };
        let end = end.max(start + (x.end - x.start) / 400.0);
        chart.draw_series(std::iter::once(Rectangle::new([(start, y.0), (end, y.1)], fill)))?;
        // Pixels relative to `area`.
        let plot = chart.plotting_area();
        let base = area.get_base_pixel();
        let (left, top) = plot.map_coordinate(&(start, y.1));
        let (left, right) = (left - base.0, plot.map_coordinate(&(end, y.1)).0 - base.0);
        let top = top - base.1 + 2 - band + (index % LABEL_ROWS) as i32 * LABEL_ROW;
        // A label that would run off the right edge ends where its window does instead.
        let width = plot.get_pixel_range().0.end - base.0;
        let estimate = (fault.label.chars().count() as f64 * 7.0) as i32;
        let (at, h_pos) = if left + estimate > width {
            (right, HPos::Right)
        } else {
            (left, HPos::Left)
        };
        let style = FAULT_FONT
            .into_font()
            .color(&RGBColor(150, 20, 20))
            .pos(Pos::new(h_pos, VPos::Top));
        area.draw(&Text::new(fault.label.clone(), (at, top), style))?;
    }
    Ok(())
}

/// Writes `note` in the middle of the plotting area of a chart that has nothing to show.
pub(super) fn note<X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    note: &str,
) -> Drawn {
    let area = chart.plotting_area().strip_coord_spec();
    let (width, height) = area.dim_in_pixel();
    let style = (FONT, 20)
        .into_font()
        .color(&RGBColor(110, 110, 110))
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        note.to_owned(),
        (width as i32 / 2, height as i32 / 2),
        style,
    ))
}

/// At most `max` points of a time-ordered series: the lowest and highest point of each of `max / 2`
/// consecutive buckets, in their order, so spikes survive the thinning.
pub(super) fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let mut out = Vec::with_capacity(buckets * 2);
    for bucket in 0..buckets {
        let slice = &points[bucket * points.len() / buckets..(bucket + 1) * points.len() / buckets];
        let low = slice.iter().enumerate().min_by(|a, b| a.1.1.total_cmp(&b.1.1));
        let high = slice.iter().enumerate().max_by(|a, b| a.1.1.total_cmp(&b.1.1));
        if let (Some(low), Some(high)) = (low, high) {
            let (first, second) = if low.0 <= high.0 { (low, high) } else { (high, low) };
            out.push(*first.1);
            if second.0 != first.0 {
                out.push(*second.1);
            }
        }
    }
    out
}

/// Whether values from `low` to `high` (both > 0) span more than two decades, and so read better on
/// a logarithmic axis.
pub(super) fn wide(low: f64, high: f64) -> bool {
    low > 0.0 && high / low > 100.0
}

/// A number for an axis label: no trailing zeros, no exponent for everyday magnitudes.
pub(super) fn number(value: f64) -> String {
    if value == 0.0 || (1e-3..1e7).contains(&value.abs()) {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{value:.1e}")
    }
}

/// The legend every time plot draws, in its upper right corner.
pub(super) fn legend<'a, Y: Ranged<ValueType = f64>>(chart: &mut TimeChart<'a, 'a, Y>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(LEGEND_FONT)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_extremes_in_order() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_000 { 99.0 } else { 1.0 }))
            .collect();
        let thinned = thin(&points, 100);
        assert!(thinned.len() <= 100);
        assert!(thinned.contains(&(5_000.0, 99.0)));
        assert!(thinned.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(thin(&points[..10], 100).len(), 10);
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1000.0), "1000");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1e-5), "1.0e-5");
    }
}
