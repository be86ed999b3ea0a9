//! Authentication on the simulated network: each side sends its public key and reads the other's, the
//! one round trip of libp2p's plaintext handshake without its framing codec. Plaintext hands the bytes
//! left over from its handshake on as a `Bytes` of the codec's 8 KiB read buffer, which then lives as
//! long as the connection: 6 KB of every connection end on average at the peak of a 100-node run, and
//! hundreds of thousands of ends are open at once while a thousand nodes join the DHT. Nothing here is
//! secret, as with plaintext: the simulation is not about transport encryption, and a node's envelopes
//! are signed anyway.

use std::io;
use std::iter;

use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};
use libp2p::futures::future::BoxFuture;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt};
use libp2p::identity::{Keypair, PeerId, PublicKey};

/// The longest encoded public key accepted (an Ed25519 key takes 36 bytes; RSA keys are the longest).
const MAX_KEY_BYTES: usize = 1024;

/// Tells the other end who we are; learns who it is.
#[derive(Clone)]
pub(super) struct KeyExchange {
    /// Our public key, protobuf-encoded, after its length (two bytes, big-endian): what we send.
    hello: Vec<u8>,
}

impl KeyExchange {
    pub(super) fn new(keypair: &Keypair) -> Self {
        let key = keypair.public().encode_protobuf();
        let length = u16::try_from(key.len()).expect("a public key is far shorter than 64 KiB");
        let mut hello = length.to_be_bytes().to_vec();
        hello.extend_from_slice(&key);
        Self { hello }
    }

    async fn exchange<C>(self, mut socket: C) -> io::Result<(PeerId, C)>
    where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        socket.write_all(&self.hello).await?;
        socket.flush().await?;
        let mut length = [0; 2];
        socket.read_exact(&mut length).await?;
        let length = usize::from(u16::from_be_bytes(length));
        if length > MAX_KEY_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the peer's public key is too long",
            ));
        }
        let mut key = vec![0; length];
        socket.read_exact(&mut key).await?;
        let key =
            PublicKey::try_decode_protobuf(&key).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        Ok((key.to_peer_id(), socket))
    }
}

impl UpgradeInfo for KeyExchange {
    type Info = &'static str;
    type InfoIter = iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        iter::once("/parley-simulation/key-exchange/1")
    }
}

impl<C> InboundConnectionUpgrade<C> for KeyExchange
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = (PeerId, C);
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<(PeerId, C)>>;

    fn upgrade_inbound(self, socket: C, _: Self::Info) -> Self::Future {
        self.exchange(socket).boxed()
    }
}

impl<C> OutboundConnectionUpgrade<C> for KeyExchange
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = (PeerId, C);
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<(PeerId, C)>>;

    fn upgrade_outbound(self, socket: C, _: Self::Info) -> Self::Future {
        self.exchange(socket).boxed()
    }
}
