//! The node's API as the bench speaks it: raw JSON over REST and the WebSocket, every step bounded
//! by [`STEP_TIMEOUT`].

use std::time::Duration;

use futures_util::StreamExt;
use protocol::ClientMessageId;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bound on any single setup step or request.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The only fields of server frames the bench looks at; the rest is skipped.
#[derive(Deserialize)]
pub(crate) struct Frame {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) client_message_id: Option<ClientMessageId>,
    #[serde(default)]
    replayed: Option<usize>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) error: Option<String>,
}

pub(crate) struct Registered {
    pub(crate) user_id: String,
    pub(crate) device_id: String,
    pub(crate) token: String,
}

pub(crate) async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, String> {
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = tokio::time::timeout(STEP_TIMEOUT, request.send())
        .await
        .map_err(|_| format!("POST {url} timed out"))?
        .map_err(|err| format!("POST {url}: {err}"))?;
    let status = response.status();
    let text = tokio::time::timeout(STEP_TIMEOUT, response.text())
        .await
        .map_err(|_| format!("POST {url}: body timed out"))?
        .map_err(|err| format!("POST {url}: {err}"))?;
    if !status.is_success() {
        return Err(format!("POST {url}: {status}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|err| format!("POST {url}: {err}: {text}"))?;
    Ok(body["data"].clone())
}

/// The `POST /v1/auth/register` body of bench account `name`, on a new device.
pub(crate) fn registration(name: &str) -> Value {
    json!({
        "email": format!("{name}@example.org"),
        "username": name,
        "password": "correct horse battery staple",
        "device_id": uuid::Uuid::new_v4(),
        "display_name": name,
        "device_name": format!("{name}'s bench device"),
        "device_type": "desktop",
    })
}

pub(crate) async fn register(http: &reqwest::Client, base: &str, name: &str) -> Result<Registered, String> {
    let data = post_json(http, &format!("{base}/v1/auth/register"), None, &registration(name)).await?;
    let field = |key: &str| {
        data[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("register {name}: no {key} in {data}"))
    };
    Ok(Registered {
        user_id: field("user_id")?,
        device_id: field("device_id")?,
        token: field("access_token")?,
    })
}

/// Opens a socket and reads `ready`, any replay and `sync:complete`.
pub(crate) async fn connect_synced(ws_base: &str, token: &str, who: &str) -> Result<Socket, String> {
    let url = format!("{ws_base}/v1/ws?token={token}");
    let (mut socket, _) = tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| format!("{who}: WebSocket connect timed out"))?
        .map_err(|err| format!("{who}: WebSocket connect: {err}"))?;
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let mut ready = false;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| format!("{who}: no sync:complete within {STEP_TIMEOUT:?}"))?;
        let text = match next {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(frame))) => return Err(format!("{who}: closed during sync: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(format!("{who}: socket error during sync: {err}")),
            None => return Err(format!("{who}: socket ended during sync")),
        };
        let frame: Frame = serde_json::from_str(&text).map_err(|err| format!("{who}: {err}: {text}"))?;
        match frame.kind.as_str() {
            "ready" => ready = true,
            "sync:complete" if ready => {
                if frame.replayed.unwrap_or(0) != 0 {
                    eprintln!("[{who}] replayed {:?} messages on connect", frame.replayed);
                }
                return Ok(socket);
            }
            "error" => return Err(format!("{who}: error during sync: {text}")),
            _ => {}
        }
    }
}

pub(crate) async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let response = tokio::time::timeout(STEP_TIMEOUT, http.get(url).bearer_auth(token).send())
        .await
        .map_err(|_| format!("GET {url} timed out"))?
        .map_err(|err| format!("GET {url}: {err}"))?;
    let status = response.status();
    let text = tokio::time::timeout(STEP_TIMEOUT, response.text())
        .await
        .map_err(|_| format!("GET {url}: body timed out"))?
        .map_err(|err| format!("GET {url}: {err}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|err| format!("GET {url}: {err}: {text}"))?;
    Ok(body["data"].clone())
}
