//! Engine 2: a scenario played by real processes over loopback QUIC, for calibrating engine 1. Every
//! bootstrap node is a `parley bootstrap` process and every node a `parley node` process, started from
//! the given executable; the workload is the driver's (`crate::driver`), real clients over HTTP and
//! WebSocket. Crashes and bootstrap outages are real (SIGKILL, then the same command line on the same
//! data and ports); what needs a network between the nodes (partitions, link changes) or a hostile node
//! inside one process (floods, forgeries) cannot be done here and is refused before anything starts.

mod child;
mod fleet;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;

use self::fleet::Fleet;
use crate::driver::{Driver, Endpoints};
use crate::engine::{Costs, RunOptions, Summary, cpu_seconds_with_children, peak_rss_bytes};
use crate::error::{Error, invalid};
use crate::plan::{FaultEvent, Plan};
use crate::scenario::{FaultKind, Scenario};

/// How to run a scenario as processes.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// The outputs, the drain timeout and progress lines, as for engine 1.
    pub run: RunOptions,
    /// The `parley` executable that has the `node` and `bootstrap` commands (usually this one).
    pub executable: PathBuf,
    /// The nodes' log filter (`--log`), e.g. `warn`; their logs go to `<out>/logs/<name>.log`.
    pub log: String,
}

/// Runs `scenario` as node processes on this machine and writes the outputs engine 1 writes, with
/// `"engine": "processes"`. Every process is stopped before this returns, whatever happened.
pub async fn run_processes(scenario: &Scenario, options: &ProcessOptions) -> Result<Summary, Error> {
    refuse_unsupported(scenario)?;
    eprintln!(
        "[simulate] warning: loopback has no link model; the scenario's latency, jitter, bandwidth, loss and regions are ignored"
    );
    if !scenario.traffic().encryption {
        eprintln!("[simulate] warning: the client SDK always encrypts; traffic.encryption = false is ignored");
    }
    let wall = Instant::now();
    let cpu_before = cpu_seconds_with_children();
    let out = &options.run.out_dir;
    if options.run.progress {
        eprintln!(
            "[simulate] starting {} bootstrap processes and {} node processes",
            scenario.nodes().bootstrap().len(),
            scenario.nodes().names().len()
        );
    }
    let fleet = Fleet::start(scenario, &options.executable, out, &options.log).await?;
    let endpoints = Endpoints::from_urls(fleet.urls());
    let plan = Arc::new(Plan::generate(scenario));
    let driver = Driver::set_up(scenario, plan.clone(), &endpoints, &options.run).await?;
    let fleet = Arc::new(Mutex::new(fleet));
    let faults = inject_faults(fleet.clone(), plan, driver.start());
    let finished = driver.run(faults).await;
    // Reaped, the nodes' CPU time counts as this process's children's.
    let peaks = fleet.lock().await.stop().await;
    let costs = Costs {
        bytes_on_wire: 0,
        wall_seconds: wall.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds_with_children() - cpu_before,
        peak_rss_bytes: peak_rss_bytes() + peaks.nodes.iter().chain(&peaks.bootstraps).sum::<u64>(),
        peak_rss_per_node_bytes: peaks.nodes.iter().copied().max().unwrap_or(0),
    };
    let notes = vec![
        "bytes_on_wire and connections are not measured: real QUIC between processes is not observed".to_owned(),
        "loopback has no link model: the scenario's [network] was not applied".to_owned(),
        "cpu_seconds covers the driver and every node process; peak_rss_bytes adds up each process's peak, \
         peak_rss_per_node_bytes is the largest node's"
            .to_owned(),
    ];
    finished.report(scenario, "processes", costs, true, notes)
}

/// Refuses, before anything starts, faults that processes on loopback cannot play.
fn refuse_unsupported(scenario: &Scenario) -> Result<(), Error> {
    for (i, fault) in scenario.faults().iter().enumerate() {
        let cannot = match fault.kind {
            FaultKind::Crash { .. } | FaultKind::BootstrapDown { .. } => continue,
            FaultKind::Partition { .. } => "partition nodes",
            FaultKind::Link { .. } => "change links",
            FaultKind::Flood { .. } => "make a node flood another",
            FaultKind::Forge { .. } => "make a node forge envelopes",
        };
        return Err(invalid(
            format!("faults[{i}].kind"),
            format!("the processes engine cannot {cannot} on loopback; use the in-process engine"),
        ));
    }
    Ok(())
}

/// Applies the fault timeline to the processes at its times (from `start`), until dropped.
async fn inject_faults(fleet: Arc<Mutex<Fleet>>, plan: Arc<Plan>, start: tokio::time::Instant) {
    for timed in &plan.faults {
        tokio::time::sleep_until(start + timed.at).await;
        tracing::info!(at = ?timed.at, event = ?timed.event, "fault");
        let mut fleet = fleet.lock().await;
        let applied = match &timed.event {
            FaultEvent::Crash { node } => {
                fleet.crash(*node).await;
                Ok(())
            }
            FaultEvent::Restart { node } => fleet.restart(*node).await,
            FaultEvent::BootstrapDown { bootstrap } => {
                fleet.bootstrap_down(*bootstrap).await;
                Ok(())
            }
            FaultEvent::BootstrapUp { bootstrap } => fleet.bootstrap_up(*bootstrap).await,
            // Refused before the run started.
            _ => Ok(()),
        };
        if let Err(err) = applied {
            eprintln!("[simulate] a fault could not be applied: {err}");
        }
    }
}
