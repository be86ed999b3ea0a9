//! The accept loop: every connection is admitted against the caps, reads its request headers within a
//! deadline, and is closed once idle; accept failures (out of file descriptors) back off instead of
//! spinning. `axum::serve` does none of this, and a client that opens connections and says nothing
//! would otherwise lock everyone out.

mod admission;
mod idle;
mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use node::{ConnectionLimits, Services};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use admission::{Admission, Admitted, Refusal};
use idle::IdleTimeout;
pub use tls::Tls;

/// Serves the API on an already-bound listener until `shutdown` resolves, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_over(listener, services, None, shutdown).await
}

/// Serves the API as [`serve`] does, over TLS with `tls`'s certificate when given (HTTPS and `wss://`),
/// else in the clear.
pub async fn serve_over(
    listener: TcpListener,
    services: Arc<Services>,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = services.config.connections;
    let admission = Admission::new(limits, services.config.trusted_proxies.clone());
    let router = crate::app(services);
    let connections = TaskTracker::new();
    let (closing, closed) = watch::channel(());
    let mut failures = AcceptFailures::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                failures.recovered();
                accepted
            }
            Err(err) => {
                tokio::select! {
                    () = failures.back_off(err) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        match admission.admit(peer.ip()) {
            Ok(admitted) => {
                let connection = Connection {
                    peer,
                    admission: admission.clone(),
                    admitted,
                    limits,
                    tls: tls.clone(),
                };
                connections.spawn(connection.serve(stream, router.clone(), closed.clone()));
            }
            Err(refusal) => refuse(stream, peer, refusal, admission.open()),
        }
    }
    drop(listener);
    drop(closing);
    connections.close();
    connections.wait().await;
    Ok(())
}

struct Connection {
    peer: SocketAddr,
    admission: Arc<Admission>,
    admitted: Admitted,
    limits: ConnectionLimits,
    tls: Option<Arc<Tls>>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, router: Router, closing: watch::Receiver<()>) {
        let Self {
            peer,
            admission,
            admitted: Admitted { slot, evicted },
            limits,
            tls,
        } = self;
        // Small frames (a WebSocket ack) must not wait for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let id = slot.id();
        let stream = IdleTimeout::new(stream, limits.idle_timeout, slot);
        let open = Open {
            peer,
            admission,
            id,
            evicted,
            limits,
        };
        let Some(tls) = tls else {
            return open.serve(stream, router, closing).await;
        };
        // The handshake counts against the same deadline as a request's headers.
        let handshake = tokio::time::timeout(limits.header_read_timeout, tls.acceptor().accept(stream));
        let stream = tokio::select! {
            handshake = handshake => match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            () = open.evicted.cancelled() => return,
        };
        open.serve(stream, router, closing).await;
    }
}

/// An admitted connection whose stream is ready for HTTP, in the clear or after a TLS handshake.
struct Open {
    peer: SocketAddr,
    admission: Arc<Admission>,
    id: u64,
    evicted: tokio_util::sync::CancellationToken,
    limits: ConnectionLimits,
}

impl Open {
    /// HTTP/1.1, with upgrades for WebSockets.
    async fn serve<I>(self, stream: I, router: Router, mut closing: watch::Receiver<()>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            peer,
            admission,
            id,
            evicted,
            limits,
        } = self;
        let io = TokioIo::new(stream);
        let spoke = AtomicBool::new(false);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            if !spoke.swap(true, Ordering::Relaxed) {
                admission.spoke(id);
            }
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move { Ok::<_, Infallible>(router.call(request).await.unwrap_or_else(|never| match never {})) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = evicted.cancelled() => {
                tracing::debug!(%peer, "closed a silent connection to make room");
                return;
            }
            _ = closing.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            tracing::debug!(%peer, error = %err, "connection ended");
        }
    }
}

/// Answers with why, best-effort (the socket is fresh, its buffer empty), and closes.
fn refuse(stream: TcpStream, peer: SocketAddr, refusal: Refusal, open: usize) {
    let _ = stream.try_write(refusal.response());
    tracing::debug!(%peer, ?refusal, open, "connection refused");
}

/// Accept errors other than a client's reset are the node's own (out of file descriptors, usually):
/// retrying at once would spin, so the wait doubles up to a second, and the log says so once per run
/// of failures instead of every time.
#[derive(Default)]
struct AcceptFailures {
    count: u32,
    since: Option<Instant>,
}

impl AcceptFailures {
    const FIRST_WAIT: Duration = Duration::from_millis(5);
    const LONGEST_WAIT: Duration = Duration::from_secs(1);

    async fn back_off(&mut self, err: io::Error) {
        if matches!(
            err.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
        ) {
            return;
        }
        if self.count == 0 {
            tracing::warn!(error = %err, "accepting connections failed; retrying with backoff");
            self.since = Some(Instant::now());
        }
        self.count += 1;
        let wait = Self::FIRST_WAIT
            .saturating_mul(1 << self.count.min(10))
            .min(Self::LONGEST_WAIT);
        tokio::time::sleep(wait).await;
    }

    fn recovered(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::warn!(
                failures = self.count,
                seconds = since.elapsed().as_secs(),
                "accepting connections again"
            );
        }
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_of_files() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[tokio::test(start_paused = true)]
    async fn failing_accepts_wait_longer_each_time_up_to_a_second() {
        let mut failures = AcceptFailures::default();
        let mut waits = Vec::new();
        for _ in 0..12 {
            let started = tokio::time::Instant::now();
            failures.back_off(out_of_files()).await;
            waits.push(started.elapsed());
        }
        assert_eq!(waits[0], Duration::from_millis(10));
        assert!(waits.windows(2).all(|pair| pair[1] >= pair[0]), "{waits:?}");
        assert_eq!(waits[11], AcceptFailures::LONGEST_WAIT);
        failures.recovered();
        let started = tokio::time::Instant::now();
        failures.back_off(out_of_files()).await;
        assert_eq!(started.elapsed(), Duration::from_millis(10), "a success starts over");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_resetting_its_connection_is_not_a_failure_of_ours() {
        let mut failures = AcceptFailures::default();
        let started = tokio::time::Instant::now();
        failures
            .back_off(io::Error::from(io::ErrorKind::ConnectionAborted))
            .await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(failures.count, 0);
    }
}
