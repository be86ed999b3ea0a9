//! `parley`: the one command-line program. `parley node` runs a node on embedded defaults; `parley account`,
//! `send`, `listen` and `conversations` are an end-to-end encrypted client.

mod allocator;
mod bootstrap_command;
mod client_command;
mod file_limit;
mod node_command;
mod simulate_command;

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
    /// Run a bootstrap node: a DHT entry point with no users that nodes name with `--bootstrap`.
    Bootstrap(bootstrap_command::BootstrapArgs),
    /// Run a simulated federation from a scenario file and write its measurements.
    Simulate(simulate_command::SimulateArgs),
    #[command(flatten)]
    Client(client_command::ClientCommand),
}

/// A failure is one line on stderr, its causes after colons (`parley: <what>: <why>`), and exit code 1.
fn main() -> std::process::ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Node(args) => node_command::run(args),
        Command::Bootstrap(args) => bootstrap_command::run(args),
        Command::Simulate(args) => simulate_command::run(args),
        Command::Client(command) => client_command::run(command),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parley: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
