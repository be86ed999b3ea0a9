//! Minimal XMPP c2s client for the messaging benchmark, built on
//! `tokio-xmpp`'s low-level XML stream (`tokio_xmpp::xmlstream`) over plain
//! TCP (no TLS, no DNS).
//!
//! Why not `tokio_xmpp::Client`: its `split()` puts the client behind an
//! `Arc<tokio::sync::Mutex>` (a lock on every send and every receive, and the
//! receiver silently returns `Pending` while the sender holds it), each
//! stanza crosses two extra tasks, and it negotiates stream management and
//! reconnects on its own. None of that belongs in a benchmark driver.
//!
//! Instead the library does the protocol work — stream headers, feature
//! negotiation, SASL PLAIN, resource binding, in-band registration and
//! parsing of every incoming stanza — and the TCP socket is split with
//! `TcpStream::into_split` (lock-free halves):
//! - [`XmppInbox`] keeps the library's parser on the read half, so stream
//!   state carries on seamlessly from login;
//! - [`XmppSender`] owns the write half and serialises the two fixed
//!   outgoing stanza shapes into a reused buffer, so sending allocates
//!   nothing.

use std::borrow::Cow;
use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::bind::{BindQuery, BindResponse};
use tokio_xmpp::parsers::ibr::LegacyQuery;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::parsers::sasl::{Auth, Mechanism, Nonza};
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, InitiatingStream, ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
    initiate_stream,
};

/// Benchmark pauses (idle sessions, slow phases) must never trip the
/// library's read timeouts, which would otherwise fail an idle inbox.
const IDLE_TIMEOUTS: Timeouts = Timeouts {
    read_timeout: Duration::from_secs(24 * 3600),
    response_timeout: Duration::from_secs(24 * 3600),
};

/// Capacity of the sender's reusable serialisation buffer; grows if needed.
const SEND_BUFFER: usize = 512;

/// Something the workload cares about, read from an [`XmppInbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A chat message with a body; `seq` is its numeric stanza id and `from`
    /// the sender's full JID (to address the receipt to).
    Message { from: String, seq: u64 },
    /// A XEP-0184 delivery receipt for the message whose id was `seq`.
    Receipt { seq: u64 },
}

/// Sending half of a session: owns the socket's write half, no locks.
///
/// Dropping it shuts down the socket's write direction, which ends the
/// session on the server; keep it alive while the inbox is still needed.
pub struct XmppSender {
    writer: OwnedWriteHalf,
    buf: Vec<u8>,
    jid: String,
}

/// Receiving half of a session: the library's XML stream on the read half.
pub struct XmppInbox {
    stream: XmppStream<SplitIo>,
    jid: String,
}

/// Connects, authenticates with SASL PLAIN, binds a server-chosen resource
/// and sends initial presence, so the account is online and messages are
/// routed to this session directly rather than to offline storage.
pub async fn connect(
    addr: SocketAddr,
    domain: &str,
    username: &str,
    password: &str,
) -> Result<(XmppSender, XmppInbox), String> {
    let jid = format!("{username}@{domain}");
    let session = login(addr, domain, username, password)
        .await
        .map_err(|e| format!("connect {jid} via {addr}: {e}"))?;
    let writer = session
        .get_stream()
        .take_writer()
        .ok_or_else(|| format!("connect {jid}: socket write half already taken"))?;
    let sender = XmppSender {
        writer,
        buf: Vec::with_capacity(SEND_BUFFER),
        jid: jid.clone(),
    };
    Ok((sender, XmppInbox { stream: session, jid }))
}

impl XmppSender {
    /// Sends `<message to=.. id=seq type='chat'><body>..</body><request xmlns='urn:xmpp:receipts'/></message>`.
    pub async fn send(&mut self, to_jid: &str, seq: u64, body: &str) -> Result<(), String> {
        self.buf.clear();
        self.buf.extend_from_slice(b"<message to='");
        escape_into(&mut self.buf, to_jid);
        self.buf.extend_from_slice(b"' id='");
        push_u64(&mut self.buf, seq);
        self.buf.extend_from_slice(b"' type='chat'><body>");
        escape_into(&mut self.buf, body);
        self.buf
            .extend_from_slice(b"</body><request xmlns='urn:xmpp:receipts'/></message>");
        self.flush_buf("message").await
    }

    /// Sends the XEP-0184 receipt `<message to=..><received xmlns='urn:xmpp:receipts' id='seq'/></message>`.
    pub async fn ack(&mut self, to_jid: &str, seq: u64) -> Result<(), String> {
        self.buf.clear();
        self.buf.extend_from_slice(b"<message to='");
        escape_into(&mut self.buf, to_jid);
        self.buf
            .extend_from_slice(b"'><received xmlns='urn:xmpp:receipts' id='");
        push_u64(&mut self.buf, seq);
        self.buf.extend_from_slice(b"'/></message>");
        self.flush_buf("receipt").await
    }

    /// Writes the whole buffer; the socket has `TCP_NODELAY`, so one stanza
    /// goes out immediately without Nagle delays.
    async fn flush_buf(&mut self, what: &str) -> Result<(), String> {
        self.writer
            .write_all(&self.buf)
            .await
            .map_err(|e| format!("{}: sending {what} failed: {e}", self.jid))
    }
}

impl XmppInbox {
    /// Returns the next chat message or receipt, skipping presence, IQs and
    /// anything else. Errors on disconnect, stream errors and error stanzas.
    pub async fn next(&mut self) -> Result<Incoming, String> {
        loop {
            let element = next_element(&mut self.stream)
                .await
                .map_err(|e| format!("{}: {e}", self.jid))?;
            let XmppStreamElement::Stanza(Stanza::Message(message)) = element else {
                continue;
            };
            let incoming = classify(message).map_err(|e| format!("{}: {e}", self.jid))?;
            if let Some(incoming) = incoming {
                return Ok(incoming);
            }
        }
    }
}

/// Registers one account with in-band registration (XEP-0077) on a fresh,
/// unauthenticated connection.
pub async fn register(addr: SocketAddr, domain: &str, username: &str, password: &str) -> Result<(), String> {
    let mut stream = open_registration_stream(addr, domain).await?;
    register_on(&mut stream, username, password, 0).await?;
    close(stream).await;
    Ok(())
}

/// Opens a stream and checks the server offers in-band registration.
async fn open_registration_stream(addr: SocketAddr, domain: &str) -> Result<XmppStream<SplitIo>, String> {
    let (features, stream) = open_stream(addr, domain)
        .await
        .map_err(|e| format!("registration stream to {addr}: {e}"))?;
    if !features.in_band_registration {
        return Err(format!(
            "{addr} does not offer in-band registration (mod_register missing?)"
        ));
    }
    Ok(stream)
}

/// Sends one `jabber:iq:register` set and waits for its result.
async fn register_on(
    stream: &mut XmppStream<SplitIo>,
    username: &str,
    password: &str,
    index: usize,
) -> Result<(), String> {
    let id = format!("reg{index}");
    let query = LegacyQuery {
        username: Some(username.to_owned()),
        password: Some(password.to_owned()),
        ..LegacyQuery::default()
    };
    let iq = Iq::from_set(id.clone(), query);
    send_element(stream, &XmppStreamElement::Stanza(iq.into()))
        .await
        .map_err(|e| format!("register {username}: {e}"))?;
    await_iq_result(stream, &id)
        .await
        .map(drop)
        .map_err(|e| format!("register {username}: {e}"))
}

/// The full login sequence; returns the stream ready for stanzas.
async fn login(addr: SocketAddr, domain: &str, username: &str, password: &str) -> Result<XmppStream<SplitIo>, String> {
    let (features, stream) = open_stream(addr, domain).await?;
    if !features.sasl_mechanisms.contains("PLAIN") {
        return Err(format!(
            "server offers no SASL PLAIN (offered: {:?})",
            features.sasl_mechanisms
        ));
    }
    let restarted = sasl_plain(stream, username, password).await?;
    let (_, mut stream) = restarted
        .send_header(stream_header(domain))
        .await
        .map_err(|e| format!("stream restart after SASL: {e}"))?
        .recv_features::<FallibleStreamElement>()
        .await
        .map_err(|e| format!("stream features after SASL: {e}"))?;
    bind_resource(&mut stream).await?;
    send_element(&mut stream, &XmppStreamElement::Stanza(Presence::available().into()))
        .await
        .map_err(|e| format!("initial presence: {e}"))?;
    Ok(stream)
}

/// Connects a `TCP_NODELAY` socket and negotiates the initial stream.
async fn open_stream(addr: SocketAddr, domain: &str) -> Result<(StreamFeatures, XmppStream<SplitIo>), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("TCP connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
    initiate_stream(
        SplitIo::new(tcp),
        ns::JABBER_CLIENT,
        stream_header(domain),
        IDLE_TIMEOUTS,
    )
    .await
    .map_err(|e| format!("stream header exchange: {e}"))?
    .recv_features::<FallibleStreamElement>()
    .await
    .map_err(|e| format!("stream features: {e}"))
}

fn stream_header(domain: &str) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(domain)),
        from: None,
        id: None,
    }
}

/// SASL PLAIN is just `\0user\0password`; doing it here avoids pulling in
/// the `sasl` crate, and it is the only mechanism the benchmark server
/// offers (SCRAM would add PBKDF2 cost to every login on both sides).
async fn sasl_plain(
    mut stream: XmppStream<SplitIo>,
    username: &str,
    password: &str,
) -> Result<InitiatingStream<SplitIo>, String> {
    let mut data = Vec::with_capacity(username.len() + password.len() + 2);
    data.push(0);
    data.extend_from_slice(username.as_bytes());
    data.push(0);
    data.extend_from_slice(password.as_bytes());
    let auth = Auth {
        mechanism: Mechanism::Plain,
        data,
    };
    send_element(&mut stream, &XmppStreamElement::Sasl(Nonza::Auth(auth)))
        .await
        .map_err(|e| format!("SASL auth: {e}"))?;
    match next_element(&mut stream).await? {
        XmppStreamElement::Sasl(Nonza::Success(_)) => Ok(stream.initiate_reset()),
        XmppStreamElement::Sasl(Nonza::Failure(failure)) => {
            Err(format!("SASL PLAIN rejected: {:?}", failure.defined_condition))
        }
        other => Err(format!("unexpected reply to SASL auth: {other:?}")),
    }
}

/// Binds a server-generated resource (RFC 6120 §7).
async fn bind_resource(stream: &mut XmppStream<SplitIo>) -> Result<(), String> {
    let iq = Iq::from_set("bind", BindQuery::new(None));
    send_element(stream, &XmppStreamElement::Stanza(iq.into()))
        .await
        .map_err(|e| format!("resource bind: {e}"))?;
    let payload = await_iq_result(stream, "bind")
        .await
        .map_err(|e| format!("resource bind: {e}"))?;
    let element = payload.ok_or("resource bind: empty result")?;
    BindResponse::try_from(element)
        .map(drop)
        .map_err(|e| format!("resource bind: malformed result: {e}"))
}

/// Waits for the IQ result with `id`, skipping unrelated stanzas.
async fn await_iq_result(
    stream: &mut XmppStream<SplitIo>,
    id: &str,
) -> Result<Option<tokio_xmpp::minidom::Element>, String> {
    loop {
        match next_element(stream).await? {
            XmppStreamElement::Stanza(Stanza::Iq(Iq::Result { id: got, payload, .. })) if got == id => {
                return Ok(payload);
            }
            XmppStreamElement::Stanza(Stanza::Iq(Iq::Error { id: got, error, .. })) if got == id => {
                return Err(format!(
                    "server answered {:?} ({:?}) {:?}",
                    error.defined_condition, error.type_, error.texts
                ));
            }
            _ => continue,
        }
    }
}

/// Sends one element and flushes it.
async fn send_element(stream: &mut XmppStream<SplitIo>, element: &XmppStreamElement) -> io::Result<()> {
    stream.send(element).await
}

/// Reads the next well-formed element; soft timeouts are ignored because
/// benchmark sessions may legitimately idle.
async fn next_element(stream: &mut XmppStream<SplitIo>) -> Result<XmppStreamElement, String> {
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                return Err(e.to_string());
            }
            Some(Ok(FallibleStreamElement::Ok(element))) => return Ok(element),
            Some(Ok(FallibleStreamElement::Err(e))) => {
                return Err(format!("unparseable element: {e}"));
            }
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(e)) => return Err(format!("stream read failed: {e}")),
            None => return Err("connection closed by server".to_owned()),
        }
    }
}

/// Sends the stream footer and closes; errors are irrelevant at this point.
async fn close(mut stream: XmppStream<SplitIo>) {
    let _ = SinkExt::<&XmppStreamElement>::close(&mut stream).await;
}

/// Maps a received message to [`Incoming`], or `None` for messages the
/// workload does not care about (e.g. body-less notifications).
fn classify(message: Message) -> Result<Option<Incoming>, String> {
    if message.type_ == MessageType::Error {
        return Err(format!("error message from {:?} for id {:?}", message.from, message.id));
    }
    if let Some(seq) = receipt_seq(&message) {
        return Ok(Some(Incoming::Receipt { seq: parse_seq(seq)? }));
    }
    if message.bodies.is_empty() {
        return Ok(None);
    }
    let id = message.id.as_ref().ok_or("chat message without id")?;
    let seq = parse_seq(&id.0)?;
    let from = message.from.ok_or("chat message without from")?;
    Ok(Some(Incoming::Message {
        from: from.into_inner(),
        seq,
    }))
}

/// The `id` of a `<received xmlns='urn:xmpp:receipts'/>` payload, if any.
fn receipt_seq(message: &Message) -> Option<&str> {
    message
        .payloads
        .iter()
        .find(|p| p.is("received", ns::RECEIPTS))
        .and_then(|p| p.attr("id"))
}

fn parse_seq(id: &str) -> Result<u64, String> {
    id.parse()
        .map_err(|_| format!("stanza id {id:?} is not a sequence number"))
}

/// Appends `text` with the five XML special characters escaped, so it is
/// safe both as attribute (single-quoted) and as element content.
fn escape_into(buf: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        match byte {
            b'&' => buf.extend_from_slice(b"&amp;"),
            b'<' => buf.extend_from_slice(b"&lt;"),
            b'>' => buf.extend_from_slice(b"&gt;"),
            b'\'' => buf.extend_from_slice(b"&apos;"),
            b'"' => buf.extend_from_slice(b"&quot;"),
            _ => buf.push(byte),
        }
    }
}

/// Appends the decimal digits of `value` without going through `fmt`.
fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// The transport handed to the library: a buffered read half plus a write
/// half that can be taken out (through `&self`, which is all
/// `XmlStream::get_stream` offers) once login is done. A `Cell` suffices
/// because the stream is only ever used from one task at a time; after
/// the take, writes through the library fail loudly instead of racing.
struct SplitIo {
    reader: BufReader<OwnedReadHalf>,
    writer: Cell<Option<OwnedWriteHalf>>,
}

impl SplitIo {
    fn new(tcp: TcpStream) -> Self {
        let (reader, writer) = tcp.into_split();
        SplitIo {
            reader: BufReader::with_capacity(16 * 1024, reader),
            writer: Cell::new(Some(writer)),
        }
    }

    fn take_writer(&self) -> Option<OwnedWriteHalf> {
        self.writer.take()
    }

    fn writer(&mut self) -> io::Result<Pin<&mut OwnedWriteHalf>> {
        self.writer
            .get_mut()
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "write half was moved to XmppSender"))
    }
}

impl AsyncRead for SplitIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncBufRead for SplitIo {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().reader).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.get_mut().reader).consume(amt)
    }
}

impl AsyncWrite for SplitIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().writer() {
            Ok(writer) => writer.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().writer() {
            Ok(writer) => writer.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().writer() {
            Ok(writer) => writer.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
