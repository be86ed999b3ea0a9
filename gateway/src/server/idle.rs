//! A connection that fails once no byte has moved either way for a while: a client that stops reading
//! (its answers pile up in the socket buffer) or stops sending mid-request holds a file descriptor
//! otherwise forever. It wraps the socket itself, so an upgraded WebSocket is covered too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

/// `inner`, failing with `TimedOut` when a read or write waits longer than `timeout` past the last
/// byte moved. `guard` lives as long as the connection (an admission slot, released on drop).
pub(crate) struct IdleTimeout<T, G> {
    inner: T,
    timeout: Duration,
    last_progress: Instant,
    /// Armed lazily and moved forward only when it fires, so a busy connection does not touch the
    /// timer on every read.
    deadline: Pin<Box<Sleep>>,
    _guard: G,
}

impl<T, G> IdleTimeout<T, G> {
    pub(crate) fn new(inner: T, timeout: Duration, guard: G) -> Self {
        Self {
            inner,
            timeout,
            last_progress: Instant::now(),
            deadline: Box::pin(sleep(timeout)),
            _guard: guard,
        }
    }

    /// Called while the inner I/O is pending: whether the connection has now been idle too long.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_progress + self.timeout;
            if due <= Instant::now() {
                return true;
            }
            self.deadline.as_mut().reset(due);
        }
    }

    /// A write's outcome: bytes moved count as progress, and a wait past the deadline fails.
    fn wrote(&mut self, cx: &mut Context<'_>, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.last_progress = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no traffic for {} s", self.timeout.as_secs()),
        )
    }
}

impl<T: AsyncRead + Unpin, G: Unpin> AsyncRead for IdleTimeout<T, G> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.last_progress = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin, G: Unpin> AsyncWrite for IdleTimeout<T, G> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if flushed.is_pending() && self.expired(cx) {
            return Poll::Ready(Err(self.timed_out()));
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (near, mut far) = duplex(64);
        let mut near = IdleTimeout::new(near, Duration::from_secs(10), ());
        let mut byte = [0u8; 1];
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(7)).await;
            far.write_all(b"x").await.unwrap();
            near.read_exact(&mut byte).await.unwrap();
        }
        let err = near.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_times_out() {
        let (near, _far) = duplex(16);
        let mut near = IdleTimeout::new(near, Duration::from_secs(10), ());
        let err = near.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
