//! The run directory: `summary.json`, `deliveries.csv`, `timeseries.csv`, the plots and `index.html`,
//! all from what the recorder and the sampler kept.

use std::path::{Path, PathBuf};

use super::sampler::Sample;
use super::summary::{Outcome, Summary, write_deliveries};
use crate::Error;
use crate::figures::{self, DeliveryPoint, FaultWindow, Figures, NodeSample};
use crate::scenario::{FaultKind, Scenario};

/// Everything a run writes, besides the nodes' data.
pub(crate) struct Report<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) outcome: Outcome<'a>,
    pub(crate) samples: &'a [Sample],
    pub(crate) names: &'a [String],
    pub(crate) summary: &'a Summary,
}

impl Report<'_> {
    /// Writes the files into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), Error> {
        let at = |name: &str| dir.join(name);
        let summary = serde_json::to_value(self.summary).map_err(|err| Error::Engine(err.to_string()))?;
        let json = serde_json::to_vec_pretty(&summary).map_err(|err| Error::Engine(err.to_string()))?;
        std::fs::write(at("summary.json"), json).map_err(io(at("summary.json")))?;
        write_deliveries(&at("deliveries.csv"), &self.outcome).map_err(io(at("deliveries.csv")))?;
        let samples = self.node_samples();
        figures::write_timeseries(&at("timeseries.csv"), &samples).map_err(io(at("timeseries.csv")))?;
        let deliveries = self.delivery_points();
        let expected = self.expected_by_time();
        let faults = self.fault_windows();
        let figures = Figures {
            deliveries: &deliveries,
            samples: &samples,
            faults: &faults,
            expected_by_time: &expected,
            duration_s: self.scenario.duration().as_secs_f64(),
        };
        let plots = figures::write_plots(dir, &figures).map_err(io(dir.to_path_buf()))?;
        let title = format!(
            "{} (seed {})",
            self.scenario.name().unwrap_or("simulation"),
            self.scenario.seed()
        );
        figures::write_index(dir, &title, &summary, &plots).map_err(io(at("index.html")))
    }

    fn delivery_points(&self) -> Vec<DeliveryPoint> {
        let Outcome {
            plan,
            sends,
            deliveries,
            ..
        } = &self.outcome;
        deliveries
            .iter()
            .map(|delivery| {
                let sent = sends[delivery.message].sent_at.unwrap_or_default();
                DeliveryPoint {
                    sent_s: sent.as_secs_f64(),
                    delivered_s: delivery.at.as_secs_f64(),
                    latency_ms: delivery.at.saturating_sub(sent).as_secs_f64() * 1000.0,
                    cross_node: self.outcome.crossed_network(delivery),
                    bytes: plan.messages[delivery.message].size,
                }
            })
            .collect()
    }

    /// Copies owed so far, as acknowledgements come in.
    fn expected_by_time(&self) -> Vec<(f64, u64)> {
        let Outcome { plan, sends, .. } = &self.outcome;
        let mut acked: Vec<(f64, u64)> = sends
            .iter()
            .enumerate()
            .filter_map(|(message, send)| Some((send.acked_at?.as_secs_f64(), plan.copies_owed(message) as u64)))
            .collect();
        acked.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut total = 0;
        acked
            .into_iter()
            .map(|(at, owed)| {
                total += owed;
                (at, total)
            })
            .collect()
    }

    fn node_samples(&self) -> Vec<NodeSample> {
        self.samples
            .iter()
            .map(|sample| NodeSample {
                t_s: sample.at.as_secs_f64(),
                node: self.names[sample.node].clone(),
                up: sample.up,
                outbox_depth: sample.outbox_depth,
                acknowledged: sample.acknowledged,
                delivered: sample.delivered,
                bytes_sent: sample.bytes_sent,
                connections: sample.connections,
            })
            .collect()
    }

    fn fault_windows(&self) -> Vec<FaultWindow> {
        let nodes = self.scenario.nodes();
        self.scenario
            .faults()
            .iter()
            .map(|fault| {
                let label = match &fault.kind {
                    FaultKind::Crash { node, .. } => format!("crash {}", nodes.names()[*node]),
                    FaultKind::Partition { .. } => "partition".to_owned(),
                    FaultKind::Link { .. } => "link change".to_owned(),
                    FaultKind::BootstrapDown { bootstrap, .. } => format!("{} down", nodes.bootstrap()[*bootstrap]),
                    FaultKind::Flood { node, .. } => format!("flood from {}", nodes.names()[*node]),
                    FaultKind::Forge { node, .. } => format!("forgery from {}", nodes.names()[*node]),
                };
                FaultWindow {
                    start_s: fault.at.as_secs_f64(),
                    end_s: fault.ends().unwrap_or(self.scenario.duration()).as_secs_f64(),
                    label,
                }
            })
            .collect()
    }
}

fn io(path: PathBuf) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { path, source }
}
