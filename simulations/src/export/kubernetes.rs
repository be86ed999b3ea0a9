//! The Kubernetes target, under `kubernetes/`: a namespace, the scenario as a ConfigMap, a StatefulSet
//! and headless Service per bootstrap node and node (`workloads.rs`), the driver as a Job, and the links
//! and fault timeline as Chaos Mesh resources (`chaos.rs`). `kubectl apply -f kubernetes/` deploys all
//! but the timeline, which `start-faults.sh` applies when the driver's clock starts.

mod chaos;
mod workloads;

use std::fmt::Write as _;

use super::File;
use super::deployment::{DRIVER, Deployment, HTTP_PORT};
use super::yaml::{literal, quote, script_block};
use crate::error::Error;
use crate::plan::timeline;

/// Where the manifests go in the output directory.
const DIR: &str = "kubernetes";
/// How long the driver's pod stays after the run so its outputs can be copied out.
const KEEP_RESULTS_SECS: u32 = 3600;

/// Every file of the Kubernetes target. Names Kubernetes would refuse are refused here.
pub(super) fn files(deployment: &Deployment) -> Result<Vec<File>, Error> {
    check_names(deployment)?;
    let events = timeline(deployment.scenario);
    let mut files = vec![
        File::new(format!("{DIR}/00-namespace.yaml"), namespace(deployment)),
        File::new(format!("{DIR}/10-scenario.yaml"), scenario(deployment)),
        File::new(format!("{DIR}/20-bootstrap.yaml"), workloads::bootstraps(deployment)),
        File::new(format!("{DIR}/30-nodes.yaml"), workloads::nodes(deployment)),
        File::new(format!("{DIR}/50-driver.yaml"), driver(deployment)),
    ];
    if let Some(links) = chaos::static_links(deployment, &events) {
        files.push(File::new(format!("{DIR}/40-links.yaml"), links));
    }
    if let Some(workflow) = chaos::workflow(deployment, &events) {
        files.push(File::new(format!("{DIR}/{}", chaos::WORKFLOW_FILE), workflow));
        files.push(File::script(format!("{DIR}/start-faults.sh"), start_faults(deployment)));
    }
    Ok(files)
}

/// The namespace everything lives in.
pub(super) fn namespace_name(deployment: &Deployment) -> String {
    format!("parley-{}", deployment.label)
}

/// Hosts become Services, whose names must be DNS-1035 labels (starting with a letter), and
/// StatefulSets, whose pods carry a `controller-revision-hash` label of the name plus 11 characters.
fn check_names(deployment: &Deployment) -> Result<(), Error> {
    for host in &deployment.hosts {
        if !host.name.starts_with(|c: char| c.is_ascii_lowercase()) || host.name.len() > 52 {
            return Err(Error::Export(format!(
                "node {:?}: Kubernetes needs names that start with a letter and have at most 52 characters",
                host.name
            )));
        }
    }
    Ok(())
}

/// The labels of everything the export creates (`parley/role` tells what it is), indented by `indent`.
/// A pod's container (in a list at 8 spaces) that runs `script` with `/bin/sh -c` in the exported
/// image; what the container needs besides (volumes, environment) follows it at 10 spaces.
pub(super) fn shell_container(name: &str, deployment: &Deployment, script: &str) -> String {
    format!(
        "\x20       - name: {name}\n\
         \x20         image: {image}\n\
         \x20         imagePullPolicy: IfNotPresent\n\
         \x20         command:\n\
         \x20           - /bin/sh\n\
         \x20           - -c\n\
         \x20           - {script}",
        image = quote(&deployment.image),
        script = script_block(script, 14),
    )
}

pub(super) fn labels(indent: usize, role: &str) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}app.kubernetes.io/part-of: parley\n{pad}parley/role: {}\n",
        quote(role)
    )
}

fn namespace(deployment: &Deployment) -> String {
    format!(
        "# The namespace of {}: delete it to remove everything.\n\
         apiVersion: v1\n\
         kind: Namespace\n\
         metadata:\n\
         \x20 name: {}\n\
         \x20 labels:\n{}",
        deployment.title(),
        quote(&namespace_name(deployment)),
        labels(4, "namespace")
    )
}

fn scenario(deployment: &Deployment) -> String {
    format!(
        "# The scenario file, which the driver reads (mounted at /scenario/scenario.toml).\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n\
         \x20 name: scenario\n\
         \x20 namespace: {}\n\
         \x20 labels:\n{}\
         data:\n\
         \x20 scenario.toml: {}",
        quote(&namespace_name(deployment)),
        labels(4, "scenario"),
        literal(deployment.scenario_toml, 2)
    )
}

fn driver(deployment: &Deployment) -> String {
    let namespace = quote(&namespace_name(deployment));
    let nodes: Vec<&str> = deployment.nodes().map(|host| host.name.as_str()).collect();
    let mut drive = String::from("parley simulate drive /scenario/scenario.toml");
    for node in &nodes {
        let _ = write!(drive, " \\\n    --node {node}=http://{node}:{HTTP_PORT}");
    }
    drive.push_str(" \\\n    --out /results");
    let run = format!(
        "# Runs the driver, then keeps the pod {KEEP_RESULTS_SECS} s so the outputs can be copied out:\n\
         #   kubectl -n {ns} cp <this pod>:/results ./results\n\
         {drive}\n\
         status=$?\n\
         echo \"driver finished with status $status; outputs in /results\"\n\
         sleep {KEEP_RESULTS_SECS}\n\
         exit \"$status\"\n",
        ns = namespace_name(deployment),
    );
    let wait = format!(
        "# The driver starts once every node answers /health.\n\
         for node in {}; do\n\
         \x20   until curl -fsS -o /dev/null \"http://$node:{HTTP_PORT}/health\"; do sleep 2; done\n\
         done\n",
        nodes.join(" ")
    );
    format!(
        "# The driver's outputs (summary.json, deliveries.csv, timeseries.csv, plots, index.html).\n\
         apiVersion: v1\n\
         kind: PersistentVolumeClaim\n\
         metadata:\n\
         \x20 name: results\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n{labels}\
         spec:\n\
         \x20 accessModes: [\"ReadWriteOnce\"]\n\
         \x20 resources:\n\
         \x20   requests:\n\
         \x20     storage: 1Gi\n\
         ---\n\
         # The workload driver: registers the scenario's users, creates its conversations and sends its\n\
         # messages through the nodes' APIs, and writes the run's outputs to /results. It injects no\n\
         # faults: start-faults.sh applies the fault timeline when the driver's clock starts.\n\
         apiVersion: batch/v1\n\
         kind: Job\n\
         metadata:\n\
         \x20 name: {DRIVER}\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n{labels}\
         spec:\n\
         \x20 backoffLimit: 0\n\
         \x20 template:\n\
         \x20   metadata:\n\
         \x20     labels:\n{pod_labels}\
         \x20   spec:\n\
         \x20     restartPolicy: Never\n\
         \x20     securityContext:\n\
         \x20       runAsNonRoot: true\n\
         \x20       runAsUser: 10001\n\
         \x20       runAsGroup: 10001\n\
         \x20       fsGroup: 10001\n\
         \x20     initContainers:\n\
         {wait}\
         \x20     containers:\n\
         {run}\
         \x20         volumeMounts:\n\
         \x20           - name: scenario\n\
         \x20             mountPath: /scenario\n\
         \x20             readOnly: true\n\
         \x20           - name: results\n\
         \x20             mountPath: /results\n\
         \x20     volumes:\n\
         \x20       - name: scenario\n\
         \x20         configMap:\n\
         \x20           name: scenario\n\
         \x20       - name: results\n\
         \x20         persistentVolumeClaim:\n\
         \x20           claimName: results\n",
        labels = labels(4, "driver"),
        pod_labels = labels(8, "driver"),
        wait = shell_container("wait-for-nodes", deployment, &wait),
        run = shell_container(DRIVER, deployment, &run),
    )
}

fn start_faults(deployment: &Deployment) -> String {
    format!(
        r#"#!/usr/bin/env bash
# start-faults.sh [--now]: applies the fault timeline of {title}
# ({workflow}, a Chaos Mesh Workflow) when the driver's clock starts (when its users and
# conversations are set up), so faults happen at the scenario's times as in the in-process engine.
# Run it right after `kubectl apply -f kubernetes/`; with --now it applies the timeline at once.
set -euo pipefail
cd "$(dirname "$0")"
namespace={namespace}
# The driver logs this line when its clock starts.
clock_line=${{PARLEY_CLOCK_LINE:-set up in}}
if [[ ${{1:-}} != --now ]]; then
    echo "waiting for the driver's clock (\"$clock_line\" in its log)"
    until kubectl -n "$namespace" logs "job/{DRIVER}" -c {DRIVER} 2>/dev/null | grep -qF -- "$clock_line"; do
        sleep 0.5
    done
fi
kubectl apply -f {workflow}
echo "fault timeline started: kubectl -n $namespace get workflow,networkchaos,podchaos"
"#,
        title = deployment.title(),
        workflow = chaos::WORKFLOW_FILE,
        namespace = namespace_name(deployment),
    )
}
