//! Federation between nodes behind NAT: each node on a private network behind its own NAT (a
//! namespace that masquerades), a bootstrap node that relays (`--relay`) on the "internet" between
//! them. Each node learns from the bootstrap node's AutoNAT probes that it cannot be dialled, listens
//! through the relay and publishes that address; the first node to reach the other does so through
//! the relay, and DCUtR then punches through both NATs for a direct connection. Behind NATs that map
//! every destination to a new port (`--random-fully`, as symmetric NATs do) hole punching cannot work,
//! and the nodes keep talking through the relay.
//!
//! The "internet" uses addresses AutoNAT counts as global (11.0.0.0/8): with private ones the
//! bootstrap node would refuse to probe, as it should on the real internet. The namespaces have no
//! route out, so nothing leaves the machine. The test's own client reaches each node's API over a
//! separate control link that routes nowhere else.

use std::time::{Duration, Instant};

use crate::federation::eventually;
use crate::federation_faults::{open_dm, register};
use crate::netns::{Host, Running, link, quic_and_tcp};
use crate::support::*;

/// Messages timed each way for the latency figures.
const TIMED: usize = 30;

/// How a NAT maps its private side's connections.
#[derive(Clone, Copy)]
enum Mapping {
    /// Linux's masquerade: a private port keeps its public port whatever the destination, so a
    /// peer that learnt it from the relay can reach it once both sides have sent.
    PortPreserving,
    /// A random public port per connection: what the relay observed is useless to anyone else.
    Random,
}

/// Two nodes behind NATs, the relaying bootstrap node between them, and a control host for the test.
struct Nets {
    control: Host,
    _hosts: Vec<Host>,
    _processes: Vec<Running>,
    _dirs: tempfile::TempDir,
    base_a: String,
    base_b: String,
}

fn build(mapping: Mapping) -> Nets {
    let (relay, nat_a, a, nat_b, b, control) = (
        Host::new(),
        Host::new(),
        Host::new(),
        Host::new(),
        Host::new(),
        Host::new(),
    );
    link(&nat_a, "11.0.1.2/24", &relay, "11.0.1.1/24");
    link(&nat_b, "11.0.2.2/24", &relay, "11.0.2.1/24");
    relay.forward();
    let random = match mapping {
        Mapping::PortPreserving => "",
        Mapping::Random => " --random-fully",
    };
    for (nat, host, subnet, wan_gateway) in [
        (&nat_a, &a, "192.168.1", "11.0.1.1"),
        (&nat_b, &b, "192.168.2", "11.0.2.1"),
    ] {
        link(host, &format!("{subnet}.2/24"), nat, &format!("{subnet}.1/24"));
        host.sh(&format!("ip route add default via {subnet}.1"));
        nat.forward();
        // Like a home router, it drops what the internet sends it unasked. That matters: a hole
        // punch's packet arriving before its own outgoing one would otherwise leave a connection
        // entry for the router itself that makes the masquerade pick another port for the punch.
        nat.sh(&format!(
            "ip route add default via {wan_gateway} && \
             iptables -t nat -A POSTROUTING -s {subnet}.0/24 -j MASQUERADE{random} && \
             iptables -A INPUT ! -s {subnet}.0/24 -m conntrack --ctstate NEW -j DROP"
        ));
    }
    link(&control, "10.99.1.1/24", &a, "10.99.1.2/24");
    link(&control, "10.99.2.1/24", &b, "10.99.2.2/24");

    let dirs = tempfile::tempdir().unwrap();
    let (bootstrap, addresses) =
        relay.start_bootstrap(&dirs.path().join("bootstrap"), &quic_and_tcp("11.0.1.1"), &["--relay"]);
    let (node_a, base_a) = a.start_node(
        "node-a",
        &dirs.path().join("a"),
        "10.99.1.2",
        &quic_and_tcp("192.168.1.2"),
        &addresses,
    );
    let (node_b, base_b) = b.start_node(
        "node-b",
        &dirs.path().join("b"),
        "10.99.2.2",
        &quic_and_tcp("192.168.2.2"),
        &addresses,
    );
    Nets {
        control,
        _hosts: vec![relay, nat_a, a, nat_b, b],
        _processes: vec![bootstrap, node_a, node_b],
        _dirs: dirs,
        base_a,
        base_b,
    }
}

/// Waits until `user`'s node knows it is behind NAT and listens through the relay.
async fn listens_through_relay(user: &User) {
    eventually(
        "the node to find itself behind NAT and listen through the relay",
        || async {
            let node = assert_ok(user.api.get("/v1/federation/node").await, StatusCode::OK);
            let relayed = node["listen_addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|address| address.as_str().unwrap().contains("/p2p-circuit"));
            (node["reachability"] == "private" && relayed).then_some(())
        },
    )
    .await;
}

/// How `user`'s node is connected to `node`: `Some(relayed)` while connected.
async fn connection_to(user: &User, node: &str) -> Option<bool> {
    let peers = assert_ok(user.api.get("/v1/federation/peers").await, StatusCode::OK);
    peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|peer| peer["name"] == node && peer["connected"] == true)
        .map(|peer| peer["relayed"].as_bool().unwrap())
}

/// Ann sends `TIMED` messages one at a time, each once Bob's socket showed the last: the median and
/// maximum milliseconds from send to Bob's socket.
async fn time_deliveries(ann: &User, bob: &User, bob_ws: &mut Ws, dm: &str, label: &str) -> (f64, f64) {
    let mut times = Vec::with_capacity(TIMED);
    for n in 0..TIMED {
        let started = Instant::now();
        let sent = send_text(ann, dm, &[bob], &format!("{label} {n}"), &format!("{label}-{n}")).await;
        assert_eq!(sent.0, StatusCode::CREATED, "{}", sent.1);
        let frame = bob_ws.expect("message:new").await;
        assert!(content(&frame).starts_with(&format!("{label} {n} for")));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[TIMED / 2], times[TIMED - 1])
}

/// Registers Ann on node-a and Bob on node-b, waits for both to listen through the relay, opens their
/// DM and checks a message each way arrives.
async fn converse(nets: &Nets) -> (User, User, String) {
    let ann = register(&nets.base_a, "ann").await;
    let bob = register(&nets.base_b, "bob").await;
    listens_through_relay(&ann).await;
    listens_through_relay(&bob).await;
    let dm = open_dm(&ann, &bob).await;
    let sent = send_text(&ann, &dm, &[&bob], "through the nats", "c1").await;
    assert_eq!(assert_ok(sent, StatusCode::CREATED)["sequence_number"], 1);
    let reply = send_text(&bob, &dm, &[&ann], "and back", "c2").await;
    assert_eq!(assert_ok(reply, StatusCode::CREATED)["sequence_number"], 2);
    eventually("both messages on node-b", || async {
        let page = assert_ok(
            bob.api.get(&format!("/v1/messages?conversation_id={dm}")).await,
            StatusCode::OK,
        );
        (page["messages"].as_array().unwrap().len() == 2).then_some(())
    })
    .await;
    (ann, bob, dm)
}

#[test]
fn nodes_behind_nats_reach_each_other_through_the_relay_then_directly() {
    let nets = build(Mapping::PortPreserving);
    nets.control.block_on(async {
        let (ann, bob, dm) = converse(&nets).await;
        eventually("a direct connection between the nodes after hole punching", || async {
            (connection_to(&ann, "node-b").await == Some(false)).then_some(())
        })
        .await;
        assert_eq!(
            connection_to(&bob, "node-a").await,
            Some(false),
            "node-b sees it direct too"
        );
        let mut bob_ws = Ws::connect(&format!("{}?token={}", ws_url(&nets.base_b), bob.token)).await;
        bob_ws.sync().await;
        let (median, max) = time_deliveries(&ann, &bob, &mut bob_ws, &dm, "direct").await;
        eprintln!("cross-node delivery, direct after hole punching: median {median:.2} ms, max {max:.2} ms");
    });
}

#[test]
fn nodes_behind_nats_that_defeat_hole_punching_stay_on_the_relay() {
    let nets = build(Mapping::Random);
    nets.control.block_on(async {
        let (ann, bob, dm) = converse(&nets).await;
        // DCUtR tries three times within a few seconds; behind these NATs every try fails.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(connection_to(&ann, "node-b").await, Some(true), "still relayed");
        let mut bob_ws = Ws::connect(&format!("{}?token={}", ws_url(&nets.base_b), bob.token)).await;
        bob_ws.sync().await;
        let (median, max) = time_deliveries(&ann, &bob, &mut bob_ws, &dm, "relayed").await;
        eprintln!("cross-node delivery through the relay: median {median:.2} ms, max {max:.2} ms");
        assert_eq!(connection_to(&ann, "node-b").await, Some(true), "still relayed");
    });
}

/// The WebSocket URL of the API at `base`.
fn ws_url(base: &str) -> String {
    format!("{}/v1/ws", base.replacen("http", "ws", 1))
}
