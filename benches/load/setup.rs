//! What the senders need ([`Setup`]), and how the federated mode gets it: users on both nodes and a
//! DM that node B has learnt of.

use std::time::{Duration, Instant};

use protocol::{ClientMessageId, MessageType};
use serde_json::{Value, json};

use crate::api::{Socket, connect_synced, get_json, post_json, register};
use crate::nodes::{Federation, NODE_A, NODE_B};
use crate::workload::{CIPHERTEXT_BYTES, FEDERATED_SLOT, slot_name};

/// Bound on the federated setup waits: node B's name reaching node A through the DHT, and the DM
/// reaching node B.
const FEDERATION_SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the senders need.
pub(crate) struct Setup {
    pub(crate) base: String,
    pub(crate) ws_base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) sender_token: String,
    /// `"conversation_id":..,"ciphertexts":[..],"message_type":"text"`, shared by every send.
    pub(crate) body_prefix: String,
}

impl Setup {
    /// The fields every send shares, rendered once so each send only appends its id.
    pub(crate) fn body_prefix(conversation_id: &str, ciphertexts: &Value) -> String {
        format!(
            r#""conversation_id":"{conversation_id}","ciphertexts":{ciphertexts},"message_type":"{}""#,
            MessageType::Text
        )
    }

    pub(crate) fn rest_body(&self, client_id: &ClientMessageId) -> String {
        format!(r#"{{{},"client_message_id":"{client_id}"}}"#, self.body_prefix)
    }

    pub(crate) fn ws_frame(&self, client_id: &ClientMessageId) -> String {
        format!(
            r#"{{"type":"message:send",{},"client_message_id":"{client_id}"}}"#,
            self.body_prefix
        )
    }
}

/// Retries `attempt` every 200 ms until it succeeds or `FEDERATION_SETUP_TIMEOUT` passes, then fails
/// with its last error.
async fn retry<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T, String> {
    let started = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => {
                eprintln!("[fed] {what}: after {:.1} s", started.elapsed().as_secs_f64());
                return Ok(value);
            }
            Err(err) if started.elapsed() >= FEDERATION_SETUP_TIMEOUT => {
                return Err(format!("{what}: gave up after {FEDERATION_SETUP_TIMEOUT:?}: {err}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Registers ann on node A and bob on node B, has ann open a DM with `bob@node-b` (node A hosts it),
/// waits until node B lists it and connects bob's socket to node B.
pub(crate) async fn prepare_federation(
    federation: &Federation,
    http: &reqwest::Client,
) -> Result<(Setup, Socket), String> {
    let (base_a, base_b) = (federation.a.base(), federation.b.base());
    let ann = register(http, &base_a, "ann").await?;
    let bob = register(http, &base_b, "bob").await?;
    // Node A finds node B through the DHT; until node B's record is there the handle does not resolve.
    let handle = format!("bob@{NODE_B}");
    let (url, body) = (
        format!("{base_a}/v1/conversations"),
        json!({ "type": "DM", "participants": [handle] }),
    );
    let (url, body, token) = (url.as_str(), &body, ann.token.as_str());
    let conversation = retry(&format!("DM with {handle} created on {NODE_A}"), move || {
        post_json(http, url, Some(token), body)
    })
    .await?;
    let conversation_id = conversation["id"]
        .as_str()
        .ok_or_else(|| format!("no conversation id in {conversation}"))?
        .to_owned();
    // Node B learns of the conversation asynchronously, from node A's outbox.
    let url = format!("{base_b}/v1/conversations?limit=100");
    let (url, token, id) = (url.as_str(), bob.token.as_str(), conversation_id.as_str());
    retry(&format!("DM listed on {NODE_B}"), move || async move {
        let page = get_json(http, url, token).await?;
        let listed = page["conversations"]
            .as_array()
            .is_some_and(|all| all.iter().any(|c| c["id"] == id));
        listed.then_some(()).ok_or_else(|| format!("not yet listed: {page}"))
    })
    .await?;
    let socket = connect_synced(&federation.b.ws_base(), &bob.token, &slot_name(FEDERATED_SLOT)).await?;

    let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31 + 5) as u8).collect();
    let ciphertexts = json!([{
        "recipient_device_id": bob.device_id,
        "ciphertext": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
    }]);
    let body_prefix = Setup::body_prefix(&conversation_id, &ciphertexts);
    let setup = Setup {
        base: base_a,
        ws_base: federation.a.ws_base(),
        http: http.clone(),
        sender_token: ann.token,
        body_prefix,
    };
    Ok((setup, socket))
}
