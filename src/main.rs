//! `parley`: the one command-line program. `parley node` runs a node on embedded defaults.

mod node_command;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "parley", version, about = "Federated, end-to-end encrypted messaging")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: the REST + WebSocket API over an embedded store in the data dir.
    Node(node_command::NodeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => node_command::run(args),
    }
}
