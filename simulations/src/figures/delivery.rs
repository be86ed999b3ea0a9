//! `delivery_ratio.svg`: the share of owed copies delivered so far, over the run, against its faults.

use std::path::Path;

use plotters::prelude::*;

use super::Figures;
use super::chart::{self, AXIS_FONT, PALETTE, TICK_FONT};

const TITLE: &str = "Cumulative delivery ratio";
/// The ratio can pass 1 for a moment (a copy may arrive before its sender hears the acknowledgement);
/// the axis stops just above 1 and the line is clipped there.
const Y_MAX: f64 = 1.05;
/// Points along the time axis: about one per horizontal pixel of the plotting area.
const STEPS: usize = 700;

/// Draws the plot into `path` and returns its caption.
pub(super) fn plot(path: &Path, figures: &Figures<'_>) -> std::io::Result<String> {
    let x = chart::time_range(
        figures.duration_s,
        figures
            .deliveries
            .iter()
            .map(|delivery| delivery.delivered_s)
            .chain(figures.expected_by_time.iter().map(|(t, _)| *t)),
    );
    let points = ratio(figures, x.end);
    chart::render(path, |root| {
        let area = chart::titled(root, TITLE)?;
        let mut chart = chart::builder(&area, figures.faults).build_cartesian_2d(x.clone(), 0.0..Y_MAX)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("delivered / owed copies")
            .x_label_formatter(&|v| chart::number(*v))
            .label_style(TICK_FONT)
            .axis_desc_style(AXIS_FONT)
            .draw()?;
        chart::shade_faults(&area, &mut chart, figures.faults, &x, (0.0, Y_MAX))?;
        if points.is_empty() {
            return chart::note(&chart, "no acknowledged message owed a copy");
        }
        let full = BLACK.mix(0.35).stroke_width(1);
        chart.draw_series(DashedLineSeries::new([(x.start, 1.0), (x.end, 1.0)], 6, 4, full))?;
        chart
            .draw_series(LineSeries::new(points.iter().copied(), PALETTE[0].stroke_width(2)))
            .map(|_| ())
    })?;
    Ok(
        "Copies delivered so far over copies owed so far by acknowledged messages (one per recipient \
        device). Copies still in flight pull it below 1; shaded: faults in force."
            .to_owned(),
    )
}

/// `(t, delivered by t / owed by t)` on an even grid, from the first instant anything is owed.
fn ratio(figures: &Figures<'_>, end: f64) -> Vec<(f64, f64)> {
    let mut delivered: Vec<f64> = figures.deliveries.iter().map(|delivery| delivery.delivered_s).collect();
    delivered.sort_by(f64::total_cmp);
    let mut owed = figures.expected_by_time.to_vec();
    owed.sort_by(|a, b| a.0.total_cmp(&b.0));
    (0..=STEPS)
        .filter_map(|step| {
            let t = end * step as f64 / STEPS as f64;
            let owed_by = owed.partition_point(|(at, _)| *at <= t);
            let owed = owed_by.checked_sub(1).map_or(0, |last| owed[last].1);
            let delivered = delivered.partition_point(|at| *at <= t);
            (owed > 0).then(|| (t, (delivered as f64 / owed as f64).min(Y_MAX)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::DeliveryPoint;

    #[test]
    fn the_ratio_counts_deliveries_against_what_is_owed_by_then() {
        let deliveries: Vec<DeliveryPoint> = [1.5, 2.5, 2.6]
            .into_iter()
            .map(|delivered_s| DeliveryPoint {
                delivered_s,
                ..DeliveryPoint::default()
            })
            .collect();
        let figures = Figures {
            deliveries: &deliveries,
            samples: &[],
            faults: &[],
            expected_by_time: &[(2.0, 4), (1.0, 2)],
            duration_s: 7.0,
        };
        let points = ratio(&figures, 7.0);
        let at = |t: f64| points.iter().find(|(x, _)| (x - t).abs() < 1e-9).map(|(_, y)| *y);
        assert_eq!(at(0.0), None);
        assert_eq!(at(1.0), Some(0.0));
        assert_eq!(at(2.0), Some(0.25));
        assert_eq!(at(3.0), Some(0.75));
    }
}
