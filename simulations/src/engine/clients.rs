//! The simulated users: each registers on its home node with one device, keeps a live connection
//! (a hub subscription, what the WebSocket loop holds) and calls the same services the gateway calls
//! for `POST /v1/conversations` and `POST /v1/messages`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::{StreamExt, TryStreamExt, stream};
use node::Actor;
use protocol::api::{
    ConversationKind as ApiKind, CreateConversationRequest, DeviceCiphertext, RegisterRequest, SendMessageRequest,
    UserRef,
};
use protocol::{Base64Bytes, ConversationId, DeviceId, MessageType, UserId};

use super::cluster::Cluster;
use super::keys::DeviceKeys;
use super::names;
use super::recorder::Recorder;
use crate::plan::{ConversationKind, Plan, PlannedConversation, PlannedUser};
use crate::progress::{Say, tenths};

/// The password every simulated user registers with (the node hashes it like any other).
const PASSWORD: &str = "simulated-user-password";
/// How long a client keeps trying to set up its conversation while the federation warms up.
const SETUP_PATIENCE: Duration = Duration::from_secs(60);
/// Users registered, or conversations created, at once while setting up (in plan order).
const SETUP_CONCURRENCY: usize = 32;
/// A client waits this long before resending a message its node refused or could not take.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// A registered simulated user.
#[derive(Clone)]
pub(crate) struct SimUser {
    pub(crate) node: usize,
    pub(crate) handle: String,
    pub(crate) actor: Actor,
    /// The device's keys and sessions, when the scenario encrypts.
    pub(crate) keys: Option<Arc<DeviceKeys>>,
}

/// Registers every planned user on its node and, when `encrypt`, publishes its device's keys with a
/// one-time prekey for every other member of its conversations.
pub(crate) async fn register(
    cluster: &Cluster,
    plan: &Plan,
    encrypt: bool,
    say: Say<'_>,
) -> Result<Vec<SimUser>, String> {
    stream::iter(&plan.users)
        .map(|user| async move {
            let mut registered = register_one(cluster, user).await?;
            if encrypt {
                let peers: std::collections::HashSet<usize> = plan
                    .conversations
                    .iter()
                    .filter(|conversation| conversation.members.contains(&user.index))
                    .flat_map(|conversation| conversation.members.iter().copied())
                    .collect();
                let keys = DeviceKeys::generate(peers.len())?;
                keys.publish(cluster, user.node, registered.actor)
                    .await
                    .map_err(|err| format!("{}: {err}", user.username))?;
                registered.keys = Some(Arc::new(keys));
            }
            Ok(registered)
        })
        .buffered(SETUP_CONCURRENCY)
        .inspect_ok(tenths("registered", plan.users.len(), say))
        .try_collect()
        .await
}

async fn register_one(cluster: &Cluster, user: &PlannedUser) -> Result<SimUser, String> {
    let request = RegisterRequest {
        email: format!("{}@simulation.invalid", user.username),
        username: user.username.clone(),
        password: PASSWORD.to_owned(),
        device_id: DeviceId::random(),
        phone_number: None,
        display_name: None,
        device_name: Some("simulated device".to_owned()),
        device_type: None,
        key_backup: None,
        registration_token: None,
    };
    let registered = cluster
        .on_node(user.node, |services| async move {
            services.auth.register(request, None).await
        })
        .await
        .ok_or_else(|| format!("registering {}: node {} is down", user.username, user.node))?
        .map_err(|err| format!("registering {}: {err}", user.username))?;
    Ok(SimUser {
        node: user.node,
        handle: format!("{}@{}", user.username, cluster.names()[user.node]),
        actor: Actor {
            user_id: registered.user_id,
            device_id: registered.device_id,
            session_id: registered.session_id,
        },
        keys: None,
    })
}

/// Creates every planned conversation, each by its first member on that member's node.
pub(crate) async fn create_conversations(
    cluster: &Cluster,
    plan: &Plan,
    users: &[SimUser],
    say: Say<'_>,
) -> Result<Vec<ConversationId>, String> {
    stream::iter(&plan.conversations)
        .map(|conversation| create_one(cluster, users, conversation))
        .buffered(SETUP_CONCURRENCY)
        .inspect_ok(tenths("created", plan.conversations.len(), say))
        .try_collect()
        .await
}

async fn create_one(
    cluster: &Cluster,
    users: &[SimUser],
    planned: &PlannedConversation,
) -> Result<ConversationId, String> {
    let creator = &users[planned.host];
    let request = CreateConversationRequest {
        kind: match planned.kind {
            ConversationKind::Dm => ApiKind::Dm,
            ConversationKind::Group => ApiKind::Group,
        },
        subject: (planned.kind == ConversationKind::Group).then(|| format!("group {}", planned.index)),
        description: None,
        participants: planned.members[1..]
            .iter()
            .map(|member| UserRef::Handle(users[*member].handle.clone()))
            .collect(),
        settings: None,
    };
    let deadline = tokio::time::Instant::now() + SETUP_PATIENCE;
    loop {
        let actor = creator.actor;
        let attempt = request.clone();
        let created = cluster
            .on_node(creator.node, |services| async move {
                services.conversations.create(&actor, attempt).await
            })
            .await;
        match created {
            Some(Ok((conversation, _))) => return Ok(conversation.id),
            // Other nodes' names reach the DHT a little after they start: retry until they resolve.
            Some(Err(err)) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(conversation = planned.index, error = %err, "conversation not created yet");
                tokio::time::sleep(RETRY_AFTER).await;
            }
            Some(Err(err)) => return Err(format!("conversation {}: {err}", planned.index)),
            None => return Err(format!("conversation {}: node {} is down", planned.index, creator.node)),
        }
    }
}

/// Everything a sender needs to address a conversation's members.
pub(crate) struct Addressing {
    /// Each conversation's id, by plan index.
    pub(crate) ids: Vec<ConversationId>,
    /// Each user's device, by user id.
    pub(crate) devices: HashMap<UserId, DeviceId>,
}

/// What the traffic tasks share.
pub(crate) struct World {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) plan: Arc<Plan>,
    pub(crate) users: Arc<Vec<SimUser>>,
    pub(crate) addressing: Addressing,
    pub(crate) recorder: Arc<Recorder>,
}

/// Sends planned message `index` as a client does: encrypted for each recipient device (when the
/// scenario encrypts), with its `client_message_id`, retried after every failure (a bundle not to be
/// had, the node down, the host unreachable) until acknowledged or `until` passes.
pub(crate) async fn send(world: &World, index: usize, until: tokio::time::Instant) {
    let World {
        cluster,
        plan,
        users,
        addressing,
        recorder,
    } = world;
    let planned = plan.messages[index];
    let sender = &users[planned.sender];
    let conversation = &plan.conversations[planned.conversation];
    let recipients: Vec<(UserId, DeviceId)> = conversation
        .members
        .iter()
        .filter(|member| **member != planned.sender)
        .filter_map(|member| {
            let user = users[*member].actor.user_id;
            addressing.devices.get(&user).map(|device| (user, *device))
        })
        .collect();
    let Some(client_message_id) = names::client_message_id(index) else {
        recorder.refused(index, "the engine built an invalid client_message_id".to_owned());
        return;
    };
    let body = names::plaintext(index, planned.size);
    let mut request: Option<SendMessageRequest> = None;
    loop {
        recorder.attempt(index);
        if request.is_none() {
            match copies(cluster, sender, &recipients, &body).await {
                Ok(ciphertexts) => {
                    request = Some(SendMessageRequest {
                        conversation_id: addressing.ids[planned.conversation],
                        ciphertexts,
                        message_type: MessageType::Text,
                        client_message_id: client_message_id.clone(),
                        body: None,
                        reply_to: None,
                        mentions: Vec::new(),
                    });
                }
                Err(err) => recorder.refused(index, err),
            }
        }
        if let Some(attempt) = request.clone() {
            let actor = sender.actor;
            let sent = cluster
                .on_node(sender.node, |services| async move {
                    services.messages.send(&actor, attempt).await
                })
                .await;
            match sent {
                Some(Ok(_)) => {
                    recorder.acked(index);
                    return;
                }
                Some(Err(err)) => recorder.refused(index, err.to_string()),
                None => recorder.refused(index, "the sender's node is down".to_owned()),
            }
        }
        if tokio::time::Instant::now() + RETRY_AFTER >= until {
            return;
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// One copy per recipient device: sealed with the sender's sessions, or the plaintext itself when the
/// scenario does not encrypt (raw-throughput studies).
async fn copies(
    cluster: &Cluster,
    sender: &SimUser,
    recipients: &[(UserId, DeviceId)],
    body: &[u8],
) -> Result<Vec<DeviceCiphertext>, String> {
    let Some(keys) = &sender.keys else {
        return Ok(recipients
            .iter()
            .map(|(_, device)| DeviceCiphertext {
                recipient_device_id: *device,
                ciphertext: Base64Bytes(body.to_vec()),
                header: None,
            })
            .collect());
    };
    let sealed = keys
        .encrypt(cluster, sender.node, sender.actor, recipients, body)
        .await?;
    Ok(sealed
        .into_iter()
        .map(|(device, header, ciphertext)| DeviceCiphertext {
            recipient_device_id: device,
            ciphertext: Base64Bytes(ciphertext),
            header: Some(Base64Bytes(header)),
        })
        .collect())
}
