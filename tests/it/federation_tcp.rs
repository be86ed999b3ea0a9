//! Federation where UDP is blocked: two hosts (network namespaces) whose firewalls drop every UDP
//! packet, a bootstrap node and a `parley node` on each side offering QUIC and TCP. QUIC's attempts are
//! dropped, so everything (the DHT, name records, a DM and its messages both ways) goes over TCP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use crate::federation::eventually;
use crate::federation_faults::{open_dm, register};
use crate::netns::{Host, link};
use crate::support::*;

/// A process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Listen addresses on both transports at `ip`, on ports the system picks.
fn quic_and_tcp(ip: &str) -> String {
    format!("/ip4/{ip}/udp/0/quic-v1,/ip4/{ip}/tcp/0")
}

/// Starts `parley bootstrap` on `host` and returns it with the addresses it prints for nodes.
fn start_bootstrap_on(host: &Host, ip: &str, dir: &Path) -> (Running, Vec<String>) {
    let mut child = host
        .command(env!("CARGO_BIN_EXE_parley"))
        .args(["bootstrap", "--log", "warn", "--key-file"])
        .arg(dir.join("bootstrap.key"))
        .args(["--listen", &quic_and_tcp(ip)])
        .stdout(Stdio::piped())
        .spawn()
        .expect("parley bootstrap starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let running = Running(child);
    let mut lines = stdout.lines().map_while(Result::ok);
    let mut addresses = Vec::new();
    for line in lines.by_ref() {
        if let Some(address) = line.trim().strip_prefix("--bootstrap ") {
            addresses.push(address.to_owned());
            if addresses.len() == 2 {
                break;
            }
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (running, addresses)
}

/// Starts `parley node` named `name` on `host`, its API and federation at `ip`; returns its API URL.
fn start_node_on(host: &Host, ip: &str, name: &str, dir: &Path, bootstrap: &[String]) -> (Running, String) {
    let mut command = host.command(env!("CARGO_BIN_EXE_parley"));
    command
        .args([
            "node",
            "--http",
            &format!("{ip}:0"),
            "--registration",
            "open",
            "--dev",
            "--rate-limits",
            "off",
        ])
        .args(["--log", "warn"])
        .args([
            "--name",
            name,
            "--p2p",
            &quic_and_tcp(ip),
            "--bootstrap",
            &bootstrap.join(","),
        ])
        .arg("--data-dir")
        .arg(dir);
    let (child, base) = spawn_node(command);
    let running = Running(child);
    (running, base.unwrap_or_else(|| panic!("{name} exited before serving")))
}

#[test]
fn nodes_federate_over_tcp_when_udp_is_blocked() {
    let (a, b) = (Host::new(), Host::new());
    link(&a, "10.77.0.1/24", &b, "10.77.0.2/24");
    a.block_udp();
    b.block_udp();
    let dirs = tempfile::tempdir().unwrap();
    for dir in ["bootstrap", "a", "b"] {
        std::fs::create_dir(dirs.path().join(dir)).unwrap();
    }
    let (_bootstrap, addresses) = start_bootstrap_on(&a, "10.77.0.1", &dirs.path().join("bootstrap"));
    assert!(
        addresses.iter().any(|address| address.contains("/udp/")) && addresses.iter().any(|a| a.contains("/tcp/")),
        "the bootstrap node names an address of each transport: {addresses:?}"
    );
    let (_node_a, base_a) = start_node_on(&a, "10.77.0.1", "node-a", &dirs.path().join("a"), &addresses);
    let (_node_b, base_b) = start_node_on(&b, "10.77.0.2", "node-b", &dirs.path().join("b"), &addresses);

    // The test's own requests leave from host a, as a client of node-a would; node-b's API is reached
    // over the link (TCP, which the firewalls let through).
    a.block_on(async {
        let ann = register(&base_a, "ann").await;
        let bob = register(&base_b, "bob").await;
        let dm = open_dm(&ann, &bob).await;
        let sent = assert_ok(
            send_text(&ann, &dm, &[&bob], "over tcp", "c1").await,
            StatusCode::CREATED,
        );
        assert_eq!(sent["sequence_number"], 1);
        eventually("ann's message to reach node-b", || async {
            let page = assert_ok(
                bob.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
                StatusCode::OK,
            );
            (page["messages"].as_array().unwrap().len() == 1).then_some(())
        })
        .await;
        // And back: bob's reply is submitted to the host, node-a, over the same connection.
        let reply = assert_ok(
            send_text(&bob, &dm, &[&ann], "and back", "c2").await,
            StatusCode::CREATED,
        );
        assert_eq!(reply["sequence_number"], 2);
    });
    assert!(
        a.dropped_udp_packets() + b.dropped_udp_packets() > 0,
        "QUIC was tried, and its packets dropped"
    );
}
