//! The `parley` processes on Kubernetes: per bootstrap node a Secret with its key, a headless Service and
//! a StatefulSet; per node a headless Service and a StatefulSet with a volume for its store. The
//! Service is named after the node, so `<name>` (`<name>.<namespace>.svc`) resolves to its pod, also
//! before the pod is ready, and the pods carry `parley/node` and `parley/region` labels for Chaos Mesh.

use std::fmt::Write as _;

use base64::Engine as _;

use super::{labels, namespace_name, shell_container};
use crate::export::deployment::{BOOTSTRAP_P2P_PORT, Deployment, HTTP_PORT, Host, NODE_P2P_PORT};
use crate::export::yaml::quote;

/// A pod's region label when the scenario has no regions.
const NO_REGION: &str = "default";
/// The Secret volume's file mode, 0440: parley (via the pod's fsGroup) may read the key, no one else.
const KEY_MODE: u32 = 0o440;

/// `20-bootstrap.yaml`.
pub(super) fn bootstraps(deployment: &Deployment) -> String {
    let namespace = quote(&namespace_name(deployment));
    let mut out = String::new();
    for (host, key) in deployment.bootstraps() {
        let secret = base64::engine::general_purpose::STANDARD.encode(&key.secret);
        let _ = write!(
            out,
            "# Bootstrap node {name}: its key, made at export time ({file}), so its PeerId is\n\
             # {peer}, which the nodes' --bootstrap names.\n\
             apiVersion: v1\n\
             kind: Secret\n\
             metadata:\n\
             \x20 name: {secret_name}\n\
             \x20 namespace: {namespace}\n\
             \x20 labels:\n{labels}\
             type: Opaque\n\
             data:\n\
             \x20 bootstrap.key: {secret}\n\
             ---\n",
            name = host.name,
            file = key.file.display(),
            peer = key.peer_id,
            secret_name = quote(&format!("{}-key", host.name)),
            labels = labels(4, "bootstrap"),
            secret = quote(&secret),
        );
        service(
            &mut out,
            deployment,
            host,
            "bootstrap",
            &[("p2p", BOOTSTRAP_P2P_PORT, "UDP")],
        );
        let command = format!(
            "# The key comes from the Secret, so the PeerId is the one nodes expect.\n\
             exec parley bootstrap --key-file /keys/bootstrap.key --listen /ip4/0.0.0.0/udp/{BOOTSTRAP_P2P_PORT}/quic-v1\n"
        );
        let spec = format!(
            "\x20         ports:\n\
             \x20           - name: p2p\n\
             \x20             containerPort: {BOOTSTRAP_P2P_PORT}\n\
             \x20             protocol: UDP\n\
             \x20         volumeMounts:\n\
             \x20           - name: key\n\
             \x20             mountPath: /keys\n\
             \x20             readOnly: true\n\
             \x20     volumes:\n\
             \x20       - name: key\n\
             \x20         secret:\n\
             \x20           secretName: {}\n\
             \x20           defaultMode: {KEY_MODE}\n",
            quote(&format!("{}-key", host.name)),
        );
        stateful_set(&mut out, deployment, host, "bootstrap", &command, &spec);
        out.push_str("---\n");
    }
    out.trim_end_matches("---\n").to_owned()
}

/// `30-nodes.yaml`.
pub(super) fn nodes(deployment: &Deployment) -> String {
    let mut resolve = String::new();
    for (index, (host, _)) in deployment.bootstraps().enumerate() {
        let _ = writeln!(resolve, "b{index}=$(ip_of {})", host.name);
    }
    let bootstrap = deployment.bootstrap_addresses(|index, _| format!("${{b{index}}}"));
    let mut out = String::new();
    for host in deployment.nodes() {
        service(
            &mut out,
            deployment,
            host,
            "node",
            &[("http", HTTP_PORT, "TCP"), ("p2p", NODE_P2P_PORT, "UDP")],
        );
        let mut run = format!(
            "parley node --data-dir /data --http 0.0.0.0:{HTTP_PORT} \\\n\
             \x20   --p2p /ip4/0.0.0.0/udp/{NODE_P2P_PORT}/quic-v1 --name {} \\\n\
             \x20   --rate-limits off --outbox-max-backoff 5",
            host.name
        );
        for address in &bootstrap {
            let _ = write!(run, " \\\n    --bootstrap \"{address}\"");
        }
        let command = format!(
            "# parley's QUIC transport dials addresses, not names: resolve the bootstrap nodes first.\n\
             ip_of() {{\n\
             \x20   until getent ahostsv4 \"$1\" > /dev/null; do echo \"waiting for $1 in DNS\"; sleep 1; done\n\
             \x20   getent ahostsv4 \"$1\" | head -n 1 | cut -d ' ' -f 1\n\
             }}\n\
             {resolve}\
             # Rate limits are off as in the in-process engine: the driver registers every user from one\n\
             # address. Unreachable peers are retried within 5 s, as there.\n\
             {run} &\n\
             pid=$!\n\
             # A stopped pod (a Chaos Mesh pod-failure: the scenario's crash) dies at once, without the\n\
             # graceful shutdown, as on power loss.\n\
             trap 'kill -KILL \"$pid\"' TERM\n\
             wait \"$pid\"\n"
        );
        let spec = format!(
            "\x20         ports:\n\
             \x20           - name: http\n\
             \x20             containerPort: {HTTP_PORT}\n\
             \x20             protocol: TCP\n\
             \x20           - name: p2p\n\
             \x20             containerPort: {NODE_P2P_PORT}\n\
             \x20             protocol: UDP\n\
             \x20         readinessProbe:\n\
             \x20           httpGet:\n\
             \x20             path: /health\n\
             \x20             port: {HTTP_PORT}\n\
             \x20           periodSeconds: 2\n\
             \x20         volumeMounts:\n\
             \x20           - name: data\n\
             \x20             mountPath: /data\n\
             \x20 # The node's store, kept across a crash (pod-failure) and restart.\n\
             \x20 volumeClaimTemplates:\n\
             \x20   - metadata:\n\
             \x20       name: data\n\
             \x20     spec:\n\
             \x20       accessModes: [\"ReadWriteOnce\"]\n\
             \x20       resources:\n\
             \x20         requests:\n\
             \x20           storage: 1Gi\n"
        );
        stateful_set(&mut out, deployment, host, "node", &command, &spec);
        out.push_str("---\n");
    }
    out.trim_end_matches("---\n").to_owned()
}

/// A pod's labels: what it is, which node, which region.
fn pod_labels(indent: usize, host: &Host, role: &str) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{}{pad}parley/node: {}\n{pad}parley/region: {}\n",
        labels(indent, role),
        quote(&host.name),
        quote(host.region.as_deref().unwrap_or(NO_REGION))
    )
}

fn service(out: &mut String, deployment: &Deployment, host: &Host, role: &str, ports: &[(&str, u16, &str)]) {
    let _ = write!(
        out,
        "# {name}'s name in the cluster: headless, so it resolves to the pod itself, ready or not.\n\
         apiVersion: v1\n\
         kind: Service\n\
         metadata:\n\
         \x20 name: {service}\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n{labels}\
         spec:\n\
         \x20 clusterIP: None\n\
         \x20 publishNotReadyAddresses: true\n\
         \x20 selector:\n\
         \x20   parley/node: {service}\n\
         \x20 ports:\n",
        name = host.name,
        service = quote(&host.name),
        namespace = quote(&namespace_name(deployment)),
        labels = labels(4, role),
    );
    for (name, port, protocol) in ports {
        let _ = writeln!(
            out,
            "    - name: {name}\n      port: {port}\n      protocol: {protocol}"
        );
    }
    out.push_str("---\n");
}

/// A one-replica StatefulSet running `command` (a shell script) as parley's user; `spec` adds to the
/// container (at 10 spaces) and the pod (at 6), or the StatefulSet's spec (at 2).
fn stateful_set(out: &mut String, deployment: &Deployment, host: &Host, role: &str, command: &str, spec: &str) {
    let _ = write!(
        out,
        "# {role} {name}: one pod.\n\
         apiVersion: apps/v1\n\
         kind: StatefulSet\n\
         metadata:\n\
         \x20 name: {service}\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n{labels}\
         spec:\n\
         \x20 serviceName: {service}\n\
         \x20 replicas: 1\n\
         \x20 selector:\n\
         \x20   matchLabels:\n\
         \x20     parley/node: {service}\n\
         \x20 template:\n\
         \x20   metadata:\n\
         \x20     labels:\n{pod_labels}\
         \x20   spec:\n\
         \x20     terminationGracePeriodSeconds: 5\n\
         \x20     securityContext:\n\
         \x20       runAsNonRoot: true\n\
         \x20       runAsUser: 10001\n\
         \x20       runAsGroup: 10001\n\
         \x20       fsGroup: 10001\n\
         \x20     containers:\n\
         {command}\
         \x20         env:\n\
         \x20           - name: PARLEY_LOG\n\
         \x20             value: info\n\
         {spec}",
        name = host.name,
        service = quote(&host.name),
        namespace = quote(&namespace_name(deployment)),
        labels = labels(4, role),
        pod_labels = pod_labels(8, host, role),
        command = shell_container("parley", deployment, command),
    );
}
