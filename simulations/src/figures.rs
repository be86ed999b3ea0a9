//! Figures of a run: SVG plots a paper can use as they are, `timeseries.csv` (the node samples they
//! are drawn from, for anyone who wants to plot differently), and `index.html`, a page that shows the
//! summary and the plots from the run directory, opened straight from the file system.
//!
//! Plots are drawn with `plotters`' SVG backend only: text stays text (`<text>` in a generic
//! sans-serif family), so nothing here needs font files, fontconfig or image libraries.

mod bytes;
mod chart;
mod delivery;
mod index;
mod latency;
mod outbox;
mod scaling;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use scaling::ScalePoint;

/// One delivered copy.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeliveryPoint {
    /// When its message was first sent, seconds into the run.
    pub(crate) sent_s: f64,
    /// When it reached its recipient, seconds into the run.
    pub(crate) delivered_s: f64,
    /// Send to delivery.
    pub(crate) latency_ms: f64,
    /// Whether the message crossed the network (sender, recipient or host on another node).
    pub(crate) cross_node: bool,
    /// Plaintext bytes of the message.
    pub(crate) bytes: usize,
}

/// One node at one sampling instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeSample {
    /// Seconds into the run; every node sampled at one instant shares it.
    pub(crate) t_s: f64,
    /// The node's name.
    pub(crate) node: String,
    /// Whether it was running.
    pub(crate) up: bool,
    /// Envelopes waiting in its outbox for another node.
    pub(crate) outbox_depth: u64,
    /// Cumulative: messages sent by this node's users and acknowledged.
    pub(crate) acknowledged: u64,
    /// Cumulative: copies delivered to this node's users.
    pub(crate) delivered: u64,
    /// Cumulative: bytes this node put on the wire.
    pub(crate) bytes_sent: u64,
    /// Connections open at the node.
    pub(crate) connections: u64,
}

/// A fault in force over a time window (for shading).
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultWindow {
    /// When it started, seconds into the run.
    pub(crate) start_s: f64,
    /// When it ended (equal to `start_s` for an instantaneous fault; past the run if it never did).
    pub(crate) end_s: f64,
    /// What to write on the shading, e.g. `crash node-2`.
    pub(crate) label: String,
}

/// What the plots are drawn from.
pub(crate) struct Figures<'a> {
    /// Every distinct copy delivered.
    pub(crate) deliveries: &'a [DeliveryPoint],
    /// Every node at every sampling instant.
    pub(crate) samples: &'a [NodeSample],
    /// The faults of the run.
    pub(crate) faults: &'a [FaultWindow],
    /// `(t_s, cumulative copies owed by acknowledged messages at t)`, in time order.
    pub(crate) expected_by_time: &'a [(f64, u64)],
    /// The run's planned length, seconds.
    pub(crate) duration_s: f64,
}

/// Writes the SVG plots into `dir` and returns their file names (relative), in display order with a
/// caption each. A plot without data is still drawn, with a note saying so, so every run's page has
/// the same figures.
pub(crate) fn write_plots(dir: &Path, figures: &Figures<'_>) -> std::io::Result<Vec<(String, String)>> {
    std::fs::create_dir_all(dir)?;
    let plots = [
        ("latency_cdf.svg", latency::plot(&dir.join("latency_cdf.svg"), figures)?),
        (
            "delivery_ratio.svg",
            delivery::plot(&dir.join("delivery_ratio.svg"), figures)?,
        ),
        (
            "outbox_depth.svg",
            outbox::plot(&dir.join("outbox_depth.svg"), figures)?,
        ),
        (
            "bytes_per_message.svg",
            bytes::plot(&dir.join("bytes_per_message.svg"), figures)?,
        ),
    ];
    Ok(plots
        .into_iter()
        .map(|(name, caption)| (name.to_owned(), caption))
        .collect())
}

/// Writes `dir/index.html`: the title, the summary as a table (`summary_json`, an object whose values
/// may be objects one level deep: `latency_local: {p50_ms, ...}` becomes rows `latency_local.p50_ms`),
/// each plot with its caption, and links to `summary.json`, `deliveries.csv` and `timeseries.csv`.
pub(crate) fn write_index(
    dir: &Path,
    title: &str,
    summary_json: &serde_json::Value,
    plots: &[(String, String)],
) -> std::io::Result<()> {
    index::write(dir, title, summary_json, plots)
}

/// Draws into `out` how costs grow with the nodes across `runs` (run directories, or their
/// `summary.json`): wall time, peak resident memory and CPU time per delivered copy against the number
/// of nodes, on logarithmic axes. Returns how many runs it drew.
pub fn plot_scaling(runs: &[PathBuf], out: &Path) -> Result<usize, Error> {
    let mut points = Vec::with_capacity(runs.len());
    for run in runs {
        let path = if run.is_dir() {
            run.join("summary.json")
        } else {
            run.clone()
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let point = serde_json::from_str(&text).ok().as_ref().and_then(ScalePoint::of);
        points.push(point.ok_or_else(|| {
            Error::Engine(format!(
                "{}: not a run's summary.json (it needs nodes, wall_seconds, peak_rss_bytes, cpu_seconds and deliveries)",
                path.display()
            ))
        })?);
    }
    scaling::plot(out, &points).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(points.len())
}

/// Writes `timeseries.csv` from the samples: header
/// `t_s,node,up,outbox_depth,acknowledged,delivered,bytes_sent,connections`, one row per sample, in the
/// order given.
pub(crate) fn write_timeseries(path: &Path, samples: &[NodeSample]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "t_s,node,up,outbox_depth,acknowledged,delivered,bytes_sent,connections"
    )?;
    for sample in samples {
        writeln!(
            out,
            "{:.3},{},{},{},{},{},{},{}",
            sample.t_s,
            csv_field(&sample.node),
            sample.up,
            sample.outbox_depth,
            sample.acknowledged,
            sample.delivered,
            sample.bytes_sent,
            sample.connections,
        )?;
    }
    out.flush()
}

/// The samples grouped by sampling instant, in time order (samples without a finite time left out).
fn instants(samples: &[NodeSample]) -> Vec<Vec<&NodeSample>> {
    let mut sorted: Vec<&NodeSample> = samples.iter().filter(|sample| sample.t_s.is_finite()).collect();
    sorted.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    sorted.chunk_by(|a, b| a.t_s == b.t_s).map(<[_]>::to_vec).collect()
}

/// A CSV field, quoted only if it must be (node names are plain, but the file should never break).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests;
