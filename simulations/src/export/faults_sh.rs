//! `faults.sh`: the fault timeline on Compose, run next to `docker compose up`. At each event's time
//! from the driver's clock it kills or starts a container, or changes a container's `tc` rules (see
//! `netem.rs` for the tree it changes): a partition sends traffic between the sides to the class that
//! drops everything, a link fault replaces the `netem` of the pair's classes. A container started
//! again has only the scenario's links (netem.sh ran anew), so the partition and link faults in force
//! are applied to it again.

use std::fmt::Write as _;

use super::deployment::{DRIVER, Deployment};
use super::links::{changed, covers};
use super::netem::set_link;
use super::yaml::{millis, percent};
use crate::plan::{FaultEvent, TimedFault, timeline};
use crate::scenario::{LinkChange, LinkScope, NodeRef};

/// What is in force while the timeline plays, to apply again to a container that restarts.
#[derive(Default)]
struct State {
    /// The partition's sides, as host indices.
    partition: Option<[Vec<usize>; 2]>,
    /// Link faults in force, by the scenario's fault index.
    links: Vec<(usize, LinkScope, LinkChange)>,
}

/// The script.
pub(super) fn render(deployment: &Deployment) -> String {
    let mut out = header(deployment);
    let mut state = State::default();
    let events = timeline(deployment.scenario);
    if events.is_empty() {
        out.push_str("\necho \"[faults] the scenario has no faults\"\n");
    }
    for timed in &events {
        let _ = writeln!(
            out,
            "\n# faults[{}]\nat {} {}",
            timed.fault,
            timed.at.as_millis(),
            shell_quote(&format!("faults[{}] {}", timed.fault, describe(deployment, timed)))
        );
        event(&mut out, deployment, &mut state, timed);
    }
    out.push_str("\necho \"[faults] the timeline is over; faults without an end stay until docker compose down\"\n");
    out
}

fn event(out: &mut String, deployment: &Deployment, state: &mut State, timed: &TimedFault) {
    let name = |node: NodeRef| deployment.host(node).name.clone();
    match &timed.event {
        FaultEvent::Crash { node } => kill(out, &name(NodeRef::Node(*node))),
        FaultEvent::BootstrapDown { bootstrap } => kill(out, &name(NodeRef::Bootstrap(*bootstrap))),
        FaultEvent::Restart { node } => start(out, deployment, state, deployment.index(NodeRef::Node(*node))),
        FaultEvent::BootstrapUp { bootstrap } => {
            start(out, deployment, state, deployment.index(NodeRef::Bootstrap(*bootstrap)));
        }
        FaultEvent::Partition { sides } => {
            let sides = sides
                .clone()
                .map(|side| side.into_iter().map(|node| deployment.index(node)).collect::<Vec<_>>());
            for (side, other) in [(&sides[0], &sides[1]), (&sides[1], &sides[0])] {
                for &host in side {
                    cut(out, deployment, host, other);
                }
            }
            state.partition = Some(sides);
        }
        FaultEvent::Heal => {
            for host in state.partition.take().into_iter().flatten().flatten() {
                let commands = "tc filter del dev \"$dev\" parent 1: prio 1\n";
                in_service(out, &deployment.hosts[host].name, commands);
            }
        }
        FaultEvent::SetLink { between, change } => {
            state.links.push((timed.fault, *between, *change));
            shape(out, deployment, between, Some(change), None);
        }
        FaultEvent::RestoreLink { between } => {
            state.links.retain(|(fault, ..)| *fault != timed.fault);
            shape(out, deployment, between, None, None);
        }
        FaultEvent::FloodStart { .. } | FaultEvent::FloodStop { .. } | FaultEvent::Forge { .. } => {
            out.push_str("echo \"[faults]   not injected: only the in-process engine has a hostile node to do it\"\n");
        }
    }
}

fn kill(out: &mut String, service: &str) {
    let _ = writeln!(out, "compose kill -s SIGKILL {service}");
}

/// Starts a container again and applies what is in force to its own egress (its peers' rules
/// towards it never went away).
fn start(out: &mut String, deployment: &Deployment, state: &State, host: usize) {
    let service = &deployment.hosts[host].name;
    let _ = writeln!(out, "compose start {service}\nwait_started {service}");
    if let Some(sides) = &state.partition {
        if sides[0].contains(&host) {
            cut(out, deployment, host, &sides[1]);
        } else if sides[1].contains(&host) {
            cut(out, deployment, host, &sides[0]);
        }
    }
    for (_, between, change) in &state.links {
        shape(out, deployment, between, Some(change), Some(host));
    }
}

/// Drops everything `host` sends to `others`.
fn cut(out: &mut String, deployment: &Deployment, host: usize, others: &[usize]) {
    let mut commands = String::new();
    for &other in others {
        let _ = writeln!(
            commands,
            "tc filter add dev \"$dev\" parent 1: protocol ip prio 1 u32 match ip dst {}/32 flowid 1:2",
            deployment.hosts[other].ip
        );
    }
    in_service(out, &deployment.hosts[host].name, &commands);
}

/// Sets the links in `scope` to the scenario's with `change` (or to the scenario's, with none), on
/// every sender, or on `only` that one.
fn shape(
    out: &mut String,
    deployment: &Deployment,
    scope: &LinkScope,
    change: Option<&LinkChange>,
    only: Option<usize>,
) {
    for (from, sender) in deployment.hosts.iter().enumerate() {
        if only.is_some_and(|only| only != from) {
            continue;
        }
        let mut commands = String::new();
        for (to, receiver) in deployment.hosts.iter().enumerate() {
            if to != from && covers(deployment, scope, (from, to)) {
                let base = deployment.link(sender, receiver);
                let link = change.map_or(base, |change| changed(base, change));
                commands.push_str(&set_link(receiver, &link));
                commands.push('\n');
            }
        }
        if !commands.is_empty() {
            in_service(out, &sender.name, &commands);
        }
    }
}

fn in_service(out: &mut String, service: &str, commands: &str) {
    let _ = write!(out, "in_service {service} <<EOF\n{commands}EOF\n");
}

/// One line saying what happens, for the script's log.
fn describe(deployment: &Deployment, timed: &TimedFault) -> String {
    let name = |node: NodeRef| deployment.host(node).name.as_str();
    let names = |side: &[NodeRef]| side.iter().map(|node| name(*node)).collect::<Vec<_>>().join(" ");
    let scope = |scope: &LinkScope| match scope {
        LinkScope::All => "every link".to_owned(),
        LinkScope::Between(a, b) => format!("link {} <-> {}", name(*a), name(*b)),
    };
    match &timed.event {
        FaultEvent::Crash { node } => format!("crash: {} is killed", name(NodeRef::Node(*node))),
        FaultEvent::Restart { node } => format!("crash ends: {} restarts", name(NodeRef::Node(*node))),
        FaultEvent::Partition { sides } => format!("partition: [{}] | [{}]", names(&sides[0]), names(&sides[1])),
        FaultEvent::Heal => "partition heals".to_owned(),
        FaultEvent::SetLink { between, change } => {
            format!("link: {} changes to {}", scope(between), describe_change(change))
        }
        FaultEvent::RestoreLink { between } => format!("link: {} is restored", scope(between)),
        FaultEvent::BootstrapDown { bootstrap } => format!("bootstrap_down: {}", name(NodeRef::Bootstrap(*bootstrap))),
        FaultEvent::BootstrapUp { bootstrap } => {
            format!("bootstrap_down ends: {}", name(NodeRef::Bootstrap(*bootstrap)))
        }
        FaultEvent::FloodStart { node, target, rate } => format!(
            "flood: {} floods {} at {rate}/s",
            name(NodeRef::Node(*node)),
            name(NodeRef::Node(*target))
        ),
        FaultEvent::FloodStop { node, .. } => format!("flood ends: {}", name(NodeRef::Node(*node))),
        FaultEvent::Forge { node, target, count } => format!(
            "forge: {} sends {count} forged envelopes to {}",
            name(NodeRef::Node(*node)),
            name(NodeRef::Node(*target))
        ),
    }
}

fn describe_change(change: &LinkChange) -> String {
    let mut parts = Vec::new();
    if let Some(latency) = change.latency {
        parts.push(format!("latency {}", millis(latency)));
    }
    if let Some(jitter) = change.jitter {
        parts.push(format!("jitter {}", millis(jitter)));
    }
    if let Some(loss) = change.loss {
        parts.push(format!("loss {}%", percent(loss)));
    }
    parts.join(", ")
}

/// Single-quotes `text` for the shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn header(deployment: &Deployment) -> String {
    format!(
        r#"#!/usr/bin/env bash
# faults.sh [--now]: plays the fault timeline of {title} on the containers of
# docker-compose.yml, each event at its time from the start of the driver's clock (when its users and
# conversations are set up, as in the in-process engine). Run it in this directory right after
# `docker compose up -d`; with --now the clock starts at once instead. See README.md.
#
# Crashes are `docker compose kill -s SIGKILL` (and `start` to restart on the same volume); partitions
# and link faults change the tc rules netem.sh set in each container (class 1:2 drops everything).
set -uo pipefail
cd "$(dirname "$0")"

# `docker compose`, or COMPOSE="docker-compose" for the standalone program.
read -ra compose_command <<< "${{COMPOSE:-docker compose}}"
compose() {{ "${{compose_command[@]}}" "$@"; }}
# The containers' interface on the network (as netem.sh has it).
dev=${{PARLEY_NETEM_DEV:-eth0}}

# The driver logs this line when its clock starts.
clock_line=${{PARLEY_CLOCK_LINE:-set up in}}
if [[ ${{1:-}} != --now ]]; then
    echo "[faults] waiting for the driver's clock (\"$clock_line\" in its log)"
    until compose logs {driver} 2>/dev/null | grep -qF -- "$clock_line"; do sleep 0.2; done
fi
start_ns=$(date +%s%N)

# at MS WHAT: sleeps until MS milliseconds after the clock started, then says WHAT.
at() {{
    local wait_ns=$(( start_ns + $1 * 1000000 - $(date +%s%N) ))
    if (( wait_ns > 0 )); then
        sleep "$(( wait_ns / 1000000000 )).$(printf '%09d' $(( wait_ns % 1000000000 )))"
    fi
    echo "[faults] t=$(( $1 / 1000 )).$(printf '%03d' $(( $1 % 1000 )))s $2"
}}

# in_service SERVICE: runs the commands on standard input in the container, as root. A container that
# is down is reported and skipped: it gets what is in force when it starts again.
in_service() {{
    compose exec -T "$1" sh -s || echo "[faults]   $1: not applied (is it down?)" >&2
}}

# wait_started SERVICE: waits (up to 30 s) until netem.sh has shaped the links and started parley.
wait_started() {{
    local tries=150
    until compose exec -T "$1" grep -qx parley /proc/1/comm 2>/dev/null || (( --tries == 0 )); do
        sleep 0.2
    done
}}
"#,
        title = deployment.title(),
        driver = DRIVER,
    )
}
