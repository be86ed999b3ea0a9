//! The Compose target: `docker-compose.yml` (Compose Specification) with one service per bootstrap node
//! and node and one for the driver, on a network with a fixed subnet so every container has a fixed
//! address; `netem.sh` and `links.tsv` shape the links; `faults.sh` plays the fault timeline.

use std::fmt::Write as _;

use super::deployment::{BOOTSTRAP_P2P_PORT, DRIVER, DRIVER_IP, Deployment, HTTP_PORT, Host, NODE_P2P_PORT, SUBNET};
use super::yaml::{list, quote};
use super::{File, faults_sh, netem};
use crate::error::Error;

/// The network's name in the file.
const NETWORK: &str = "parley";

/// Every file of the Compose target. A node named like the driver's service is refused.
pub(super) fn files(deployment: &Deployment) -> Result<Vec<File>, Error> {
    if deployment.hosts.iter().any(|host| host.name == DRIVER) {
        return Err(Error::Export(format!(
            "a node is named {DRIVER:?}, the driver's service in docker-compose.yml; rename it"
        )));
    }
    Ok(vec![
        File::new("docker-compose.yml", compose_yml(deployment)),
        File::script("netem.sh", netem::netem_sh()),
        File::new("links.tsv", netem::links_tsv(deployment)),
        File::script("faults.sh", faults_sh::render(deployment)),
    ])
}

fn compose_yml(deployment: &Deployment) -> String {
    let mut out = format!(
        "# docker-compose.yml: {} on Docker Compose, written by `parley simulate export`;\n\
         # README.md says how to run it. Each parley container shapes its own links when it starts\n\
         # (netem.sh, links.tsv); faults.sh plays the fault timeline; the driver runs the users and traffic\n\
         # against the nodes' APIs and writes the run's outputs to ./results. The project is named after\n\
         # this directory (no top-level `name:`, which docker-compose 1.x refuses).\n\
         \nservices:\n",
        deployment.title(),
    );
    // Compose substitutes `${…}`, so a `$` in the image name must be doubled to be taken literally.
    let image = quote(&format!("${{PARLEY_IMAGE:-{}}}", deployment.image.replace('$', "$$")));
    for (host, key) in deployment.bootstraps() {
        let _ = write!(
            out,
            "  # Bootstrap node {name}{region}: a DHT entry point, no users. Its key was made at export time\n\
             \x20 # ({file}) so that its PeerId, {peer}, is known to the nodes' --bootstrap.\n\
             \x20 {service}:\n",
            name = host.name,
            region = region(host),
            file = key.file.display(),
            peer = key.peer_id,
            service = quote(&host.name),
        );
        common(&mut out, &image, host);
        let command = [
            "bootstrap",
            "--key-file",
            "/data/bootstrap.key",
            "--listen",
            &format!("/ip4/0.0.0.0/udp/{BOOTSTRAP_P2P_PORT}/quic-v1"),
        ];
        let _ = write!(
            out,
            "    command: {}\n\
             \x20   # parley bootstrap stops on Ctrl-C, not on Compose's default SIGTERM.\n\
             \x20   stop_signal: SIGINT\n\
             \x20   environment:\n\
             \x20     # netem.sh copies the key from here to a file of parley's own.\n\
             \x20     PARLEY_KEY_SOURCE: \"/keys/bootstrap.key\"\n\
             \x20     PARLEY_LOG: \"${{PARLEY_LOG:-info}}\"\n\
             \x20   volumes:\n\
             \x20     - \"./netem.sh:/netem/netem.sh:ro\"\n\
             \x20     - \"./links.tsv:/netem/links.tsv:ro\"\n\
             \x20     - {}\n",
            list(command),
            quote(&format!("./{}:/keys/bootstrap.key:ro", key.file.display())),
        );
        network(&mut out, &host.ip.to_string());
    }
    let bootstrap = deployment.bootstrap_addresses(|_, host| host.ip.to_string());
    for host in deployment.nodes() {
        let _ = writeln!(
            out,
            "  # Node {name}{region}: hosts users; the driver registers them over its API.\n  {service}:",
            name = host.name,
            region = region(host),
            service = quote(&host.name),
        );
        common(&mut out, &image, host);
        let _ = write!(
            out,
            "    command: {}\n\
             \x20   environment:\n\
             \x20     PARLEY_LOG: \"${{PARLEY_LOG:-info}}\"\n\
             \x20   # The driver starts once every node answers /health.\n\
             \x20   healthcheck:\n\
             \x20     test: [\"CMD\", \"curl\", \"-fsS\", \"-o\", \"/dev/null\", \"http://127.0.0.1:{HTTP_PORT}/health\"]\n\
             \x20     interval: 2s\n\
             \x20     timeout: 2s\n\
             \x20     retries: 30\n\
             \x20   volumes:\n\
             \x20     - \"./netem.sh:/netem/netem.sh:ro\"\n\
             \x20     - \"./links.tsv:/netem/links.tsv:ro\"\n\
             \x20     # The node's store, kept across a crash and restart (docker compose kill / start).\n\
             \x20     - {}\n",
            list(node_command(host, &bootstrap)),
            quote(&format!("{}-data:/data", host.name)),
        );
        network(&mut out, &host.ip.to_string());
    }
    driver(&mut out, &image, deployment);
    out.push_str("volumes:\n");
    for host in deployment.nodes() {
        let _ = writeln!(out, "  {}: {{}}", quote(&format!("{}-data", host.name)));
    }
    let _ = write!(
        out,
        "\nnetworks:\n\
         \x20 # A fixed subnet, so each container has the address links.tsv and the nodes' --bootstrap name.\n\
         \x20 {NETWORK}:\n\
         \x20   ipam:\n\
         \x20     config:\n\
         \x20       - subnet: {}\n",
        quote(SUBNET)
    );
    out
}

/// What every parley service has: the image, root and NET_ADMIN for netem.sh, which is the entrypoint.
fn common(out: &mut String, image: &str, host: &Host) {
    let _ = write!(
        out,
        "    image: {image}\n\
         \x20   # netem.sh needs root and NET_ADMIN for tc; it starts parley as uid 10001 with neither.\n\
         \x20   user: \"0:0\"\n\
         \x20   cap_add: [\"NET_ADMIN\"]\n\
         \x20   entrypoint: {}\n",
        list(["/netem/netem.sh", &host.name])
    );
}

/// `parley node …` as the engine configures its nodes, where the command line allows.
fn node_command(host: &Host, bootstrap: &[String]) -> Vec<String> {
    let mut command: Vec<String> = [
        "node",
        "--data-dir",
        "/data",
        "--http",
        &format!("0.0.0.0:{HTTP_PORT}"),
        "--p2p",
        &format!("/ip4/0.0.0.0/udp/{NODE_P2P_PORT}/quic-v1"),
        "--name",
        &host.name,
        // A simulation measures the federation, not per-user request budgets (the driver registers
        // every user from one address).
        "--rate-limits",
        "off",
        // As the in-process engine: a healed or restarted peer is retried within 5 s.
        "--outbox-max-backoff",
        "5",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    for address in bootstrap {
        command.push("--bootstrap".to_owned());
        command.push(address.clone());
    }
    command
}

fn driver(out: &mut String, image: &str, deployment: &Deployment) {
    let mut command: Vec<String> = ["simulate", "drive", "/scenario.toml"].map(str::to_owned).to_vec();
    for host in deployment.nodes() {
        command.push("--node".to_owned());
        command.push(format!("{0}=http://{0}:{HTTP_PORT}", host.name));
    }
    command.extend(["--out", "/results"].map(str::to_owned));
    let _ = write!(
        out,
        "  # The workload driver: registers the scenario's users, creates its conversations and sends its\n\
         \x20 # messages through the nodes' APIs, as the in-process engine's clients do, and writes\n\
         \x20 # summary.json, deliveries.csv, timeseries.csv, the plots and index.html to ./results.\n\
         \x20 {DRIVER}:\n\
         \x20   image: {image}\n\
         \x20   # Root only so it can write the bind-mounted ./results whoever owns it on the host.\n\
         \x20   user: \"0:0\"\n\
         \x20   command: {}\n\
         \x20   volumes:\n\
         \x20     - \"./scenario.toml:/scenario.toml:ro\"\n\
         \x20     - \"./results:/results\"\n\
         \x20   depends_on:\n",
        list(&command)
    );
    for host in deployment.nodes() {
        let _ = writeln!(out, "      {}:\n        condition: service_healthy", quote(&host.name));
    }
    network(out, &DRIVER_IP.to_string());
}

fn network(out: &mut String, ip: &str) {
    let _ = write!(
        out,
        "    networks:\n      {NETWORK}:\n        ipv4_address: {}\n\n",
        quote(ip)
    );
}

fn region(host: &Host) -> String {
    host.region
        .as_ref()
        .map_or_else(String::new, |region| format!(" (region {region})"))
}
