//! Links and faults as Chaos Mesh resources (`chaos-mesh.org/v1alpha1`).
//!
//! Each pair of hosts is shaped by one `NetworkChaos` with `action: netem` (delay with jitter, loss
//! and rate in one netem qdisc: separate `delay` and `loss` chaos on one pod would replace each
//! other), between the two pods with `direction: both`, so each side delays what it sends as in the
//! in-process engine. Chaos Mesh gives each target its own filtered netem, and which of two filters
//! matching one destination wins is not defined, so a pair is never shaped twice at once: a pair no
//! `link` fault touches is shaped for good in `40-links.yaml`; a pair one touches is shaped by the
//! Workflow alone, one netem per stretch of time with constant values (so before the Workflow starts,
//! during set-up, it is not shaped).
//!
//! The Workflow runs every fault in parallel, each as a `Serial` of a `Suspend` until its time and the
//! chaos for its duration (`deadline`): partitions are `NetworkChaos` `partition` with `direction:
//! both` between label selectors; crashes and `bootstrap_down` are `PodChaos` `pod-failure` (the
//! container is stopped and its pod kept for the duration, so it restarts on the same volume after it,
//! where `pod-kill` would have the StatefulSet restart it at once). Floods and forgeries need a
//! hostile node, which only the in-process engine has: they are left out, as the README says.

use std::fmt::Write as _;
use std::time::Duration;

use super::namespace_name;
use crate::export::deployment::Deployment;
use crate::export::links::{AFTER_RUN, segments, touched};
use crate::export::netem::rate;
use crate::export::yaml::{list, millis, percent, quote};
use crate::plan::TimedFault;
use crate::scenario::{FaultKind, Link, NodeRef};

/// The Workflow's file, in a directory of its own so `kubectl apply -f kubernetes/` leaves it out.
pub(super) const WORKFLOW_FILE: &str = "faults/workflow.yaml";

/// `40-links.yaml`: a NetworkChaos for each pair no link fault touches, in force until deleted.
pub(super) fn static_links(deployment: &Deployment, timeline: &[TimedFault]) -> Option<String> {
    let namespace = namespace_name(deployment);
    let mut documents = Vec::new();
    for (a, b) in deployment.pairs().filter(|pair| !touched(deployment, timeline, *pair)) {
        let (x, y) = (&deployment.hosts[a].name, &deployment.hosts[b].name);
        let link = deployment.link(&deployment.hosts[a], &deployment.hosts[b]);
        documents.push(format!(
            "# The link {x} <-> {y}: {}, both ways, for the whole run.\n\
             apiVersion: chaos-mesh.org/v1alpha1\n\
             kind: NetworkChaos\n\
             metadata:\n\
             \x20 name: {}\n\
             \x20 namespace: {}\n\
             spec:\n{}",
            describe(&link),
            quote(&format!("link-{x}-{y}")),
            quote(&namespace),
            netem(&namespace, x, y, &link, 2)
        ));
    }
    (!documents.is_empty()).then(|| documents.join("---\n"))
}

/// The fault timeline as a Workflow, or `None` when nothing in it can be injected.
pub(super) fn workflow(deployment: &Deployment, timeline: &[TimedFault]) -> Option<String> {
    let namespace = namespace_name(deployment);
    let scenario = deployment.scenario;
    let run_end = scenario.duration() + AFTER_RUN;
    let mut branches = Vec::new();
    let mut templates = String::new();
    for (index, fault) in scenario.faults().iter().enumerate() {
        let end = fault.ends().filter(|end| *end < scenario.duration()).unwrap_or(run_end);
        let (what, kind, chaos) = match &fault.kind {
            FaultKind::Crash { node, .. } => {
                let name = &deployment.host(NodeRef::Node(*node)).name;
                (
                    format!("crash of {name}"),
                    "PodChaos",
                    pod_failure(deployment, NodeRef::Node(*node)),
                )
            }
            FaultKind::BootstrapDown { bootstrap, .. } => {
                let node = NodeRef::Bootstrap(*bootstrap);
                let what = format!("{} down", deployment.host(node).name);
                (what, "PodChaos", pod_failure(deployment, node))
            }
            FaultKind::Partition { sides, .. } => {
                let names = |side: &[NodeRef]| {
                    side.iter()
                        .map(|node| deployment.host(*node).name.clone())
                        .collect::<Vec<_>>()
                };
                let (a, b) = (names(&sides[0]), names(&sides[1]));
                let what = format!("partition [{}] / [{}]", a.join(", "), b.join(", "));
                (what, "NetworkChaos", partition(&namespace, &a, &b))
            }
            // In the links' branches below, or not injectable.
            FaultKind::Link { .. } | FaultKind::Flood { .. } | FaultKind::Forge { .. } => continue,
        };
        let name = format!("fault-{index}");
        let mut children = Vec::new();
        let mut steps = String::new();
        if !fault.at.is_zero() {
            children.push(suspend(&mut steps, &format!("{name}-wait"), fault.at));
        }
        children.push(chaos_template(
            &mut steps,
            &format!("{name}-chaos"),
            kind,
            end - fault.at,
            &chaos,
        ));
        let _ = writeln!(
            templates,
            "    # faults[{index}]: {what}, from {} for {}.",
            millis(fault.at),
            millis(end - fault.at)
        );
        branches.push(serial(&mut templates, &name, &children));
        templates.push_str(&steps);
    }
    for (a, b) in deployment.pairs().filter(|pair| touched(deployment, timeline, *pair)) {
        let (x, y) = (&deployment.hosts[a].name, &deployment.hosts[b].name);
        let name = format!("link-{x}-{y}");
        let stretches = segments(deployment, timeline, (a, b));
        let mut children = Vec::new();
        let mut steps = String::new();
        for (i, segment) in stretches.iter().enumerate() {
            let until = stretches.get(i + 1).map_or(run_end, |next| next.start);
            let lasting = until - segment.start;
            let chaos = netem(&namespace, x, y, &segment.link, 8);
            let step = format!("{name}-{i}");
            let _ = writeln!(
                steps,
                "    # {}, from {} for {}.",
                describe(&segment.link),
                millis(segment.start),
                millis(lasting)
            );
            children.push(chaos_template(&mut steps, &step, "NetworkChaos", lasting, &chaos));
        }
        let _ = writeln!(
            templates,
            "    # The link {x} <-> {y}, which link faults change, over the run."
        );
        branches.push(serial(&mut templates, &name, &children));
        templates.push_str(&steps);
    }
    if branches.is_empty() {
        return None;
    }
    Some(format!(
        "# The fault timeline of {title}, started by start-faults.sh when the driver's clock starts:\n\
         # every fault in parallel, each waiting for its time. Floods and forgeries are not here (see\n\
         # README.md). Deleting the Workflow lifts every fault in force.\n\
         apiVersion: chaos-mesh.org/v1alpha1\n\
         kind: Workflow\n\
         metadata:\n\
         \x20 name: faults\n\
         \x20 namespace: {namespace}\n\
         spec:\n\
         \x20 entry: timeline\n\
         \x20 templates:\n\
         \x20   - name: timeline\n\
         \x20     templateType: Parallel\n\
         \x20     children: {children}\n\
         {templates}",
        title = deployment.title(),
        namespace = quote(&namespace),
        children = list(&branches),
    ))
}

fn suspend(templates: &mut String, name: &str, wait: Duration) -> String {
    let _ = write!(
        templates,
        "    - name: {name}\n      templateType: Suspend\n      deadline: {}\n",
        quote(&millis(wait))
    );
    name.to_owned()
}

fn serial(templates: &mut String, name: &str, children: &[String]) -> String {
    let _ = write!(
        templates,
        "    - name: {name}\n      templateType: Serial\n      children: {}\n",
        list(children)
    );
    name.to_owned()
}

/// A chaos template: `kind` (`NetworkChaos`, `PodChaos`) with `spec` (indented by 8) for `lasting`.
fn chaos_template(templates: &mut String, name: &str, kind: &str, lasting: Duration, spec: &str) -> String {
    let field = if kind == "PodChaos" { "podChaos" } else { "networkChaos" };
    let _ = write!(
        templates,
        "    - name: {name}\n      templateType: {kind}\n      deadline: {}\n      {field}:\n{spec}",
        quote(&millis(lasting))
    );
    name.to_owned()
}

fn pod_failure(deployment: &Deployment, node: NodeRef) -> String {
    format!(
        "        action: pod-failure\n\
         \x20       mode: all\n{}",
        selector(&namespace_name(deployment), &[deployment.host(node).name.clone()], 8)
    )
}

fn partition(namespace: &str, a: &[String], b: &[String]) -> String {
    format!(
        "        action: partition\n\
         \x20       mode: all\n{}\
         \x20       direction: both\n\
         \x20       target:\n\
         \x20         mode: all\n{}",
        selector(namespace, a, 8),
        selector(namespace, b, 10)
    )
}

/// A netem NetworkChaos spec between the pods of `a` and `b`, indented by `indent`.
fn netem(namespace: &str, a: &str, b: &str, link: &Link, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut spec = format!(
        "{pad}action: netem\n{pad}mode: all\n{}{pad}direction: both\n{pad}target:\n{pad}  mode: all\n{}",
        selector(namespace, &[a.to_owned()], indent),
        selector(namespace, &[b.to_owned()], indent + 2)
    );
    let _ = write!(
        spec,
        "{pad}delay:\n{pad}  latency: {}\n{pad}  jitter: {}\n{pad}  correlation: \"0\"\n",
        quote(&millis(link.latency)),
        quote(&millis(link.jitter))
    );
    if link.loss > 0.0 {
        let _ = write!(
            spec,
            "{pad}loss:\n{pad}  loss: {}\n{pad}  correlation: \"0\"\n",
            quote(&percent(link.loss))
        );
    }
    let _ = write!(spec, "{pad}rate:\n{pad}  rate: {}\n", quote(&rate(link)));
    spec
}

/// A Chaos Mesh pod selector for the pods of `nodes`, in the namespace.
fn selector(namespace: &str, nodes: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}selector:\n\
         {pad}  namespaces: {}\n\
         {pad}  expressionSelectors:\n\
         {pad}    - key: parley/node\n\
         {pad}      operator: In\n\
         {pad}      values: {}\n",
        list([namespace]),
        list(nodes)
    )
}

fn describe(link: &Link) -> String {
    format!(
        "{} ± {}, loss {}%, {}",
        millis(link.latency),
        millis(link.jitter),
        percent(link.loss),
        rate(link)
    )
}
