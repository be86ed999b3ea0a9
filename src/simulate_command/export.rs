//! `parley simulate export <scenario> --to compose|kubernetes [--out DIR]`: writes what Docker Compose or
//! Kubernetes (with Chaos Mesh) need to run the scenario across machines; `simulations::export` says
//! what, and the README.md it writes says how to run it.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use simulations::{ExportOptions, Scenario, Target};

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// The scenario file (TOML), e.g. `simulations/scenarios/partition.toml`.
    scenario: PathBuf,

    /// The engine to export for.
    #[arg(long, value_enum)]
    to: To,

    /// Where the files go; defaults to `deploy/<scenario name>-<engine>`. Bootstrap keys already in
    /// its `keys/` are kept, so PeerIds stay the same across exports.
    #[arg(long)]
    out: Option<PathBuf>,

    /// The image every container runs, as built from the exported Dockerfile (for Kubernetes, pushed
    /// where the cluster pulls from).
    #[arg(long, default_value = "parley:sim")]
    image: String,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum To {
    /// Docker Compose: docker-compose.yml, netem.sh and faults.sh.
    Compose,
    /// Kubernetes manifests, with Chaos Mesh resources for links and faults.
    Kubernetes,
}

pub(crate) fn run(args: ExportArgs) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(&args.scenario).with_context(|| format!("reading {}", args.scenario.display()))?;
    let scenario = Scenario::from_toml(&text).with_context(|| format!("in {}", args.scenario.display()))?;
    let (target, engine) = match args.to {
        To::Compose => (Target::Compose, "compose"),
        To::Kubernetes => (Target::Kubernetes, "kubernetes"),
    };
    let out = args.out.unwrap_or_else(|| {
        let name = scenario.name().unwrap_or("scenario");
        PathBuf::from("deploy").join(format!("{name}-{engine}"))
    });
    let options = ExportOptions {
        target,
        image: args.image,
    };
    let written = simulations::export(&scenario, &text, &options, &out)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!("how to run it: {}", out.join("README.md").display());
    Ok(())
}
