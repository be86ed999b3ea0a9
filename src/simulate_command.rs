//! `parley simulate <scenario>`: runs a whole federation from a scenario file, in this process (engine 1)
//! or as node processes of this executable (`--engine processes`), and `parley simulate drive`: the
//! workload alone against nodes run elsewhere. All write the same outputs (see `simulations/README.md`).
//! `parley simulate export` writes what other engines need to run a scenario (`export.rs`), and `parley
//! simulate scaling` plots several runs' costs against their number of nodes.

mod export;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use simulations::{Clock, Endpoints, ProcessOptions, RunOptions, Scenario, Summary};
use tracing_subscriber::EnvFilter;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SimulateArgs {
    #[command(subcommand)]
    command: Option<SimulateCommand>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum SimulateCommand {
    /// Write what Docker Compose or Kubernetes need to run a scenario across machines.
    Export(export::ExportArgs),
    /// Drive a scenario's workload (users, conversations, messages) as real clients against nodes run
    /// elsewhere, and write the same outputs. Faults are not injected: whoever runs the nodes does that.
    /// The nodes must be fresh and should run with `--rate-limits off`.
    Drive(DriveArgs),
    /// Plot how costs grow with the nodes across runs of one scenario at several sizes: wall time,
    /// peak resident memory and CPU time per delivered copy against the number of nodes.
    Scaling(ScalingArgs),
}

#[derive(Args, Debug)]
struct ScalingArgs {
    /// Run directories (or their `summary.json`), one per size.
    #[arg(required = true)]
    runs: Vec<PathBuf>,

    /// The SVG to write.
    #[arg(long, default_value = "scaling.svg")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The scenario file (TOML), e.g. `simulations/scenarios/smoke.toml`.
    #[arg(required = true)]
    scenario: Option<PathBuf>,

    /// Where the run's outputs go; defaults to `runs/<scenario name>-seed<seed>` (`-processes` appended
    /// for that engine).
    #[arg(long)]
    out: Option<PathBuf>,

    /// `in-process`: every node in this process over a simulated network (engine 1). `processes`: every
    /// node a `parley node` process over loopback QUIC (engine 2; no link model, no partitions, link
    /// changes, floods or forgeries).
    #[arg(long, value_enum, default_value_t = Engine::InProcess)]
    engine: Engine,

    /// Engine 1's clock. `simulated` (the default): processing takes no simulated time and idle
    /// stretches are skipped, so a light run goes faster than the wall clock; the nodes share one core.
    /// `wall`: the run takes its scenario's time on every core, processing delays included. Engine 2
    /// always runs in wall time.
    #[arg(long, value_enum)]
    clock: Option<ClockArg>,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct DriveArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,

    /// A node of the scenario and its API's base URL, `NAME=http://HOST:PORT`; every node must be given.
    #[arg(long = "node", value_name = "NAME=URL", required = true, value_parser = parse_node)]
    nodes: Vec<(String, String)>,

    /// Where the run's outputs go (created if missing).
    #[arg(long)]
    out: PathBuf,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// After the last planned send, how many seconds to wait for every message to arrive.
    #[arg(long, default_value_t = 60)]
    drain_secs: u64,

    /// Log filter, e.g. `warn` or `node::outbox=debug`: of the simulated nodes, and of the node processes
    /// (in `<out>/logs/`) with `--engine processes`.
    #[arg(long, env = "PARLEY_LOG", default_value = "warn")]
    log: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    InProcess,
    Processes,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ClockArg {
    Simulated,
    Wall,
}

pub(crate) fn run(args: SimulateArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SimulateCommand::Export(export)) => export::run(export),
        Some(SimulateCommand::Drive(drive)) => run_driver(drive),
        Some(SimulateCommand::Scaling(scaling)) => {
            let runs = simulations::plot_scaling(&scaling.runs, &scaling.out)?;
            println!("{runs} runs plotted in {}", scaling.out.display());
            Ok(())
        }
        None => run_scenario(args.run),
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.common.log)?;
    let path = args.scenario.context("a scenario file is required")?;
    let scenario = Scenario::load(&path)?;
    let out = args.out.unwrap_or_else(|| {
        let name = scenario.name().unwrap_or("scenario");
        let suffix = if args.engine == Engine::Processes {
            "-processes"
        } else {
            ""
        };
        PathBuf::from("runs").join(format!("{name}-seed{}{suffix}", scenario.seed()))
    });
    let mut options = RunOptions::new(&out);
    options.drain_timeout = Duration::from_secs(args.common.drain_secs);
    options.clock = match args.clock {
        Some(ClockArg::Simulated) if args.engine == Engine::Processes => {
            anyhow::bail!("--clock simulated is engine 1's: the processes engine runs in wall time")
        }
        Some(ClockArg::Simulated) | None if args.engine == Engine::InProcess => Clock::Simulated,
        _ => Clock::Wall,
    };
    let runtime = options.clock.runtime().context("starting the async runtime")?;
    let summary = match args.engine {
        Engine::InProcess => runtime.block_on(simulations::run(&scenario, &options))?,
        Engine::Processes => {
            let options = ProcessOptions {
                run: options,
                executable: std::env::current_exe().context("finding this executable")?,
                log: args.common.log,
            };
            runtime.block_on(simulations::run_processes(&scenario, &options))?
        }
    };
    finish(&summary, &out)
}

fn run_driver(args: DriveArgs) -> anyhow::Result<()> {
    init_logging(&args.common.log)?;
    let scenario = Scenario::load(&args.scenario)?;
    let endpoints = Endpoints::new(&scenario, &args.nodes)?;
    if !scenario.faults().is_empty() {
        eprintln!("[simulate] warning: the driver does not inject the scenario's faults");
    }
    let mut options = RunOptions::new(&args.out);
    options.drain_timeout = Duration::from_secs(args.common.drain_secs);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let summary = runtime.block_on(simulations::drive(&scenario, &endpoints, &options))?;
    finish(&summary, &args.out)
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

fn finish(summary: &Summary, out: &std::path::Path) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(summary)?);
    println!("outputs in {}", out.display());
    Ok(())
}

fn parse_node(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=URL, got {text:?}"))?;
    Ok((name.trim().to_owned(), url.trim().to_owned()))
}
