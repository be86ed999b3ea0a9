//! Reads `[[faults]]` entries into [`Fault`]s, resolving node names and checking bounds, each error
//! naming the entry's field.

use std::time::Duration;

use super::{Fault, FaultKind, LinkChange, LinkScope};
use crate::error::{Error, invalid};
use crate::scenario::nodes::{NodeRef, Nodes};
use crate::scenario::{raw, units};

/// Most requests per second a flood may ask for.
const MAX_FLOOD_RATE: f64 = 1_000_000.0;
/// Most envelopes one forge fault may send.
const MAX_FORGED: i64 = 1_000_000;

/// Checks the timeline: each fault on its own, then that no two act on the same thing at once, which
/// would leave unclear what an end (restart, heal, restore) restores.
pub(crate) fn validate(raw: Vec<toml::Value>, nodes: &Nodes, duration: Duration) -> Result<Vec<Fault>, Error> {
    let mut faults: Vec<Fault> = Vec::with_capacity(raw.len());
    for (i, value) in raw.into_iter().enumerate() {
        let path = format!("faults[{i}]");
        let raw: raw::Fault = value
            .try_into()
            .map_err(|e: toml::de::Error| invalid(&path, e.message()))?;
        let fault = fault(&path, raw, nodes, duration)?;
        if let Some(j) = faults
            .iter()
            .position(|earlier| earlier.conflicts_with(&fault) && earlier.overlaps(&fault))
        {
            return Err(invalid(
                format!("faults[{i}]"),
                format!("acts on the same thing as faults[{j}] while it is in force"),
            ));
        }
        faults.push(fault);
    }
    Ok(faults)
}

fn fault(path: &str, raw: raw::Fault, nodes: &Nodes, duration: Duration) -> Result<Fault, Error> {
    let field = |name: &str| format!("{path}.{name}");
    let (at, kind) = match raw {
        raw::Fault::Crash {
            at,
            node,
            restart_after,
        } => {
            let node = nodes.resolve_regular(&field("node"), &node)?;
            let restart_after = units::optional_positive_duration(&field("restart_after"), restart_after.as_deref())?;
            (at, FaultKind::Crash { node, restart_after })
        }
        raw::Fault::Partition { at, sides, heal_after } => {
            let sides = partition_sides(&field("sides"), sides, nodes)?;
            let heal_after = units::optional_positive_duration(&field("heal_after"), heal_after.as_deref())?;
            (at, FaultKind::Partition { sides, heal_after })
        }
        raw::Fault::Link {
            at,
            between,
            latency,
            jitter,
            loss,
            restore_after,
        } => {
            let between = link_scope(&field("between"), between, nodes)?;
            let change = LinkChange {
                latency: units::optional_duration(&field("latency"), latency.as_deref())?,
                jitter: units::optional_duration(&field("jitter"), jitter.as_deref())?,
                loss,
            };
            if let Some(loss) = loss.filter(|loss| !(0.0..=1.0).contains(loss)) {
                return Err(invalid(field("loss"), format!("must be 0..=1, got {loss}")));
            }
            if change
                == (LinkChange {
                    latency: None,
                    jitter: None,
                    loss: None,
                })
            {
                return Err(invalid(path, "a link fault must set latency, jitter or loss"));
            }
            let restore_after = units::optional_positive_duration(&field("restore_after"), restore_after.as_deref())?;
            (
                at,
                FaultKind::Link {
                    between,
                    change,
                    restore_after,
                },
            )
        }
        raw::Fault::BootstrapDown {
            at,
            bootstrap,
            restore_after,
        } => {
            let bootstrap = bootstrap_index(&field("bootstrap"), bootstrap, nodes)?;
            let restore_after = units::optional_positive_duration(&field("restore_after"), restore_after.as_deref())?;
            (
                at,
                FaultKind::BootstrapDown {
                    bootstrap,
                    restore_after,
                },
            )
        }
        raw::Fault::Flood {
            at,
            node,
            target,
            rate,
            lasting,
        } => {
            let (node, target) = attacker_and_target(path, &node, &target, nodes)?;
            if !(rate > 0.0 && rate <= MAX_FLOOD_RATE) {
                return Err(invalid(
                    field("rate"),
                    format!("must be > 0 and <= {MAX_FLOOD_RATE}, got {rate}"),
                ));
            }
            let lasting = units::positive_duration(&field("for"), &lasting)?;
            (
                at,
                FaultKind::Flood {
                    node,
                    target,
                    rate,
                    lasting,
                },
            )
        }
        raw::Fault::Forge {
            at,
            node,
            target,
            count,
        } => {
            let (node, target) = attacker_and_target(path, &node, &target, nodes)?;
            if !(1..=MAX_FORGED).contains(&count) {
                return Err(invalid(
                    field("count"),
                    format!("must be 1..={MAX_FORGED}, got {count}"),
                ));
            }
            (
                at,
                FaultKind::Forge {
                    node,
                    target,
                    count: count as u32,
                },
            )
        }
    };
    let at = units::duration(&field("at"), &at)?;
    if at >= duration {
        return Err(invalid(
            field("at"),
            format!("must be before the end (duration = {duration:?}), got {at:?}"),
        ));
    }
    Ok(Fault { at, kind })
}

fn partition_sides(field: &str, sides: Vec<Vec<String>>, nodes: &Nodes) -> Result<[Vec<NodeRef>; 2], Error> {
    let [a, b]: [Vec<String>; 2] = sides
        .try_into()
        .map_err(|sides: Vec<_>| invalid(field, format!("must be two sets of nodes, got {}", sides.len())))?;
    let mut resolved: [Vec<NodeRef>; 2] = [Vec::new(), Vec::new()];
    for (s, side) in [a, b].iter().enumerate() {
        if side.is_empty() {
            return Err(invalid(format!("{field}[{s}]"), "must name at least one node"));
        }
        for (n, name) in side.iter().enumerate() {
            let node = nodes.resolve(&format!("{field}[{s}][{n}]"), name)?;
            if resolved.iter().any(|side| side.contains(&node)) {
                return Err(invalid(
                    format!("{field}[{s}][{n}]"),
                    format!("{name:?} is already on a side"),
                ));
            }
            resolved[s].push(node);
        }
    }
    Ok(resolved)
}

fn link_scope(field: &str, between: toml::Value, nodes: &Nodes) -> Result<LinkScope, Error> {
    let refuse = || {
        invalid(
            field,
            format!(
                "must be two node names, or \"*\" for every link, got type {}",
                between.type_str()
            ),
        )
    };
    match &between {
        toml::Value::String(all) if all == "*" => Ok(LinkScope::All),
        toml::Value::Array(pair) if pair.len() == 2 => {
            let mut ends = [NodeRef::Node(0); 2];
            for (i, end) in pair.iter().enumerate() {
                let name = end.as_str().ok_or_else(refuse)?;
                ends[i] = nodes.resolve(&format!("{field}[{i}]"), name)?;
            }
            if ends[0] == ends[1] {
                return Err(invalid(format!("{field}[1]"), "a link joins two different nodes"));
            }
            Ok(LinkScope::Between(ends[0], ends[1]))
        }
        _ => Err(refuse()),
    }
}

fn bootstrap_index(field: &str, bootstrap: toml::Value, nodes: &Nodes) -> Result<usize, Error> {
    let count = nodes.bootstrap().len();
    match bootstrap {
        toml::Value::Integer(i) if (0..count as i64).contains(&i) => Ok(i as usize),
        toml::Value::Integer(i) => Err(invalid(field, format!("no bootstrap node {i} (there are {count})"))),
        toml::Value::String(name) => match nodes.find(&name) {
            Some(NodeRef::Bootstrap(i)) => Ok(i),
            _ => Err(invalid(field, format!("no bootstrap node named {name:?}"))),
        },
        other => Err(invalid(
            field,
            format!(
                "must be a bootstrap node's index or name, got type {}",
                other.type_str()
            ),
        )),
    }
}

fn attacker_and_target(path: &str, node: &str, target: &str, nodes: &Nodes) -> Result<(usize, usize), Error> {
    let node = nodes.resolve_regular(&format!("{path}.node"), node)?;
    let target_index = nodes.resolve_regular(&format!("{path}.target"), target)?;
    if node == target_index {
        return Err(invalid(
            format!("{path}.target"),
            format!("{target:?} is also the attacker"),
        ));
    }
    Ok((node, target_index))
}
