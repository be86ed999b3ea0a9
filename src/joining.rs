//! `parley node` joining the federation: the federation's failures said in one line, with what to do,
//! before the node says it serves. A port in use and a name another node holds stop the start; no
//! bootstrap node answering does not (the node still serves its own users, and the DHT keeps trying
//! its bootstrap nodes), so it is a warning.

use std::sync::Arc;
use std::time::Duration;

use node::Services;
use node::federation::{Error, Handle, Joined};

/// How long the start waits for a bootstrap node and the check of the node's name. A bootstrap node
/// behind a firewall that drops packets fails only after QUIC's handshake timeout, within this.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// Starts the federation and waits, at most [`JOIN_WAIT`], to know whether it joined.
pub(crate) async fn start_federation(services: &Arc<Services>) -> anyhow::Result<Handle> {
    let federation = services.start_federation().map_err(|err| match err {
        Error::AddressInUse(_) => anyhow::anyhow!(
            "{err}: give this node other ports with --p2p, e.g. --p2p \
             /ip4/0.0.0.0/udp/4434/quic-v1,/ip4/0.0.0.0/tcp/4434"
        ),
        other => anyhow::Error::new(other),
    })?;
    let Some(client) = services.federation() else {
        return Ok(federation);
    };
    let name = client.local_node().await?.name;
    match tokio::time::timeout(JOIN_WAIT, client.join()).await {
        Ok(Ok(Joined::Alone | Joined::Joined)) => {}
        Ok(Ok(Joined::NameTaken(holder))) => {
            federation.shutdown().await;
            anyhow::bail!(
                "the name {name} belongs to another node of the federation ({holder}): start this node \
                 with another --name, or, if it is that node on a new machine, restore its node.key"
            );
        }
        Ok(Ok(Joined::Unreachable(why))) => warn(&format!("no bootstrap node could be reached ({why})")),
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => warn(&format!("no bootstrap node answered within {} s", JOIN_WAIT.as_secs())),
    }
    Ok(federation)
}

fn warn(what: &str) {
    eprintln!(
        "parley: warning: {what}: check the --bootstrap addresses and that those nodes' ports are open \
         (UDP for QUIC, TCP); this node serves its own users meanwhile and keeps trying"
    );
}
