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
