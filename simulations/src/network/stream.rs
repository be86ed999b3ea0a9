//! One end of a simulated connection. Reads come straight from the in-memory channel; writes are
//! queued with the time the link model says they arrive, and a background task (the pump) puts each
//! into the channel at that time. So each side delays what it sends, and the other side simply reads.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use libp2p::core::transport::memory::Channel;
use libp2p::futures::io::{ReadHalf, WriteHalf};
use libp2p::futures::task::AtomicWaker;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::error::SimError;
use super::state::{Severable, Shared};

/// Bytes one direction of a connection holds before they arrive, beyond which writes wait: the
/// memory channel never pushes back, and a slow link must slow its writer as TCP's window does.
const MAX_IN_FLIGHT: usize = 1 << 20;

type Memory = Channel<Vec<u8>>;

/// What a connection end's stream, its pump and the network (to break it) share.
pub(super) struct Conn {
    id: u64,
    local: usize,
    remote: usize,
    network: Arc<Shared>,
    /// Bytes delivered from `local` to `remote`, shared by every connection between them.
    carried: Arc<AtomicU64>,
    broken: AtomicBool,
    reader: AtomicWaker,
    outbox: Mutex<Outbox>,
    /// Wakes the pump: a chunk was queued, the stream closed, or the connection broke.
    pump: Notify,
}

/// Written bytes on their way to the other side.
struct Outbox {
    /// Chunks and when each arrives, in order.
    chunks: VecDeque<(Instant, Vec<u8>)>,
    /// Bytes queued, plus those of the chunk being delivered.
    in_flight: usize,
    /// When the last queued chunk arrives; no later chunk arrives before it, so the stream stays in
    /// order and chunks share the bandwidth one after the other.
    last_arrival: Instant,
    /// The stream is closed or dropped: the pump stops once the queue is empty.
    closed: bool,
    /// A write waiting for room.
    writer: Option<Waker>,
}

/// What the pump does next.
enum Next {
    Deliver(Vec<u8>),
    WaitUntil(Instant),
    Idle,
    Stop,
}

impl Severable for Conn {
    fn nodes(&self) -> (usize, usize) {
        (self.local, self.remote)
    }

    /// Breaks this end, as a cut link does to a TCP connection: reads and writes fail from now on,
    /// and what was in flight is lost.
    fn sever(&self) {
        self.broken.store(true, Ordering::Release);
        self.reader.wake();
        let writer = self.outbox().writer.take();
        if let Some(writer) = writer {
            writer.wake();
        }
        self.pump.notify_one();
    }
}

impl Conn {
    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Nothing is left half-updated under the lock, so a poisoned one is still consistent.
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next(&self) -> Next {
        if self.is_broken() {
            return Next::Stop;
        }
        let mut outbox = self.outbox();
        if let Some(&(at, _)) = outbox.chunks.front()
            && at > Instant::now()
        {
            return Next::WaitUntil(at);
        }
        match outbox.chunks.pop_front() {
            Some((_, chunk)) => Next::Deliver(chunk),
            None if outbox.closed => Next::Stop,
            None => Next::Idle,
        }
    }

    fn delivered(&self, len: usize) {
        let writer = {
            let mut outbox = self.outbox();
            outbox.in_flight -= len;
            outbox.writer.take()
        };
        if let Some(writer) = writer {
            writer.wake();
        }
    }

    fn close(&self) {
        self.outbox().closed = true;
        self.pump.notify_one();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.network.forget(self.id);
    }
}

/// Delivers `conn`'s queued chunks into the memory channel, each at its arrival time, until the
/// stream is closed and drained or the connection breaks.
async fn pump(conn: Arc<Conn>, mut memory: WriteHalf<Memory>) {
    loop {
        match conn.next() {
            Next::Deliver(chunk) => {
                // Counted before the write completes, so a reader never sees bytes not yet counted.
                conn.carried.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if memory.write_all(&chunk).await.is_err() {
                    conn.sever();
                    return;
                }
                conn.delivered(chunk.len());
            }
            Next::WaitUntil(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = conn.pump.notified() => {}
                }
            }
            Next::Idle => conn.pump.notified().await,
            Next::Stop => return,
        }
    }
}

/// One end of a connection, as the upgrades (multistream-select, plaintext, yamux) see it.
pub(super) struct SimStream {
    conn: Arc<Conn>,
    memory: ReadHalf<Memory>,
}

impl SimStream {
    /// Starts the end's pump; fails outside a tokio runtime, or if the nodes are cut apart by now.
    pub(super) fn open(network: Arc<Shared>, local: usize, remote: usize, memory: Memory) -> Result<Self, SimError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let (id, carried) = network.new_end(local, remote);
        let conn = Arc::new(Conn {
            id,
            local,
            remote,
            network: network.clone(),
            carried,
            broken: AtomicBool::new(false),
            reader: AtomicWaker::new(),
            outbox: Mutex::new(Outbox {
                chunks: VecDeque::new(),
                in_flight: 0,
                last_arrival: Instant::now(),
                closed: false,
                writer: None,
            }),
            pump: Notify::new(),
        });
        if !network.register(id, &conn) {
            return Err(SimError::Cut { local, remote });
        }
        let (reader, writer) = memory.split();
        runtime.spawn(pump(conn.clone(), writer));
        Ok(Self { conn, memory: reader })
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.conn.close();
    }
}

fn severed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "the simulated link was cut")
}

impl AsyncRead for SimStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.conn.reader.register(cx.waker());
        if this.conn.is_broken() {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut this.memory).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let conn = &self.conn;
        let room = {
            let mut outbox = conn.outbox();
            if conn.is_broken() {
                return Poll::Ready(Err(severed()));
            }
            if outbox.closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let room = MAX_IN_FLIGHT.saturating_sub(outbox.in_flight);
            if room == 0 {
                outbox.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            room
        };
        let len = room.min(buf.len());
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let (propagation, transmission) = conn.network.delays(conn.local, conn.remote, len);
        {
            let mut outbox = conn.outbox();
            let arrival = outbox.last_arrival.max(Instant::now() + propagation) + transmission;
            outbox.last_arrival = arrival;
            outbox.in_flight += len;
            outbox.chunks.push_back((arrival, buf[..len].to_vec()));
        }
        conn.pump.notify_one();
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.is_broken() {
            return Poll::Ready(Err(severed()));
        }
        Poll::Ready(Ok(()))
    }

    /// Like closing a TCP socket: what is in flight still arrives, in the background.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.close();
        Poll::Ready(Ok(()))
    }
}
