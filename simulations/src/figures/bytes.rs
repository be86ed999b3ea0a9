//! `bytes_per_message.svg`: what each delivered copy cost on the wire, interval by interval.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::chart::{self, AXIS_FONT, Area, Drawn, MAX_POINTS, PALETTE, TICK_FONT};
use super::{Figures, NodeSample, instants};

const TITLE: &str = "Bytes on the wire per delivered copy";

/// Draws the plot into `path` and returns its caption.
pub(super) fn plot(path: &Path, figures: &Figures<'_>) -> std::io::Result<String> {
    let x = chart::time_range(figures.duration_s, figures.samples.iter().map(|sample| sample.t_s));
    let runs = per_interval(figures.samples);
    let plaintext = mean_plaintext(figures);
    let values = || runs.iter().flatten().map(|(_, y)| *y).chain(plaintext);
    let high = values().fold(0.0, f64::max);
    let low = values().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
    let log = chart::wide(low, high);
    chart::render(path, |root| {
        if log {
            // A log axis cannot show 0: the smallest positive value stands in for any below it.
            let runs: Vec<Vec<(f64, f64)>> = runs
                .iter()
                .map(|run| run.iter().map(|(t, y)| (*t, y.max(low))).collect())
                .collect();
            let y = (low / 1.5, high * 1.5);
            draw(
                root,
                figures,
                &x,
                (y.0..y.1).log_scale(),
                y,
                Lines { runs: &runs, plaintext },
            )
        } else {
            let y = (0.0, if high > 0.0 { high * 1.1 } else { 1.0 });
            draw(root, figures, &x, y.0..y.1, y, Lines { runs: &runs, plaintext })
        }
    })?;
    Ok(format!(
        "Bytes all nodes put on the wire in each sampling interval over the copies delivered in it \
         (intervals without a delivery are left out; {} axis), against the mean plaintext size of the \
         delivered copies. Shaded: faults in force.",
        if log { "logarithmic" } else { "linear" }
    ))
}

/// What the plot shows.
struct Lines<'a> {
    /// Runs of consecutive intervals with deliveries: `(t, wire bytes per copy)`.
    runs: &'a [Vec<(f64, f64)>],
    /// The mean plaintext size of the delivered copies: what the wire bytes would be with no
    /// overhead at all, the baseline the overhead is read against.
    plaintext: Option<f64>,
}

fn mean_plaintext(figures: &Figures<'_>) -> Option<f64> {
    let copies = figures.deliveries.len();
    let bytes: f64 = figures.deliveries.iter().map(|delivery| delivery.bytes as f64).sum();
    (copies > 0).then(|| bytes / copies as f64)
}

fn draw<Y>(root: &Area<'_>, figures: &Figures<'_>, x: &Range<f64>, y_spec: Y, y: (f64, f64), lines: Lines<'_>) -> Drawn
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let area = chart::titled(root, TITLE)?;
    let mut chart = chart::builder(&area, figures.faults).build_cartesian_2d(x.clone(), y_spec)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc("bytes per delivered copy")
        .x_label_formatter(&|v| chart::number(*v))
        .y_label_formatter(&|v| chart::number(*v))
        .label_style(TICK_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()?;
    chart::shade_faults(&area, &mut chart, figures.faults, x, y)?;
    if lines.runs.is_empty() {
        return chart::note(&chart, "no copy was delivered between two samples");
    }
    let style = PALETTE[0].stroke_width(2);
    for run in lines.runs {
        if let [point] = run.as_slice() {
            chart.draw_series(std::iter::once(Circle::new(*point, 3, style.filled())))?;
        } else {
            chart.draw_series(LineSeries::new(chart::thin(run, MAX_POINTS), style))?;
        }
    }
    // The legend samples the series drawn last, so the wire line gets its entry here.
    chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label("on the wire")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    if let Some(plaintext) = lines.plaintext {
        let dashed = PALETTE[7].stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(x.start, plaintext), (x.end, plaintext)],
                8,
                5,
                dashed,
            ))?
            .label(format!("mean plaintext ({} B)", chart::number(plaintext.round())))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], dashed));
    }
    chart::legend(&mut chart)
}

/// Bytes per delivered copy in each sampling interval, as runs of consecutive intervals that
/// delivered something (a gap in the line is an interval without deliveries). Deltas are taken per
/// node and never negative, and a node's samples while it is down are passed over: a restarted node
/// may count from zero again, which then costs one interval of its traffic rather than counting its
/// whole history twice.
fn per_interval(samples: &[NodeSample]) -> Vec<Vec<(f64, f64)>> {
    let mut last: HashMap<&str, (u64, u64)> = HashMap::new();
    let (mut runs, mut run) = (Vec::new(), Vec::new());
    for instant in instants(samples) {
        let (mut bytes, mut copies) = (0u64, 0u64);
        for sample in instant.iter().filter(|sample| sample.up) {
            let now = (sample.bytes_sent, sample.delivered);
            let before = last.insert(sample.node.as_str(), now).unwrap_or_default();
            bytes += now.0.saturating_sub(before.0);
            copies += now.1.saturating_sub(before.1);
        }
        match instant.first() {
            Some(first) if copies > 0 => run.push((first.t_s, bytes as f64 / copies as f64)),
            _ if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            _ => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: f64, node: &str, up: bool, bytes_sent: u64, delivered: u64) -> NodeSample {
        NodeSample {
            t_s,
            node: node.to_owned(),
            up,
            bytes_sent,
            delivered,
            ..NodeSample::default()
        }
    }

    #[test]
    fn intervals_without_deliveries_split_the_line_and_restarts_do_not_count_twice() {
        let samples = [
            sample(1.0, "a", true, 1000, 10),
            sample(1.0, "b", true, 1000, 0),
            sample(2.0, "a", true, 1500, 10),
            sample(2.0, "b", true, 1500, 0),
            sample(3.0, "a", false, 0, 0),
            sample(3.0, "b", true, 2000, 5),
            // `a` restarted counting from zero.
            sample(4.0, "a", true, 100, 1),
            sample(4.0, "b", true, 2100, 6),
        ];
        let runs = per_interval(&samples);
        assert_eq!(runs, vec![vec![(1.0, 200.0)], vec![(3.0, 100.0), (4.0, 100.0)]]);
    }
}
