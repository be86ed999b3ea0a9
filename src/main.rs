//! `parley`: the one command-line program. `parley node` runs a node on embedded defaults; `parley account`,
//! `send`, `listen` and `conversations` are an end-to-end encrypted client.

mod admin_command;
mod allocator;
mod bootstrap_command;
mod client_command;
mod config_file;
mod file_limit;
mod joining;
mod node_command;
mod signals;
mod simulate_command;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "parley", version, about = "Federated, end-to-end encrypted messaging")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: the REST + WebSocket API over an embedded store in the data dir.
    Node(Box<node_command::NodeArgs>),
    /// Run a bootstrap node: a DHT entry point with no users that nodes name with `--bootstrap`.
    Bootstrap(bootstrap_command::BootstrapArgs),
    /// Manage a node as its operator: accounts, registration tokens, statistics, denied nodes.
    Admin(admin_command::AdminArgs),
    /// Run a simulated federation from a scenario file and write its measurements.
    Simulate(simulate_command::SimulateArgs),
    #[command(flatten)]
    Client(client_command::ClientCommand),
}

/// A failure is one line on stderr, its causes after colons (`parley: <what>: <why>`), and exit code 1.
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        // Parsed again with the config file's values (or printed, with `--print-config`).
        Command::Node(_) => config_file::node_args(Cli::command(), std::env::args_os().collect())
            .and_then(|args| args.map_or(Ok(()), node_command::run)),
        Command::Bootstrap(args) => bootstrap_command::run(args),
        Command::Simulate(args) => simulate_command::run(args),
        Command::Admin(args) => admin_command::run(args),
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    /// Generated tokens are base64url, so one in 64 begins with `-`: it must still be taken as the
    /// token, not refused as an unknown flag (found by a test whose random token began with `-n`).
    #[test]
    fn a_token_that_begins_with_a_hyphen_is_a_value() {
        for args in [
            ["parley", "admin", "registration-token", "revoke", "-n8Qx"].as_slice(),
            &["parley", "admin", "--token", "-abc", "stats"],
            &["parley", "admin", "registration-token", "create", "--token", "-spring"],
        ] {
            if let Err(err) = Cli::try_parse_from(args) {
                panic!("{args:?}: {err}");
            }
        }
    }
}
