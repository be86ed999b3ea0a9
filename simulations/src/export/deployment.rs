//! What both targets deploy: the scenario's `parley` processes (bootstrap nodes first, then nodes), each
//! with the fixed address, traffic class and labels the generated files know it by, and the links
//! between them.

use std::net::Ipv4Addr;

use super::keys::BootstrapKey;
use crate::scenario::{Link, NodeRef, Scenario};

/// The Compose network. A fixed subnet gives every container a fixed address, which `tc` filters on
/// (they match destination IPs) and which nodes dial bootstrap nodes at (`parley`'s QUIC transport has
/// no DNS resolution, so a `/dns4/` address would not be dialed).
pub(super) const SUBNET: &str = "10.77.0.0/16";
/// The workload driver's name: its compose service, its Kubernetes Job (whose log `start-faults.sh`
/// reads the clock line from) and its container.
pub(super) const DRIVER: &str = "driver";
/// The driver's address; no link emulation applies to it, as the in-process engine's clients are local.
pub(super) const DRIVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The first `parley` host's address; the rest follow in order.
const FIRST_HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 10);
/// The first `tc` class (hex minor number) for a destination: 1:1 is the unshaped default class and
/// 1:2 the partition's black hole.
const FIRST_CLASS: u32 = 0x10;
/// The REST API's port in every node container.
pub(super) const HTTP_PORT: u16 = 8080;
/// The nodes' QUIC port (`parley node --p2p`).
pub(super) const NODE_P2P_PORT: u16 = 4433;
/// The bootstrap nodes' QUIC port (`parley bootstrap --listen`).
pub(super) const BOOTSTRAP_P2P_PORT: u16 = 4001;

/// A `parley` process of the scenario and where it lives.
pub(super) struct Host {
    /// The scenario's name for it; also its service, host and pod label.
    pub(super) name: String,
    /// Its key, for a bootstrap node; `None` for a node (nodes make their own keys).
    pub(super) key: Option<BootstrapKey>,
    /// Its region, if the scenario has regions.
    pub(super) region: Option<String>,
    /// Its fixed address on the Compose network.
    pub(super) ip: Ipv4Addr,
    /// The `tc` class (hex) that traffic *to* it goes through in every other container.
    pub(super) class: String,
}

/// The scenario as hosts, with what the generated files share.
pub(super) struct Deployment<'a> {
    pub(super) scenario: &'a Scenario,
    /// The text `scenario` was read from, which the driver reads again.
    pub(super) scenario_toml: &'a str,
    /// Bootstrap nodes (in [`crate::Nodes::bootstrap`] order), then nodes (in [`crate::Nodes::names`]
    /// order).
    pub(super) hosts: Vec<Host>,
    /// The image every container runs.
    pub(super) image: String,
    /// A DNS label naming the deployment; `parley-<label>` is the Kubernetes namespace.
    pub(super) label: String,
}

impl<'a> Deployment<'a> {
    /// `keys` are the bootstrap nodes', in order.
    pub(super) fn new(scenario: &'a Scenario, scenario_toml: &'a str, keys: Vec<BootstrapKey>, image: &str) -> Self {
        let nodes = scenario.nodes();
        let keyed = (nodes.bootstrap().iter().zip(keys.into_iter().map(Some)))
            .chain(nodes.names().iter().map(|name| (name, None)));
        let hosts = keyed
            .enumerate()
            .map(|(index, (name, key))| {
                let offset = u32::try_from(index).unwrap_or(u32::MAX);
                Host {
                    name: name.clone(),
                    key,
                    region: region_of(scenario, name),
                    ip: Ipv4Addr::from(u32::from(FIRST_HOST).saturating_add(offset)),
                    class: format!("{:x}", FIRST_CLASS.saturating_add(offset)),
                }
            })
            .collect();
        Self {
            scenario,
            scenario_toml,
            hosts,
            image: image.to_owned(),
            label: label(scenario.name().unwrap_or("scenario")),
        }
    }

    /// The index in [`Deployment::hosts`] of a node the scenario refers to.
    pub(super) fn index(&self, node: NodeRef) -> usize {
        match node {
            NodeRef::Bootstrap(i) => i,
            NodeRef::Node(i) => self.scenario.nodes().bootstrap().len() + i,
        }
    }

    /// The host of a node the scenario refers to.
    pub(super) fn host(&self, node: NodeRef) -> &Host {
        &self.hosts[self.index(node)]
    }

    /// The bootstrap nodes.
    pub(super) fn bootstraps(&self) -> impl Iterator<Item = (&Host, &BootstrapKey)> {
        self.hosts
            .iter()
            .filter_map(|host| host.key.as_ref().map(|key| (host, key)))
    }

    /// The user-hosting nodes.
    pub(super) fn nodes(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|host| host.key.is_none())
    }

    /// The scenario's link between two hosts (the same both ways).
    pub(super) fn link(&self, a: &Host, b: &Host) -> Link {
        self.scenario.network().link(&a.name, &b.name)
    }

    /// Every pair of distinct hosts once, as host indices `(a, b)` with `a < b`.
    pub(super) fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.hosts.len()).flat_map(move |a| (a + 1..self.hosts.len()).map(move |b| (a, b)))
    }

    /// What a node passes as `--bootstrap` for each bootstrap node, with `ip(index, host)` as the
    /// address of the `index`th.
    pub(super) fn bootstrap_addresses(&self, ip: impl Fn(usize, &Host) -> String) -> Vec<String> {
        self.bootstraps()
            .enumerate()
            .map(|(index, (host, key))| {
                format!(
                    "/ip4/{}/udp/{BOOTSTRAP_P2P_PORT}/quic-v1/p2p/{}",
                    ip(index, host),
                    key.peer_id
                )
            })
            .collect()
    }

    /// The scenario's name and seed, for the headers of generated files.
    pub(super) fn title(&self) -> String {
        let name = self.scenario.name().unwrap_or("(unnamed)");
        format!("scenario {name:?} (seed {})", self.scenario.seed())
    }
}

fn region_of(scenario: &Scenario, name: &str) -> Option<String> {
    let regions = scenario.network().regions();
    let region = regions
        .iter()
        .find(|region| region.nodes.iter().any(|node| node == name));
    region.map(|region| region.name.clone())
}

/// Makes a scenario's free-form name a DNS label of at most 48 characters (room for `parley-` and
/// Kubernetes' own suffixes): lowercase letters, digits and `-`, not starting or ending with `-`.
fn label(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "scenario".to_owned()
    } else {
        trimmed.to_owned()
    }
}
