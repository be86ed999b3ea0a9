//! `parley simulate <scenario>`: runs a whole federation from a scenario file in this process (see
//! `simulations/README.md`) and writes `summary.json` and `deliveries.csv` to the output directory.
//! `parley simulate export` writes what other engines need to run a scenario (`export.rs`).

mod export;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use simulations::{RunOptions, Scenario};
use tracing_subscriber::EnvFilter;

// A subcommand takes the place of the scenario, so `parley simulate <scenario>` keeps working beside
// `parley simulate export …`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SimulateArgs {
    #[command(subcommand)]
    command: Option<SimulateCommand>,

    /// The scenario file (TOML), e.g. `simulations/scenarios/smoke.toml`.
    #[arg(required = true)]
    scenario: Option<PathBuf>,

    /// Where the run's outputs go; defaults to `runs/<scenario name>-seed<seed>`.
    #[arg(long)]
    out: Option<PathBuf>,

    /// After the last planned send, how many seconds to wait for every message to arrive.
    #[arg(long, default_value_t = 60)]
    drain_secs: u64,

    /// Log filter for the simulated nodes, e.g. `warn` or `node::outbox=debug`.
    #[arg(long, env = "PARLEY_LOG", default_value = "warn")]
    log: String,
}

#[derive(Subcommand, Debug)]
enum SimulateCommand {
    /// Write what Docker Compose or Kubernetes need to run a scenario across machines.
    Export(export::ExportArgs),
}

pub(crate) fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let scenario = match (args.command, args.scenario) {
        (Some(SimulateCommand::Export(export)), _) => return export::run(export),
        (None, Some(scenario)) => scenario,
        (None, None) => anyhow::bail!("a scenario file is needed"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .init();
    let scenario = Scenario::load(&scenario)?;
    let out = args.out.unwrap_or_else(|| {
        let name = scenario.name().unwrap_or("scenario");
        PathBuf::from("runs").join(format!("{name}-seed{}", scenario.seed()))
    });
    let mut options = RunOptions::new(&out);
    options.drain_timeout = std::time::Duration::from_secs(args.drain_secs);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let summary = runtime.block_on(simulations::run(&scenario, &options))?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!("outputs in {}", out.display());
    Ok(())
}
