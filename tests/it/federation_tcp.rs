//! Federation where UDP is blocked: two hosts (network namespaces) whose firewalls drop every UDP
//! packet, a bootstrap node and a `parley node` on each side offering QUIC and TCP. QUIC's attempts are
//! dropped, so everything (the DHT, name records, a DM and its messages both ways) goes over TCP.

use crate::federation::eventually;
use crate::federation_faults::{open_dm, register};
use crate::netns::{Host, link, quic_and_tcp};
use crate::support::*;

#[test]
fn nodes_federate_over_tcp_when_udp_is_blocked() {
    let (a, b) = (Host::new(), Host::new());
    link(&a, "10.77.0.1/24", &b, "10.77.0.2/24");
    a.block_udp();
    b.block_udp();
    let dirs = tempfile::tempdir().unwrap();
    let (_bootstrap, addresses) = a.start_bootstrap(&dirs.path().join("bootstrap"), &quic_and_tcp("10.77.0.1"), &[]);
    assert!(
        addresses.iter().any(|address| address.contains("/udp/")) && addresses.iter().any(|a| a.contains("/tcp/")),
        "the bootstrap node names an address of each transport: {addresses:?}"
    );
    let (_node_a, base_a) = a.start_node(
        "node-a",
        &dirs.path().join("a"),
        "10.77.0.1",
        &quic_and_tcp("10.77.0.1"),
        &addresses,
    );
    let (_node_b, base_b) = b.start_node(
        "node-b",
        &dirs.path().join("b"),
        "10.77.0.2",
        &quic_and_tcp("10.77.0.2"),
        &addresses,
    );

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
