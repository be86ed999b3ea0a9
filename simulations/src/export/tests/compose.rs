//! The Compose export of each example, parsed back.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{EXAMPLES, check_syntax, exported, peer_id_of_key, yaml_documents};
use crate::export::Target;
use crate::scenario::FaultKind;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_node_and_bootstrap_node_is_a_service_shaped_by_netem_and_the_driver_depends_on_every_node() {
    for name in EXAMPLES {
        let (out, scenario) = exported(name, Target::Compose);
        let compose = yaml_documents(&out.path().join("docker-compose.yml")).remove(0);
        let services = compose["services"].as_object().unwrap();
        let nodes = scenario.nodes();
        let hosts: Vec<&String> = nodes.bootstrap().iter().chain(nodes.names()).collect();
        assert_eq!(services.len(), hosts.len() + 1, "{name}: one per host and the driver");
        let mut addresses = BTreeSet::new();
        for host in &hosts {
            let service = &services[host.as_str()];
            assert_eq!(strings(&service["cap_add"]), ["NET_ADMIN"], "{name}/{host}");
            assert_eq!(strings(&service["entrypoint"]), ["/netem/netem.sh", host.as_str()]);
            let ip = service["networks"]["parley"]["ipv4_address"].as_str().unwrap();
            assert!(ip.starts_with("10.77."), "{ip}");
            assert!(addresses.insert(ip.to_owned()), "{name}: {ip} twice");
        }
        // Nodes name each bootstrap node by the address of its service and the PeerId of its key.
        let mut expected = Vec::new();
        for bootstrap in nodes.bootstrap() {
            let ip = services[bootstrap.as_str()]["networks"]["parley"]["ipv4_address"]
                .as_str()
                .unwrap();
            let peer = peer_id_of_key(&out.path().join(format!("keys/{bootstrap}.key")));
            expected.push(format!("/ip4/{ip}/udp/4001/quic-v1/p2p/{peer}"));
            let command = strings(&services[bootstrap.as_str()]["command"]);
            assert_eq!(command[..3], ["bootstrap", "--key-file", "/data/bootstrap.key"]);
        }
        for node in nodes.names() {
            let command = strings(&services[node.as_str()]["command"]);
            assert_eq!(command[0], "node");
            let given: Vec<String> = command
                .windows(2)
                .filter(|pair| pair[0] == "--bootstrap")
                .map(|pair| pair[1].clone())
                .collect();
            assert_eq!(given, expected, "{name}/{node}");
            assert!(command.windows(2).any(|pair| pair == ["--name", node.as_str()]));
            let health = strings(&services[node.as_str()]["healthcheck"]["test"]);
            assert!(health.last().unwrap().ends_with("/health"));
        }
        let driver = &services["driver"];
        let command = strings(&driver["command"]);
        assert_eq!(command[..3], ["simulate", "drive", "/scenario.toml"]);
        assert_eq!(command[command.len() - 2..], ["--out", "/results"]);
        for node in nodes.names() {
            let url = format!("{node}=http://{node}:8080");
            assert!(
                command.windows(2).any(|pair| pair == ["--node", url.as_str()]),
                "{name}: {url}"
            );
            assert_eq!(driver["depends_on"][node.as_str()]["condition"], "service_healthy");
        }
        // links.tsv: a line per ordered pair, addressed to the destination's service address.
        let links = std::fs::read_to_string(out.path().join("links.tsv")).unwrap();
        let lines: Vec<&str> = links.lines().filter(|line| !line.starts_with('#')).collect();
        assert_eq!(lines.len(), hosts.len() * (hosts.len() - 1), "{name}");
        for line in lines {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "{line}");
            assert!(addresses.contains(fields[2]), "{line}");
            assert!(fields[4].starts_with("delay "), "{line}");
        }
    }
}

#[test]
fn every_fault_is_in_faults_sh_and_the_scripts_parse() {
    for name in EXAMPLES {
        let (out, scenario) = exported(name, Target::Compose);
        let faults = std::fs::read_to_string(out.path().join("faults.sh")).unwrap();
        check_syntax("bash", &faults, &format!("{name}/faults.sh"));
        let netem = std::fs::read_to_string(out.path().join("netem.sh")).unwrap();
        check_syntax("sh", &netem, "netem.sh");
        let readme = std::fs::read_to_string(out.path().join("README.md")).unwrap();
        let nodes = scenario.nodes();
        for (index, fault) in scenario.faults().iter().enumerate() {
            assert!(
                faults.contains(&format!("# faults[{index}]\n")),
                "{name}: faults[{index}]"
            );
            assert!(
                readme.contains(&format!("`faults[{index}]`")),
                "{name}: faults[{index}] in README"
            );
            match &fault.kind {
                FaultKind::Crash { node, .. } => {
                    let node = &nodes.names()[*node];
                    assert!(faults.contains(&format!("compose kill -s SIGKILL {node}\n")));
                    assert!(faults.contains(&format!("compose start {node}\n")));
                }
                FaultKind::BootstrapDown { bootstrap, .. } => {
                    let node = &nodes.bootstrap()[*bootstrap];
                    assert!(faults.contains(&format!("compose kill -s SIGKILL {node}\n")));
                }
                FaultKind::Partition { .. } => {
                    assert!(faults.contains("prio 1 u32 match ip dst"));
                    assert!(faults.contains("tc filter del dev \"$dev\" parent 1: prio 1"));
                }
                FaultKind::Link { change, .. } => {
                    let latency = change.latency.unwrap().as_millis();
                    assert!(faults.contains(&format!("netem delay {latency}ms")), "{name}");
                }
                FaultKind::Flood { .. } | FaultKind::Forge { .. } => {
                    assert!(faults.contains("not injected"));
                    assert!(readme.contains("not injected: no hostile node"));
                }
            }
        }
        #[cfg(unix)]
        for script in ["faults.sh", "netem.sh"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.path().join(script)).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{script} is executable");
        }
    }
}
