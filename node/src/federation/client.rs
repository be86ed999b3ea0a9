//! The cloneable handle to the federation event loop: each call sends one command over a bounded channel
//! and waits for its oneshot reply, so callers never touch the swarm.

use libp2p::PeerId;
use protocol::federation::{NodeName, Request, Response};
use tokio::sync::{mpsc, oneshot};

use super::event_loop::Command;
use super::{Error, Joined, LocalNode, PeerInfo, ResolvedNode};
use crate::metrics::FederationCounters;

/// A handle to the running federation layer.
#[derive(Clone, Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    counters: FederationCounters,
}

impl Client {
    pub(crate) fn new(commands: mpsc::Sender<Command>, counters: FederationCounters) -> Self {
        Self { commands, counters }
    }

    /// This node's name, PeerId and listen addresses.
    pub async fn local_node(&self) -> Result<LocalNode, Error> {
        self.call(|reply| Command::LocalNode { reply }).await
    }

    /// The nodes this node knows of.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Error> {
        self.call(|reply| Command::Peers { reply }).await
    }

    /// Looks a node name up in the DHT, checks its signed record and dials the node.
    pub async fn resolve(&self, name: NodeName) -> Result<ResolvedNode, Error> {
        self.call(|reply| Command::Resolve { name, reply }).await?
    }

    /// Sends a request to a peer (dialing it if needed) and waits for its answer.
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, Error> {
        let kind = request.kind();
        let answer = self.call(|reply| Command::Request { peer, request, reply }).await?;
        let outcome = answer.as_ref().map_or("failed", Response::outcome);
        self.counters.request("out", kind, outcome);
        answer
    }

    /// How joining the federation went: waits until a bootstrap node answered (then checks that no
    /// other node holds this node's name) or every one failed. Callers bound the wait: a dial to an
    /// address that drops packets fails only after a transport's timeout.
    pub async fn join(&self) -> Result<Joined, Error> {
        self.call(|reply| Command::Join { reply }).await
    }

    /// Closes every connection to `peer`, as soon as the event loop gets to it.
    pub(crate) async fn disconnect(&self, peer: PeerId) -> Result<(), Error> {
        self.commands
            .send(Command::Disconnect { peer })
            .await
            .map_err(|_| Error::Stopped)
    }

    /// A client whose every delivery is accepted, with no network: for tests of what sends through it.
    /// Counts the requests.
    #[cfg(test)]
    pub(crate) fn accepting_every_delivery() -> (Self, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let (commands, mut incoming) = mpsc::channel(16);
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Some(command) = incoming.recv().await {
                if let Command::Request {
                    request: Request::Deliver { envelopes },
                    reply,
                    ..
                } = command
                {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = reply.send(Ok(Response::Accepted {
                        applied: envelopes.len() as u32,
                        rejected: Vec::new(),
                        refused_submissions: Vec::new(),
                    }));
                }
            }
        });
        (Self::new(commands, FederationCounters::default()), requests)
    }

    async fn call<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }
}
