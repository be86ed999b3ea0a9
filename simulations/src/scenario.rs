//! The scenario file: a TOML description of a simulated deployment (nodes, users, conversations,
//! traffic, network, faults). Parsing checks everything up front and names the TOML path of any bad
//! value, so a long simulation never starts from a typo.

mod faults;
mod network;
mod nodes;
mod population;
mod raw;
mod units;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

pub use faults::{Fault, FaultKind, LinkChange, LinkScope};
pub use network::{Link, Network, Region};
pub use nodes::{NodeRef, Nodes};
pub use population::{Conversations, GroupSizeDistribution, SizeDistribution, SizeRange, Traffic, Users};

use crate::error::{Error, invalid};

/// Longest run a scenario may ask for; simulations past a day are better split.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A validated scenario. It can only be had from [`Scenario::from_toml`] or [`Scenario::load`], so
/// whoever holds one may rely on every rule in the format (names resolve, bounds hold, faults fit).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    name: Option<String>,
    seed: u64,
    duration: Duration,
    nodes: Nodes,
    users: Users,
    conversations: Conversations,
    traffic: Traffic,
    network: Network,
    faults: Vec<Fault>,
}

impl Scenario {
    /// Parses and validates a scenario. An error names the TOML path of the value to fix.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::validate(toml::from_str(text)?)
    }

    /// Reads and validates the scenario file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    fn validate(raw: raw::Scenario) -> Result<Self, Error> {
        let duration = units::positive_duration("duration", &raw.duration)?;
        if duration > MAX_DURATION {
            return Err(invalid(
                "duration",
                format!("must be at most 24h, got {:?}", raw.duration),
            ));
        }
        let nodes = Nodes::validate(raw.nodes)?;
        let users = Users::validate(raw.users, nodes.names().len())?;
        let conversations = Conversations::validate(raw.conversations, nodes.names().len(), &users)?;
        let traffic = Traffic::validate(raw.traffic, duration, users.per_node * nodes.names().len())?;
        let network = Network::validate(raw.network, &nodes)?;
        let faults = faults::validate(raw.faults, &nodes, duration)?;
        Ok(Self {
            name: raw.name,
            seed: raw.seed,
            duration,
            nodes,
            users,
            conversations,
            traffic,
            network,
            faults,
        })
    }

    /// A label for reports, if the scenario gave one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The seed of every random choice in the plan: the same seed replays the same run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How long the run lasts; no message is sent and no fault starts at or after it.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The nodes, by name.
    pub fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    /// How many users each node hosts.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// Users in all, across the user-hosting nodes.
    pub fn user_count(&self) -> usize {
        self.users.per_node * self.nodes.names().len()
    }

    /// The conversations to create.
    pub fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    /// The messages to send.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The links between nodes.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The fault timeline, as written (see [`crate::Plan::faults`] for it as events in time order).
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
}
