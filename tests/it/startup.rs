//! `parley node` refusing to start says why and what to do, in one line, and never claims to be
//! serving first.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{node_command_on, output_within, spawn_node};

/// Runs a node that must fail to start; returns its stdout and stderr.
fn refused(command: &mut Command) -> (String, String) {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parley starts");
    let output = output_within(child, Duration::from_secs(60), "the refused node");
    assert!(!output.status.success(), "the node should have refused to start");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A UDP port nobody holds right now.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_federation_port_in_use_is_named_with_what_to_do() {
    let first_dir = tempfile::tempdir().unwrap();
    let p2p = format!("/ip4/127.0.0.1/udp/{}/quic-v1", free_udp_port());
    let (mut first, url) = spawn_node(node_command_on(first_dir.path(), &p2p));
    assert!(url.is_some(), "the first node serves");

    let second_dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = refused(&mut node_command_on(second_dir.path(), &p2p));
    first.kill().unwrap();
    let _ = first.wait();
    assert_names_the_taken_address(&stdout, &stderr, &p2p, "--p2p");
}

#[test]
fn an_http_port_in_use_is_named_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args([
            "node",
            "--http",
            &address,
            "--p2p",
            "/ip4/127.0.0.1/udp/0/quic-v1",
            "--data-dir",
        ])
        .arg(dir.path());
    let (stdout, stderr) = refused(&mut command);
    assert_names_the_taken_address(&stdout, &stderr, &address, "--http");
}

/// The node never said it was serving, and its one error line names `address` and the `flag` to change.
fn assert_names_the_taken_address(stdout: &str, stderr: &str, address: &str, flag: &str) {
    assert!(!stdout.contains("serving"), "claimed to serve: {stdout}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("parley: "))
        .unwrap_or_default();
    assert!(line.contains(&format!("{address} is already in use")), "{stderr}");
    assert!(line.contains(flag), "says what to do: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_another_node_holds_is_refused_with_what_to_do() {
    use crate::federation::{LOCAL_QUIC, resolve, start_bootstrap, start_node};
    let bootstrap = start_bootstrap().await;
    let _holder = start_node("node-x", &bootstrap.address).await;
    // Once a third node finds node-x, its record is in the DHT for any node to find.
    let observer = start_node("observer", &bootstrap.address).await;
    resolve(&observer, "node-x").await;

    let dir = tempfile::tempdir().unwrap();
    let mut impostor = node_command_on(dir.path(), LOCAL_QUIC);
    impostor.args(["--name", "node-x", "--bootstrap", &bootstrap.address.to_string()]);
    let (stdout, stderr) = tokio::task::spawn_blocking(move || refused(&mut impostor))
        .await
        .unwrap();
    assert!(!stdout.contains("serving"), "claimed to serve: {stdout}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("parley: "))
        .unwrap_or_default();
    assert!(line.contains("the name node-x belongs to another node"), "{stderr}");
    assert!(line.contains("--name"), "says what to do: {stderr}");
}

#[test]
fn an_unreachable_bootstrap_node_is_named_before_the_node_serves() {
    // A TCP port nobody listens on: the dial is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bootstrap = format!("/ip4/127.0.0.1/tcp/{closed}/p2p/{}", libp2p::PeerId::random());
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = node_command_on(dir.path(), "/ip4/127.0.0.1/udp/0/quic-v1");
    let mut child = command
        .args(["--bootstrap", &bootstrap])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .expect("parley starts");
    drop(command);
    // Both streams in one pipe, in the order they were written.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(reader));
    let mut before = Vec::new();
    let serving = loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("serving") => break line,
            Some(Ok(line)) => before.push(line),
            _ => panic!("the node ended without serving: {before:?}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let warning = before
        .iter()
        .find(|line| line.starts_with("parley: warning: no bootstrap node could be reached"))
        .unwrap_or_else(|| panic!("a warning before {serving:?}: {before:?}"));
    assert!(
        warning.contains(&format!("/tcp/{closed}")),
        "names the address tried: {warning}"
    );
    assert!(warning.contains("--bootstrap"), "says what to do: {warning}");
}
