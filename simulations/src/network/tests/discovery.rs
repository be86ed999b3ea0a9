//! Nodes find each other's addresses as Parley nodes do: identify tells each side the other's listen
//! addresses, which go to Kademlia, whose lookups then dial peers never dialed by hand.

use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, kad};

use super::*;

#[derive(NetworkBehaviour)]
struct Discovery {
    identify: identify::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
}

fn discovery_node(network: &SimNetwork, index: usize) -> Swarm<Discovery> {
    let keypair = Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut kad = kad::Behaviour::new(peer, kad::store::MemoryStore::new(peer));
    kad.set_mode(Some(kad::Mode::Server));
    let identify = identify::Behaviour::new(identify::Config::new("/parley-sim-test/id/1".into(), keypair.public()));
    let config = swarm::Config::with_tokio_executor().with_idle_connection_timeout(Duration::from_secs(60));
    let transport = network.transport(index, &keypair);
    let mut swarm = Swarm::new(transport, Discovery { identify, kad }, peer, config);
    swarm.listen_on(network.address(index)).unwrap();
    swarm
}

/// Gives Kademlia the listen addresses identify reports, as the node's event loop does.
fn learn(swarm: &mut Swarm<Discovery>, event: &SwarmEvent<DiscoveryEvent>) {
    if let SwarmEvent::Behaviour(DiscoveryEvent::Identify(identify::Event::Received { peer_id, info, .. })) = event {
        for address in &info.listen_addrs {
            swarm.behaviour_mut().kad.add_address(peer_id, address.clone());
        }
    }
}

async fn serve(mut swarm: Swarm<Discovery>) {
    loop {
        let event = swarm.select_next_some().await;
        learn(&mut swarm, &event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kademlia_dials_addresses_learnt_from_peers() {
    let network = SimNetwork::new(12, link(5, 0));
    let (hub, mut one, mut two) = (
        discovery_node(&network, 0),
        discovery_node(&network, 1),
        discovery_node(&network, 2),
    );
    let (hub_peer, two_peer) = (*hub.local_peer_id(), *two.local_peer_id());
    one.dial(network.address(0).with(Protocol::P2p(hub_peer))).unwrap();
    two.dial(network.address(0).with(Protocol::P2p(hub_peer))).unwrap();
    let servers = [tokio::spawn(serve(hub)), tokio::spawn(serve(two))];

    // The hub may not have identified node 2 yet when node 1 asks it: ask again until it has.
    let found = async {
        loop {
            let event = one.select_next_some().await;
            learn(&mut one, &event);
            match event {
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } if peer_id == two_peer => {
                    return endpoint.get_remote_address().clone();
                }
                SwarmEvent::Behaviour(DiscoveryEvent::Identify(identify::Event::Received { peer_id, .. }))
                    if peer_id == hub_peer =>
                {
                    one.behaviour_mut().kad.get_closest_peers(two_peer);
                }
                SwarmEvent::Behaviour(DiscoveryEvent::Kad(kad::Event::OutboundQueryProgressed { step, .. }))
                    if step.last =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    one.behaviour_mut().kad.get_closest_peers(two_peer);
                }
                _ => {}
            }
        }
    };
    let address = timeout(WAIT, found).await.expect("timed out");
    assert_eq!(
        address.iter().take(1).collect::<Multiaddr>(),
        network.address(2),
        "{address}"
    );
    servers.iter().for_each(tokio::task::JoinHandle::abort);
}
