//! The nodes a scenario runs: the user-hosting nodes, named by the scenario, and the bootstrap nodes
//! that only help the others find each other.

use std::collections::BTreeMap;

use super::raw;
use crate::error::{Error, invalid};

/// Most nodes one scenario may run; past this a plan no longer fits one machine's simulation.
const MAX_NODES: i64 = 10_000;
/// Most bootstrap nodes; a real deployment has a handful.
const MAX_BOOTSTRAP: i64 = 16;
/// The prefix of bootstrap nodes' names, which regular nodes therefore may not use.
const BOOTSTRAP_PREFIX: &str = "bootstrap-";

/// A node of the scenario by position, so plans and faults refer to nodes without string look-ups, and
/// a bootstrap node cannot be mistaken for a user-hosting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeRef {
    /// A user-hosting node, by its index in [`Nodes::names`].
    Node(usize),
    /// A bootstrap node, by its index in [`Nodes::bootstrap`].
    Bootstrap(usize),
}

/// Every node of the scenario by name; faults and regions name nodes, and this resolves those names.
#[derive(Debug, Clone, PartialEq)]
pub struct Nodes {
    names: Vec<String>,
    bootstrap: Vec<String>,
    by_name: BTreeMap<String, NodeRef>,
}

impl Nodes {
    pub(crate) fn validate(raw: raw::Nodes) -> Result<Self, Error> {
        if !(1..=MAX_NODES).contains(&raw.count) {
            return Err(invalid(
                "nodes.count",
                format!("must be 1..={MAX_NODES}, got {}", raw.count),
            ));
        }
        let bootstrap_count = raw.bootstrap.unwrap_or(1);
        if !(1..=MAX_BOOTSTRAP).contains(&bootstrap_count) {
            return Err(invalid(
                "nodes.bootstrap",
                format!("must be 1..={MAX_BOOTSTRAP}, got {bootstrap_count}"),
            ));
        }
        // Both counts were just bounded, so they fit a usize.
        let (count, bootstrap_count) = (raw.count as usize, bootstrap_count as usize);
        let names = match raw.names {
            None => (0..count).map(|i| format!("node-{i}")).collect(),
            Some(names) if names.len() != count => {
                return Err(invalid(
                    "nodes.names",
                    format!("lists {} names but nodes.count is {count}", names.len()),
                ));
            }
            Some(names) => names,
        };
        let bootstrap: Vec<String> = (0..bootstrap_count).map(|i| format!("{BOOTSTRAP_PREFIX}{i}")).collect();
        let mut by_name = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let field = format!("nodes.names[{i}]");
            check_name(&field, name)?;
            if name.starts_with(BOOTSTRAP_PREFIX) {
                return Err(invalid(
                    field,
                    format!("{name:?}: names starting {BOOTSTRAP_PREFIX:?} are the bootstrap nodes'"),
                ));
            }
            if by_name.insert(name.clone(), NodeRef::Node(i)).is_some() {
                return Err(invalid(field, format!("{name:?} is named twice")));
            }
        }
        for (i, name) in bootstrap.iter().enumerate() {
            by_name.insert(name.clone(), NodeRef::Bootstrap(i));
        }
        Ok(Self {
            names,
            bootstrap,
            by_name,
        })
    }

    /// The user-hosting nodes' names; a user's node index points here.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The bootstrap nodes' names, `bootstrap-0` onwards. They host no users, so they are apart from
    /// [`Nodes::names`].
    pub fn bootstrap(&self) -> &[String] {
        &self.bootstrap
    }

    /// Resolves a name written in the scenario (a regular or a bootstrap node's).
    pub fn find(&self, name: &str) -> Option<NodeRef> {
        self.by_name.get(name).copied()
    }

    /// The name of a node, to show or to hand to an engine that keys nodes by name.
    pub fn name(&self, node: NodeRef) -> Option<&str> {
        match node {
            NodeRef::Node(i) => self.names.get(i),
            NodeRef::Bootstrap(i) => self.bootstrap.get(i),
        }
        .map(String::as_str)
    }

    /// How many nodes there are of both kinds; every one sits in exactly one region.
    pub(crate) fn total(&self) -> usize {
        self.by_name.len()
    }

    /// Resolves the name at `field`, refusing one that names no node.
    pub(crate) fn resolve(&self, field: &str, name: &str) -> Result<NodeRef, Error> {
        self.find(name)
            .ok_or_else(|| invalid(field, format!("no node named {name:?}")))
    }

    /// Resolves the name at `field`, refusing a bootstrap node: only user-hosting nodes crash, flood
    /// or forge (bootstrap nodes go down with `bootstrap_down`).
    pub(crate) fn resolve_regular(&self, field: &str, name: &str) -> Result<usize, Error> {
        match self.resolve(field, name)? {
            NodeRef::Node(i) => Ok(i),
            NodeRef::Bootstrap(_) => Err(invalid(
                field,
                format!("{name:?} is a bootstrap node; this fault needs a user-hosting node"),
            )),
        }
    }
}

/// Checks a node or region name: it becomes a host name, a directory and a label in metrics, so it is
/// kept to what all of those accept.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), Error> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(1..=63).contains(&name.len()) || !valid_chars || name.starts_with('-') || name.ends_with('-') {
        return Err(invalid(
            field,
            format!(
                "{name:?} is not a valid name: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'"
            ),
        ));
    }
    Ok(())
}
