//! Connection-flood probe: holds many TCP connections to a running node (silent, or a header that
//! never ends, from one loopback address or many) and measures how `GET /ping` and a login answer
//! meanwhile, and how fast the node gets rid of the held connections.
//!
//! Start the node to test first, e.g. with the file limit of a default Debian session:
//! `bash -c 'ulimit -n 1024; exec target/release/parley node --data-dir /tmp/flood --http 127.0.0.1:8090'`
//! then `PARLEY_FLOOD_TARGET=127.0.0.1:8090 cargo bench --bench flood`. Settings (environment):
//! `PARLEY_FLOOD_CONNECTIONS` (default 1100), `PARLEY_FLOOD_ADDRESSES` (how many loopback source
//! addresses, 127.0.0.2 upwards; default 1), `PARLEY_FLOOD_KIND` (`idle`, `slowloris` or `both`,
//! default `both`), `PARLEY_FLOOD_HOLD_SECS` (how long to watch, default 45). The probes come from
//! 127.0.0.1, so the per-address cap does not hide the total's effect when `ADDRESSES` is large.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One held connection: whether the node has closed it yet, and when.
struct Held {
    stream: Option<TcpStream>,
    closed_after: Option<Duration>,
}

async fn open(source: &str, target: SocketAddr, slowloris: bool) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("a source address"))?;
    let mut stream = socket.connect(target).await?;
    if slowloris {
        stream.write_all(b"GET /ping HTTP/1.1\r\nHost: flood\r\nX-a: ").await?;
    }
    Ok(stream)
}

/// Marks every connection the node closed since the last look (a read that ends or fails at once).
async fn sweep(held: &mut [Held], started: Instant) {
    for connection in held.iter_mut().filter(|c| c.stream.is_some()) {
        let stream = connection.stream.as_mut().expect("filtered");
        let mut buffer = [0u8; 512];
        let closed = match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => true,
            Ok(Ok(_)) => {
                // An answer (a refusal, or a timeout's 408): the close follows it.
                matches!(
                    tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buffer)).await,
                    Ok(Ok(0) | Err(_))
                )
            }
            Err(_) => false,
        };
        if closed {
            connection.stream = None;
            connection.closed_after = Some(started.elapsed());
        }
    }
}

/// One request on a fresh connection from 127.0.0.1: milliseconds and the answer's status code;
/// `None` past 5 s or on failure.
async fn probe(target: SocketAddr, request: &[u8]) -> Option<(f64, String)> {
    let started = Instant::now();
    let attempt = async {
        let mut stream = open("127.0.0.1", target, false).await.ok()?;
        stream.write_all(request).await.ok()?;
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).await.ok()?;
        let status: String = String::from_utf8_lossy(&answer[..n]).chars().skip(9).take(3).collect();
        (n > 0).then_some(status)
    };
    let status = tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()?;
    Some((started.elapsed().as_secs_f64() * 1000.0, status))
}

fn summary(label: &str, samples: &[Option<(f64, String)>]) {
    let mut answered: Vec<f64> = samples.iter().flatten().map(|(ms, _)| *ms).collect();
    answered.sort_by(f64::total_cmp);
    let median = answered.get(answered.len() / 2).copied().unwrap_or(f64::NAN);
    let max = answered.last().copied().unwrap_or(f64::NAN);
    let mut statuses: Vec<&str> = samples.iter().flatten().map(|(_, status)| status.as_str()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    println!(
        "{label}: {}/{} answered within 5 s (status {}); median {median:.1} ms, max {max:.1} ms",
        answered.len(),
        samples.len(),
        statuses.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let Ok(target) = std::env::var("PARLEY_FLOOD_TARGET") else {
        println!("flood: set PARLEY_FLOOD_TARGET to a running node's HTTP address (see benches/flood/main.rs)");
        return;
    };
    let target: SocketAddr = target.parse().expect("PARLEY_FLOOD_TARGET is host:port");
    let connections: usize = setting("PARLEY_FLOOD_CONNECTIONS", 1100);
    let addresses: usize = setting("PARLEY_FLOOD_ADDRESSES", 1).clamp(1, 250);
    let kind: String = setting("PARLEY_FLOOD_KIND", "both".to_owned());
    let hold = Duration::from_secs(setting("PARLEY_FLOOD_HOLD_SECS", 45));

    let started = Instant::now();
    let mut held = Vec::with_capacity(connections);
    let mut failed = 0;
    for i in 0..connections {
        let source = format!("127.0.0.{}", 2 + i % addresses);
        let slowloris = kind == "slowloris" || (kind == "both" && i % 2 == 0);
        match open(&source, target, slowloris).await {
            Ok(stream) => held.push(Held {
                stream: Some(stream),
                closed_after: None,
            }),
            Err(_) => failed += 1,
        }
    }
    println!(
        "opened {} connections ({kind}) from {addresses} address(es) in {:.1} s; {failed} failed to connect",
        held.len(),
        started.elapsed().as_secs_f64()
    );

    let ping = b"GET /ping HTTP/1.1\r\nHost: flood\r\nConnection: close\r\n\r\n";
    let login_body =
        r#"{"identity":"nobody","password":"wrong password","device_id":"6b1a3c52-3f7e-4a53-9d55-0c1e8e3f6a10"}"#;
    let login = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: flood\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{login_body}",
        login_body.len()
    );
    let mut pings = Vec::new();
    let mut logins = Vec::new();
    let mut checkpoints = [1u64, 5, 15, 30, 45, 60, 90, 120]
        .into_iter()
        .map(Duration::from_secs)
        .filter(|at| *at <= hold)
        .peekable();
    while let Some(at) = checkpoints.next() {
        while started.elapsed() < at {
            if pings.len() < 10 {
                pings.push(probe(target, ping).await);
                logins.push(probe(target, login.as_bytes()).await);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sweep(&mut held, started).await;
        let open = held.iter().filter(|c| c.stream.is_some()).count();
        println!("after {:>3} s: {open} of {} still open", at.as_secs(), held.len());
        if open == 0 && checkpoints.peek().is_some() {
            break;
        }
    }
    summary("GET /ping during the flood", &pings);
    summary("POST /v1/auth/login during the flood", &logins);
    let mut closed: Vec<f64> = held
        .iter()
        .filter_map(|c| c.closed_after)
        .map(|d| d.as_secs_f64())
        .collect();
    closed.sort_by(f64::total_cmp);
    if let Some(last) = closed.last() {
        println!(
            "closed by the node: {} (median after {:.1} s, last after {last:.1} s)",
            closed.len(),
            closed[closed.len() / 2]
        );
    }
}
