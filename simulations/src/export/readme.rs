//! The export directory's `README.md`: how to build, run and read the export, how each fault of the
//! scenario is injected (or why not), and how the run differs from the in-process engine's.

use std::fmt::Write as _;

use super::Target;
use super::deployment::Deployment;
use super::yaml::percent;
use crate::scenario::{FaultKind, LinkScope};

/// The README for `target`.
pub(super) fn render(deployment: &Deployment, target: Target) -> String {
    let mut out = format!(
        "# {title}, exported for {engine}\n\n\
         Written by `parley simulate export`. The same scenario runs in one process with `parley simulate\n\
         scenario.toml`; here every node is a `parley` process in a container of its own, links are shaped by\n\
         the kernel (`tc netem`), and the workload driver (`parley simulate drive`) runs the scenario's users and\n\
         traffic against the nodes' HTTP APIs and writes the same outputs (`summary.json`, `deliveries.csv`,\n\
         `timeseries.csv`, plots, `index.html`).\n\n\
         ## Build the image\n\n\
         From the parley repository (the build context is the repository; `Dockerfile.dockerignore` keeps\n\
         `target/` and run data out of it):\n\n\
         ```sh\n\
         docker build -f <this directory>/Dockerfile -t {image} .\n\
         ```\n\n",
        title = deployment.title(),
        engine = match target {
            Target::Compose => "Docker Compose",
            Target::Kubernetes => "Kubernetes with Chaos Mesh",
        },
        image = deployment.image,
    );
    match target {
        Target::Compose => out.push_str(COMPOSE),
        Target::Kubernetes => out.push_str(KUBERNETES),
    }
    out.push_str(&faults(deployment, target));
    let _ = write!(
        out,
        "\n## Bootstrap keys\n\n\
         Nodes name a bootstrap node by address and PeerId, so each bootstrap node's Ed25519 key was made at\n\
         export time, in `keys/` (32 raw bytes, the format of `parley bootstrap --key-file`), and its PeerId\n\
         written into the nodes' `--bootstrap`. Exporting into this directory again keeps the keys. They\n\
         are for this simulation only: anyone with this directory can act as its bootstrap nodes.\n\n{}",
        DIFFERENCES
    );
    out
}

const COMPOSE: &str = r#"## Run it with Docker Compose

```sh
docker compose up -d           # bootstrap nodes, nodes, then the driver once every node is healthy
./faults.sh                    # plays the fault timeline from the driver's clock (see below)
docker compose logs -f driver  # progress; the outputs appear in ./results when it exits
docker compose down -v         # removes the containers and the nodes' volumes
```

The containers share a network with the fixed subnet `10.77.0.0/16` (change it in
`docker-compose.yml` and `links.tsv` together if it clashes with one of yours). Each parley container's
entrypoint, `netem.sh`, shapes its egress to every other parley container as `links.tsv` says
(`htb` class with the link's rate, `netem` with its latency, jitter and loss, chosen by destination
address), then starts parley as an unprivileged user. The host's kernel needs the `sch_htb`,
`sch_netem` and `cls_u32` modules (`modprobe` them if `tc` complains).

`faults.sh` waits for the driver's clock (the line `set up in` in its log; `PARLEY_CLOCK_LINE`
changes it, `--now` skips the wait), then at each fault's time kills (`docker compose kill -s
SIGKILL`) or starts a container, or changes `tc` rules in containers (`docker compose exec`). Set
`COMPOSE=docker-compose` to use the standalone program.

"#;

const KUBERNETES: &str = r#"## Run it on Kubernetes

Push the image where the cluster pulls from (export with `--image` naming it). The links and faults
need [Chaos Mesh](https://chaos-mesh.org) installed in the cluster.

```sh
kubectl apply -f kubernetes/          # namespace, scenario, bootstrap nodes, nodes, links, driver
kubernetes/start-faults.sh            # applies the fault timeline when the driver's clock starts
kubectl -n <namespace> logs -f job/driver
kubectl -n <namespace> cp <driver pod>:/results ./results   # within an hour of the end
kubectl delete namespace <namespace>  # removes everything, the Workflow and its chaos included
```

Every pod is labelled `parley/node: <name>` and `parley/region: <region>` (`default` without
regions); a node's Service has its name, so `<name>.<namespace>.svc` is its pod. Nodes resolve the
bootstrap nodes' names to addresses when they start, as parley dials addresses, not names.
`kubernetes/faults/workflow.yaml` (absent when nothing can be injected) is a Chaos Mesh Workflow that
`start-faults.sh` applies once the driver logs `set up in` (`--now` applies it at once). Links are
Chaos Mesh `NetworkChaos` (`netem`, both ways) per pair of pods: in `40-links.yaml` for the whole run,
or, for a pair that a `link` fault changes, in the Workflow alone (one stretch per value), so such a
pair is not shaped during set-up. A crash is a `pod-failure` for its duration (the pod is kept, its
container stopped; the node's command turns that stop into a SIGKILL, as on power loss).

"#;

const DIFFERENCES: &str = r#"## How this differs from the in-process engine

- Loss is real packet loss, which QUIC recovers from; the in-process link model turns loss into
  retransmission delay on a reliable stream. Jitter is netem's (uniform within latency ± jitter), which
  may reorder packets.
- Set-up (registering users, creating conversations) takes the time real nodes take; the fault
  timeline starts with the driver's clock, after set-up, as in the in-process engine.
- Idle connections close after the node's default two minutes (the in-process engine closes them after
  20 s, which `parley node` has no flag for), so nodes hold more connections at once.
- A partition drops packets between the sides, so connections across it end when QUIC gives up on
  them (its idle timeout) rather than at once as in the in-process network.
- Floods and forgeries are not injected (no hostile node exists outside the in-process engine).
- Faults without an end last past the run (an hour on Kubernetes; until `docker compose down`).
"#;

/// The faults table: each fault of the scenario and what does it here.
fn faults(deployment: &Deployment, target: Target) -> String {
    let faults = deployment.scenario.faults();
    if faults.is_empty() {
        return "## Faults\n\nThe scenario has none; only the links are shaped.\n".to_owned();
    }
    let mut out = String::from("## Faults\n\n| fault | at | what | injected as |\n|---|---|---|---|\n");
    let name = |node| deployment.host(node).name.clone();
    let compose = target == Target::Compose;
    for (index, fault) in faults.iter().enumerate() {
        let lasting = fault.ends().map_or_else(
            || " to the end".to_owned(),
            |end| format!(" for {}", human(end - fault.at)),
        );
        let (what, how) = match &fault.kind {
            FaultKind::Crash { node, .. } => (
                format!("crash of {}{lasting}", name(crate::NodeRef::Node(*node))),
                if compose {
                    "`docker compose kill -s SIGKILL`, then `start`"
                } else {
                    "PodChaos `pod-failure`"
                },
            ),
            FaultKind::BootstrapDown { bootstrap, .. } => (
                format!("{} down{lasting}", name(crate::NodeRef::Bootstrap(*bootstrap))),
                if compose {
                    "`docker compose kill -s SIGKILL`, then `start`"
                } else {
                    "PodChaos `pod-failure`"
                },
            ),
            FaultKind::Partition { sides, .. } => {
                let side = |nodes: &[crate::NodeRef]| nodes.iter().map(|n| name(*n)).collect::<Vec<_>>().join(", ");
                (
                    format!("partition [{}] / [{}]{lasting}", side(&sides[0]), side(&sides[1])),
                    if compose {
                        "`tc` filters to a drop class, both sides"
                    } else {
                        "NetworkChaos `partition`, both directions"
                    },
                )
            }
            FaultKind::Link { between, change, .. } => {
                let scope = match between {
                    LinkScope::All => "every link".to_owned(),
                    LinkScope::Between(a, b) => format!("link {} <-> {}", name(*a), name(*b)),
                };
                let values = [
                    change.latency.map(|d| format!("latency {}", human(d))),
                    change.jitter.map(|d| format!("jitter {}", human(d))),
                    change.loss.map(|l| format!("loss {}%", percent(l))),
                ];
                let values: Vec<String> = values.into_iter().flatten().collect();
                (
                    format!("{scope}: {}{lasting}", values.join(", ")),
                    if compose {
                        "`tc qdisc replace … netem` on both ends"
                    } else {
                        "NetworkChaos `netem` in the Workflow"
                    },
                )
            }
            FaultKind::Flood { node, target, rate, .. } => (
                format!(
                    "flood {} → {} at {rate}/s{lasting}",
                    name(crate::NodeRef::Node(*node)),
                    name(crate::NodeRef::Node(*target))
                ),
                "not injected: no hostile node",
            ),
            FaultKind::Forge { node, target, count } => (
                format!(
                    "forge {} → {}, {count} envelopes",
                    name(crate::NodeRef::Node(*node)),
                    name(crate::NodeRef::Node(*target))
                ),
                "not injected: no hostile node",
            ),
        };
        let _ = writeln!(out, "| `faults[{index}]` | {} | {what} | {how} |", human(fault.at));
    }
    out
}

/// A duration as people write it: `30s`, `2m`, or `1500ms` when not whole seconds.
fn human(duration: std::time::Duration) -> String {
    let ms = duration.as_millis();
    if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
