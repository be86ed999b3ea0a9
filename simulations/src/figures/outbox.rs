//! `outbox_depth.svg`: how many envelopes wait in the nodes' outboxes for other nodes, over the run.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use super::chart::{self, AXIS_FONT, Area, Drawn, MAX_POINTS, PALETTE, TICK_FONT};
use super::{Figures, NodeSample, instants};

/// Beyond this many nodes one line each is a tangle, so the plot shows their sum, maximum and median
/// instead.
const MAX_NODE_LINES: usize = 12;
const TITLE: &str = "Outbox depth";
const X_DESC: &str = "time since start (s)";
const Y_DESC: &str = "envelopes waiting in the outbox";

/// A named line.
type Line = (String, Vec<(f64, f64)>);

/// Draws the plot into `path` and returns its caption.
pub(super) fn plot(path: &Path, figures: &Figures<'_>) -> std::io::Result<String> {
    let x = chart::time_range(figures.duration_s, figures.samples.iter().map(|sample| sample.t_s));
    let lines = per_node(figures.samples);
    let nodes = lines.len();
    if nodes > MAX_NODE_LINES {
        let [sum, max, median] = summarised(figures.samples);
        chart::render(path, |root| draw_summary(root, figures, &x, &sum, &[max, median]))?;
        return Ok(format!(
            "Envelopes waiting in the outboxes for other nodes, across {nodes} nodes at each sampling \
             instant: the deepest and the median (left axis) and their sum (right axis). Shaded: faults \
             in force."
        ));
    }
    chart::render(path, |root| draw_lines(root, figures, &x, &lines))?;
    Ok("Envelopes waiting in each node's outbox for other nodes. Shaded: faults in force.".to_owned())
}

/// `0..` a little above the highest point (or `0..1` if there is none).
fn y_range<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Range<f64> {
    let top = lines
        .into_iter()
        .flat_map(|(_, points)| points)
        .map(|(_, y)| *y)
        .fold(0.0, f64::max);
    0.0..if top > 0.0 { top * 1.1 } else { 1.0 }
}

/// One line per node.
fn draw_lines(root: &Area<'_>, figures: &Figures<'_>, x: &Range<f64>, lines: &[Line]) -> Drawn {
    let y = y_range(lines);
    let area = chart::titled(root, TITLE)?;
    let mut chart = chart::builder(&area, figures.faults).build_cartesian_2d(x.clone(), y.clone())?;
    mesh(&mut chart)?;
    chart::shade_faults(&area, &mut chart, figures.faults, x, (y.start, y.end))?;
    if lines.is_empty() {
        return chart::note(&chart, "no node was sampled");
    }
    for (index, (name, points)) in lines.iter().enumerate() {
        let style = PALETTE[index % PALETTE.len()].stroke_width(2);
        chart
            .draw_series(LineSeries::new(chart::thin(points, MAX_POINTS), style))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart::legend(&mut chart)
}

/// Maximum and median on the left axis, and the sum, which is larger by about the number of nodes, on
/// its own axis on the right so that it does not flatten the other two.
fn draw_summary(root: &Area<'_>, figures: &Figures<'_>, x: &Range<f64>, sum: &Line, left: &[Line; 2]) -> Drawn {
    let y = y_range(left);
    let area = chart::titled(root, TITLE)?;
    let mut chart = chart::builder(&area, figures.faults)
        .right_y_label_area_size(80)
        .build_cartesian_2d(x.clone(), y.clone())?
        .set_secondary_coord(x.clone(), y_range([sum]));
    mesh(&mut chart)?;
    chart
        .configure_secondary_axes()
        .y_desc("sum over nodes")
        .y_label_formatter(&|v| chart::number(*v))
        .label_style(TICK_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()?;
    chart::shade_faults(&area, &mut chart, figures.faults, x, (y.start, y.end))?;
    for (index, (name, points)) in left.iter().enumerate() {
        let style = PALETTE[index].stroke_width(2);
        chart
            .draw_series(LineSeries::new(chart::thin(points, MAX_POINTS), style))?
            .label(format!("{name} (left)"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    let style = PALETTE[2].stroke_width(2);
    chart
        .draw_secondary_series(LineSeries::new(chart::thin(&sum.1, MAX_POINTS), style))?
        .label(format!("{} (right)", sum.0))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    chart::legend(&mut chart)
}

fn mesh<Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(chart: &mut chart::TimeChart<'_, '_, Y>) -> Drawn {
    chart
        .configure_mesh()
        .x_desc(X_DESC)
        .y_desc(Y_DESC)
        .x_label_formatter(&|v| chart::number(*v))
        .y_label_formatter(&|v| chart::number(*v))
        .label_style(TICK_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()
}

/// `(node, [(t, outbox depth)])` for each node, in the order nodes first appear.
fn per_node(samples: &[NodeSample]) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for instant in instants(samples) {
        for sample in instant {
            let line = *index.entry(sample.node.as_str()).or_insert_with(|| {
                lines.push((sample.node.clone(), Vec::new()));
                lines.len() - 1
            });
            lines[line].1.push((sample.t_s, sample.outbox_depth as f64));
        }
    }
    lines
}

/// The sum, maximum and median outbox depth across the nodes sampled at each instant.
fn summarised(samples: &[NodeSample]) -> [Line; 3] {
    let (mut sum, mut max, mut median) = (Vec::new(), Vec::new(), Vec::new());
    for instant in instants(samples) {
        let mut depths: Vec<u64> = instant.iter().map(|sample| sample.outbox_depth).collect();
        depths.sort_unstable();
        let (Some(first), Some(deepest)) = (instant.first(), depths.last()) else {
            continue;
        };
        let n = depths.len();
        sum.push((first.t_s, depths.iter().sum::<u64>() as f64));
        max.push((first.t_s, *deepest as f64));
        median.push((first.t_s, (depths[(n - 1) / 2] + depths[n / 2]) as f64 / 2.0));
    }
    [
        ("sum".to_owned(), sum),
        ("max".to_owned(), max),
        ("median".to_owned(), median),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: f64, node: &str, outbox_depth: u64) -> NodeSample {
        NodeSample {
            t_s,
            node: node.to_owned(),
            up: true,
            outbox_depth,
            ..NodeSample::default()
        }
    }

    #[test]
    fn many_nodes_are_summarised_per_instant() {
        let samples = [
            sample(1.0, "a", 1),
            sample(1.0, "b", 5),
            sample(1.0, "c", 3),
            sample(0.0, "a", 2),
        ];
        assert_eq!(per_node(&samples)[0], ("a".to_owned(), vec![(0.0, 2.0), (1.0, 1.0)]));
        let [sum, max, median] = summarised(&samples);
        assert_eq!(sum.1, vec![(0.0, 2.0), (1.0, 9.0)]);
        assert_eq!(max.1, vec![(0.0, 2.0), (1.0, 5.0)]);
        assert_eq!(median.1, vec![(0.0, 2.0), (1.0, 3.0)]);
    }
}
