//! [`Client`]: one device of one account, opened on its profile directory.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use protocol::api::{
    AuthResponse, Conversation, ConversationKind, ConversationPage, CreateConversationRequest, DeviceCiphertext,
    IdentityKey, KeyBundle, LoginRequest, Me, Message, Participant, ParticipantList, PreKeyCount, PublicDeviceList,
    RefreshRequest, RegisterRequest, SendMessageRequest, SignedPreKey, TokenPair, UploadIdentityKeyRequest,
    UploadedCount, UserList, UserProfile, UserRef,
};
use protocol::crypto::{IdentityKeyPair, MessageHeader, OneTimePreKeyPair, SafetyNumber, Session};
use protocol::ws::MessageEvent;
use protocol::{Base64Bytes, ConversationId, DeviceId, IdentityPublicKey, UserId};
use reqwest::Method;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::history::{History, StoredMessage};
use crate::http::{ErasedBody, Http};
use crate::listener::Listener;
use crate::prekeys::PreKeys;
use crate::profile::{ACCOUNT, AccountFile, IDENTITY, PREKEYS, Profile, TRUST, Tokens};
use crate::sessions::SessionRecord;
use crate::trust::{Trust, Verdict};

/// Below this many one-time prekeys on the node, the device uploads more.
pub const ONE_TIME_PREKEY_LOW_WATER: usize = 20;
/// How many one-time prekeys a top-up brings the node back to.
pub const ONE_TIME_PREKEY_TARGET: usize = 100;
/// The node accepts at most this many one-time prekeys per upload.
const UPLOAD_BATCH: usize = 200;
/// Attempts at posting one message when the node is unreachable or answers 5xx.
const SEND_ATTEMPTS: u32 = 4;

/// What `register` needs.
#[derive(Clone)]
pub struct Registration {
    /// Unique on the node; lower-case letters, digits, `_`, `.` and `-`.
    pub username: String,
    /// Unique on the node.
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    /// Shown to others; the node defaults it to the username.
    pub display_name: Option<String>,
    /// A label for this device.
    pub device_name: Option<String>,
}

impl Registration {
    /// A registration with the required fields.
    pub fn new(username: impl Into<String>, email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            display_name: None,
            device_name: None,
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The outcome of a send.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// The message as stored in this device's history.
    pub message: StoredMessage,
    /// The devices it was encrypted for.
    pub recipients: Vec<DeviceId>,
    /// Active devices of participants that could not be encrypted for (no published keys).
    pub skipped: Vec<DeviceId>,
}

/// One device of one account: its keys and sessions live in a profile directory, its account on a
/// node. Cheap to clone; clones share state, so a [`Listener`] can run while the same device sends.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    profile: Profile,
    http: Http,
    user_id: UserId,
    username: String,
    device_id: DeviceId,
    identity: IdentityKeyPair,
    tokens: RwLock<Tokens>,
    history: History,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.http.base())
            .field("user_id", &self.inner.user_id)
            .field("username", &self.inner.username)
            .field("device_id", &self.inner.device_id)
            .field("profile", &self.inner.profile.dir())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates an account on the node at `server` with a new device kept in the profile directory
    /// `profile` (created if missing), then publishes the device's identity key, signed prekey and
    /// one-time prekeys. Fails if the profile already holds an account.
    pub async fn register(profile: impl AsRef<Path>, server: &str, registration: Registration) -> Result<Self> {
        let profile = Profile::open(profile)?;
        let http = Http::new(server)?;
        let account = prepare_account(&profile, &http)?;
        if let Some(user) = account.user_id {
            return Err(Error::profile(format!(
                "{} already holds account {user}; log in, or use another profile",
                profile.dir().display()
            )));
        }
        let identity = load_or_create_identity(&profile)?;
        let request = RegisterRequest {
            email: registration.email,
            username: registration.username,
            password: registration.password,
            device_id: account.device_id,
            phone_number: None,
            display_name: registration.display_name,
            device_name: registration.device_name,
            device_type: None,
        };
        let auth: AuthResponse = http
            .call(Method::POST, "/auth/register", &[], Some(&request), None)
            .await?;
        Self::signed_in(profile, http, account, identity, auth).await
    }

    /// Logs in to an existing account (`identity` is its username, email or phone number) as the
    /// device of the profile directory `profile`: a new device when the profile is new, else the
    /// device the profile already is. Publishes the device's keys.
    pub async fn login(profile: impl AsRef<Path>, server: &str, identity: &str, password: &str) -> Result<Self> {
        let profile = Profile::open(profile)?;
        let http = Http::new(server)?;
        let account = prepare_account(&profile, &http)?;
        let keys = load_or_create_identity(&profile)?;
        let request = LoginRequest {
            identity: identity.to_owned(),
            password: password.to_owned(),
            device_id: account.device_id,
            device_name: None,
            device_type: None,
        };
        let auth: AuthResponse = http
            .call(Method::POST, "/auth/login", &[], Some(&request), None)
            .await?;
        Self::signed_in(profile, http, account, keys, auth).await
    }

    async fn signed_in(
        profile: Profile,
        http: Http,
        mut account: AccountFile,
        identity: IdentityKeyPair,
        auth: AuthResponse,
    ) -> Result<Self> {
        if auth.device_id != account.device_id {
            return Err(Error::Protocol("the node signed in another device".into()));
        }
        if account.user_id.is_some_and(|user| user != auth.user_id) {
            return Err(Error::profile(format!(
                "{} belongs to another account; use another profile",
                profile.dir().display()
            )));
        }
        let tokens = Tokens {
            session_id: auth.session_id,
            access_token: auth.access_token.clone(),
            refresh_token: auth.refresh_token.clone(),
        };
        let me: Me = http
            .call(Method::GET, "/users/me", &[], None, Some(&tokens.access_token))
            .await?;
        account.user_id = Some(auth.user_id);
        account.username = Some(me.username.clone());
        account.tokens = Some(tokens.clone());
        profile.write_json(ACCOUNT, &account)?;
        let client = Self::assemble(
            profile,
            http,
            auth.user_id,
            me.username,
            account.device_id,
            identity,
            tokens,
        );
        client.publish_keys().await?;
        Ok(client)
    }

    /// Reopens a profile directory that holds a signed-in device. Makes no request: sessions, keys
    /// and history continue from the files.
    pub fn open(profile: impl AsRef<Path>) -> Result<Self> {
        if !profile.as_ref().join(ACCOUNT).is_file() {
            return Err(Error::profile(format!(
                "{} holds no account; register or log in first",
                profile.as_ref().display()
            )));
        }
        let profile = Profile::open(profile)?;
        let account: AccountFile = profile.read_json(ACCOUNT)?.ok_or_else(|| {
            Error::profile(format!(
                "{} holds no account; register or log in first",
                profile.dir().display()
            ))
        })?;
        let (Some(user_id), Some(username), Some(tokens)) =
            (account.user_id, account.username.clone(), account.tokens.clone())
        else {
            return Err(Error::profile(format!(
                "{} is not signed in; log in again",
                profile.dir().display()
            )));
        };
        let identity: IdentityKeyPair = profile
            .read_packed(IDENTITY)?
            .ok_or_else(|| Error::profile("the device's identity key is missing"))?;
        let http = Http::new(&account.server)?;
        Ok(Self::assemble(
            profile,
            http,
            user_id,
            username,
            account.device_id,
            identity,
            tokens,
        ))
    }

    fn assemble(
        profile: Profile,
        http: Http,
        user_id: UserId,
        username: String,
        device_id: DeviceId,
        identity: IdentityKeyPair,
        tokens: Tokens,
    ) -> Self {
        let history = History::new(profile.dir());
        Self {
            inner: Arc::new(Inner {
                profile,
                http,
                user_id,
                username,
                device_id,
                identity,
                tokens: RwLock::new(tokens),
                history,
            }),
        }
    }

    /// The account.
    pub fn user_id(&self) -> UserId {
        self.inner.user_id
    }

    /// The account's username.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// This device.
    pub fn device_id(&self) -> DeviceId {
        self.inner.device_id
    }

    /// The node's base URL.
    pub fn server(&self) -> &str {
        self.inner.http.base()
    }

    /// The profile directory.
    pub fn profile_dir(&self) -> &Path {
        self.inner.profile.dir()
    }

    /// This device's identity public key.
    pub fn identity_key(&self) -> IdentityPublicKey {
        self.inner.identity.public_key()
    }

    // ---- REST plumbing ------------------------------------------------------------------------

    fn access_token(&self) -> Result<Zeroizing<String>> {
        let tokens = self
            .inner
            .tokens
            .read()
            .map_err(|_| Error::profile("token lock poisoned"))?;
        Ok(Zeroizing::new(tokens.access_token.clone()))
    }

    /// An authenticated request; an expired access token is refreshed once and the request retried.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn ErasedBody>,
    ) -> Result<T> {
        let token = self.access_token()?;
        match self
            .inner
            .http
            .call(method.clone(), path, query, body, Some(&token))
            .await
        {
            Err(err) if err.is_status(401) => {
                self.refresh(&token).await?;
                let token = self.access_token()?;
                self.inner.http.call(method, path, query, body, Some(&token)).await
            }
            other => other,
        }
    }

    /// Exchanges the refresh token for a new pair, unless another holder of the profile (a clone or
    /// another process) already did: refresh tokens are single use, and presenting a spent one makes
    /// the node revoke the session.
    pub(crate) async fn refresh(&self, used: &str) -> Result<()> {
        let _guard = self.inner.profile.lock_account().await?;
        let mut account: AccountFile = self
            .inner
            .profile
            .read_json(ACCOUNT)?
            .ok_or_else(|| Error::profile("account.json disappeared"))?;
        let stored = account
            .tokens
            .clone()
            .ok_or_else(|| Error::profile("signed out; log in again"))?;
        if stored.access_token != used {
            *self
                .inner
                .tokens
                .write()
                .map_err(|_| Error::profile("token lock poisoned"))? = stored;
            return Ok(());
        }
        let request = RefreshRequest {
            session_id: stored.session_id,
            refresh_token: stored.refresh_token.clone(),
        };
        let pair: TokenPair = self
            .inner
            .http
            .call(Method::POST, "/auth/refresh", &[], Some(&request), None)
            .await?;
        let tokens = Tokens {
            session_id: stored.session_id,
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.clone(),
        };
        account.tokens = Some(tokens.clone());
        self.inner.profile.write_json(ACCOUNT, &account)?;
        *self
            .inner
            .tokens
            .write()
            .map_err(|_| Error::profile("token lock poisoned"))? = tokens;
        Ok(())
    }

    pub(crate) async fn websocket_url(&self) -> Result<(String, Zeroizing<String>)> {
        let token = self.access_token()?;
        Ok((self.inner.http.ws_url(&token), token))
    }

    // ---- keys ---------------------------------------------------------------------------------

    /// Publishes this device's identity key and signed prekey (unless the node already serves them)
    /// and tops up its one-time prekeys.
    pub async fn publish_keys(&self) -> Result<()> {
        let upload = UploadIdentityKeyRequest {
            user_id: None,
            device_id: None,
            public_key: self.identity_key(),
        };
        let _: IdentityKey = self
            .call(Method::POST, "/encryption/identity", &[], Some(&upload))
            .await?;
        {
            let _guard = self.inner.profile.lock().await?;
            let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
            let active: Option<SignedPreKey> = match self
                .call(Method::GET, "/encryption/signed-prekeys/active", &[], None)
                .await
            {
                Ok(key) => Some(key),
                Err(err) if err.is_status(404) => None,
                Err(err) => return Err(err),
            };
            let published = match (prekeys.current_signed(), &active) {
                (Some(ours), Some(active)) => ours.id().0 == active.key_id && ours.public_key() == active.public_key,
                _ => false,
            };
            if !published {
                if prekeys.current_signed().is_none() {
                    prekeys.new_signed(&self.inner.identity);
                    self.inner.profile.write_packed(PREKEYS, &prekeys)?;
                }
                if let Err(err) = self.upload_signed(&prekeys).await {
                    if !err.is_status(409) {
                        return Err(err);
                    }
                    // Its id is taken by an older key on the node: make a fresh one.
                    prekeys.new_signed(&self.inner.identity);
                    self.inner.profile.write_packed(PREKEYS, &prekeys)?;
                    self.upload_signed(&prekeys).await?;
                }
            }
        }
        self.refill_one_time_prekeys().await?;
        Ok(())
    }

    async fn upload_signed(&self, prekeys: &PreKeys) -> Result<()> {
        let current = prekeys
            .current_signed()
            .ok_or_else(|| Error::profile("no signed prekey to publish"))?;
        let _: SignedPreKey = self
            .call(
                Method::POST,
                "/encryption/signed-prekeys",
                &[],
                Some(&current.to_upload()),
            )
            .await?;
        Ok(())
    }

    /// Replaces the signed prekey: a new one is made, kept and published; older ones stay for late
    /// initial messages built from them.
    pub async fn rotate_signed_prekey(&self) -> Result<()> {
        let _guard = self.inner.profile.lock().await?;
        let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
        prekeys.new_signed(&self.inner.identity);
        self.inner.profile.write_packed(PREKEYS, &prekeys)?;
        self.upload_signed(&prekeys).await
    }

    /// How many one-time prekeys the node still holds for this device.
    pub async fn one_time_prekey_count(&self) -> Result<usize> {
        let count: PreKeyCount = self
            .call(Method::GET, "/encryption/onetime-prekeys/count", &[], None)
            .await?;
        Ok(count.count)
    }

    /// Uploads one-time prekeys when the node holds fewer than [`ONE_TIME_PREKEY_LOW_WATER`], up to
    /// [`ONE_TIME_PREKEY_TARGET`]; returns how many were added. Their secrets are saved first.
    pub async fn refill_one_time_prekeys(&self) -> Result<usize> {
        let held = self.one_time_prekey_count().await?;
        if held >= ONE_TIME_PREKEY_LOW_WATER {
            return Ok(0);
        }
        let wanted = ONE_TIME_PREKEY_TARGET - held;
        let batch = {
            let _guard = self.inner.profile.lock().await?;
            let mut prekeys: PreKeys = self.inner.profile.read_packed(PREKEYS)?.unwrap_or_default();
            let count = u32::try_from(wanted).map_err(|_| Error::Protocol("prekey count out of range".into()))?;
            let batch = prekeys.new_one_time(count)?;
            self.inner.profile.write_packed(PREKEYS, &prekeys)?;
            batch
        };
        let mut added = 0;
        for chunk in batch.chunks(UPLOAD_BATCH) {
            let uploaded: UploadedCount = self
                .call(
                    Method::POST,
                    "/encryption/onetime-prekeys",
                    &[],
                    Some(&OneTimePreKeyPair::upload_request(chunk)),
                )
                .await?;
            added += uploaded.uploaded;
        }
        Ok(added)
    }

    /// The safety number of this device and `device` of `user`, to compare out of band. Uses the
    /// pinned identity key of the device, else the one the node publishes.
    pub async fn safety_number(&self, user: UserId, device: DeviceId) -> Result<SafetyNumber> {
        let trust: Trust = self.inner.profile.read_json(TRUST)?.unwrap_or_default();
        let remote = match trust.key_of(device) {
            Some(key) => key,
            None => self.published_identity(user, device).await?,
        };
        Ok(SafetyNumber::new(
            &self.identity_key(),
            self.user_id().as_bytes(),
            &remote,
            user.as_bytes(),
        ))
    }

    async fn published_identity(&self, user: UserId, device: DeviceId) -> Result<IdentityPublicKey> {
        let key: IdentityKey = self
            .call(
                Method::GET,
                "/encryption/identity",
                &[("user_id", user.to_string()), ("device_id", device.to_string())],
                None,
            )
            .await?;
        if key.user_id != user || key.device_id != device || !key.is_active {
            return Err(Error::Protocol(format!(
                "the node served no active identity key for {device}"
            )));
        }
        Ok(key.public_key)
    }

    /// Whether this device holds a session with `device`.
    pub fn has_session(&self, device: DeviceId) -> Result<bool> {
        Ok(self
            .inner
            .profile
            .read_packed::<SessionRecord>(&SessionRecord::file_name(device))?
            .is_some_and(|record| !record.is_empty()))
    }

    // ---- users and conversations ----------------------------------------------------------------

    /// The user with exactly this username.
    pub async fn find_user(&self, username: &str) -> Result<UserProfile> {
        let found: UserList = self
            .call(
                Method::GET,
                "/users/search",
                &[("query", username.to_owned()), ("limit", "50".to_owned())],
                None,
            )
            .await?;
        found
            .users
            .into_iter()
            .find(|user| user.username.eq_ignore_ascii_case(username))
            .ok_or_else(|| Error::UnknownUser(username.to_owned()))
    }

    /// The DM with `user` (an id, or a handle `username@node-name` of any node), created if it does
    /// not exist yet.
    pub async fn open_dm(&self, user: impl Into<UserRef>) -> Result<Conversation> {
        let request = CreateConversationRequest {
            kind: ConversationKind::Dm,
            subject: None,
            description: None,
            participants: vec![user.into()],
            settings: None,
        };
        self.call(Method::POST, "/conversations", &[], Some(&request)).await
    }

    /// A new group named `subject` with `members`, by id or handle (this user is added as its owner).
    pub async fn create_group<M: Into<UserRef>>(
        &self,
        subject: &str,
        members: impl IntoIterator<Item = M>,
    ) -> Result<Conversation> {
        let request = CreateConversationRequest {
            kind: ConversationKind::Group,
            subject: Some(subject.to_owned()),
            description: None,
            participants: members.into_iter().map(Into::into).collect(),
            settings: None,
        };
        self.call(Method::POST, "/conversations", &[], Some(&request)).await
    }

    /// Every conversation of this user, most recently active first.
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        let mut all = Vec::new();
        for page in 1u32.. {
            let found: ConversationPage = self
                .call(
                    Method::GET,
                    "/conversations",
                    &[("page", page.to_string()), ("limit", "100".to_owned())],
                    None,
                )
                .await?;
            let done = found.conversations.is_empty() || all.len() + found.conversations.len() >= found.total;
            all.extend(found.conversations);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// The members of a conversation.
    pub async fn participants(&self, conversation: ConversationId) -> Result<Vec<Participant>> {
        let list: ParticipantList = self
            .call(
                Method::GET,
                &format!("/conversations/{conversation}/participants"),
                &[],
                None,
            )
            .await?;
        Ok(list.participants)
    }

    /// This device's history of a conversation (sent and received), in sequence order.
    pub fn history(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        let mut messages = self.inner.history.read(conversation)?;
        messages.sort_by_key(|m| m.sequence_number);
        Ok(messages)
    }

    // ---- sending --------------------------------------------------------------------------------

    /// Encrypts `plaintext` as a `text` message for every device in the conversation (the other
    /// participants' active devices and this user's other devices) and posts it.
    pub async fn send(&self, conversation: ConversationId, plaintext: impl AsRef<[u8]>) -> Result<SentMessage> {
        let client_message_id = uuid::Uuid::new_v4().to_string();
        self.send_message(conversation, "text", &client_message_id, plaintext.as_ref())
            .await
    }

    /// [`Client::send`] with an explicit message type and idempotency key: posting the same
    /// `client_message_id` again returns the original message instead of a duplicate.
    pub async fn send_message(
        &self,
        conversation: ConversationId,
        message_type: &str,
        client_message_id: &str,
        plaintext: &[u8],
    ) -> Result<SentMessage> {
        let mut targets = Vec::new();
        let mut skipped = Vec::new();
        for participant in self.participants(conversation).await? {
            let devices: PublicDeviceList = self
                .call(
                    Method::GET,
                    &format!("/users/{}/devices", participant.user_id),
                    &[],
                    None,
                )
                .await?;
            for device in devices.devices {
                if device.id == self.device_id() {
                    continue;
                }
                if device.has_active_keys {
                    targets.push((participant.user_id, device.id));
                } else {
                    skipped.push(device.id);
                }
            }
        }
        let ciphertexts = self.encrypt_for(&targets, plaintext, &mut skipped).await?;
        let recipients = ciphertexts.iter().map(|c| c.recipient_device_id).collect();
        let request = SendMessageRequest {
            conversation_id: conversation,
            ciphertexts,
            message_type: message_type.to_owned(),
            client_message_id: client_message_id.to_owned(),
            reply_to: None,
            mentions: Vec::new(),
        };
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        let stored: Message = loop {
            match self.call(Method::POST, "/messages", &[], Some(&request)).await {
                Ok(message) => break message,
                Err(err) if err.is_transient() && attempt < SEND_ATTEMPTS => {
                    tracing::debug!(%err, attempt, "send failed; retrying with the same client_message_id");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        };
        let message = StoredMessage {
            message_id: stored.id,
            conversation_id: stored.conversation_id,
            sequence_number: stored.sequence_number,
            sender_id: self.user_id(),
            sender_device_id: self.device_id(),
            client_message_id: stored.client_message_id,
            message_type: stored.message_type,
            created_at: stored.created_at,
            outgoing: true,
            plaintext: Base64Bytes(plaintext.to_vec()),
        };
        if !self.inner.history.contains(conversation, message.message_id)? {
            self.inner.history.append(&message)?;
        }
        Ok(SentMessage {
            message,
            recipients,
            skipped,
        })
    }

    /// One ciphertext per target device, starting a session (from a freshly claimed bundle) with
    /// each device this device has none with. Sessions are saved before the message is posted, so a
    /// failed post costs the peer one skipped message key, never a reused one.
    async fn encrypt_for(
        &self,
        targets: &[(UserId, DeviceId)],
        plaintext: &[u8],
        skipped: &mut Vec<DeviceId>,
    ) -> Result<Vec<DeviceCiphertext>> {
        let profile = &self.inner.profile;
        let _guard = profile.lock().await?;
        let mut trust: Option<Trust> = None;
        let mut ciphertexts = Vec::with_capacity(targets.len());
        for &(user, device) in targets {
            let name = SessionRecord::file_name(device);
            let mut record = profile
                .read_packed::<SessionRecord>(&name)?
                .unwrap_or_else(|| SessionRecord::new(user, device));
            if record.user_id != user {
                return Err(Error::Protocol(format!("device {device} moved to another user")));
            }
            if record.is_empty() {
                let bundle: KeyBundle = match self
                    .call(
                        Method::GET,
                        "/encryption/bundles",
                        &[("user_id", user.to_string()), ("device_id", device.to_string())],
                        None,
                    )
                    .await
                {
                    Ok(bundle) => bundle,
                    // Deactivated, or its keys withdrawn, since the device list was read.
                    Err(err) if err.is_status(404) => {
                        skipped.push(device);
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                if bundle.user_id != user || bundle.device_id != device {
                    return Err(Error::Protocol(format!(
                        "the node served a bundle of another device for {device}"
                    )));
                }
                let pins = match &mut trust {
                    Some(pins) => pins,
                    None => trust.insert(profile.read_json(TRUST)?.unwrap_or_default()),
                };
                if pins.check(user, device, &bundle.identity_key)? == Verdict::New {
                    pins.pin(user, device, bundle.identity_key);
                    profile.write_json(TRUST, pins)?;
                }
                record.add(Session::initiate(&self.inner.identity, &bundle)?);
            }
            let session = record
                .current_mut()
                .ok_or_else(|| Error::Protocol("a session vanished while encrypting".into()))?;
            let encrypted = session.encrypt(plaintext)?;
            profile.write_packed(&name, &record)?;
            ciphertexts.push(encrypted.into_device_ciphertext(device));
        }
        Ok(ciphertexts)
    }

    // ---- receiving ------------------------------------------------------------------------------

    /// Starts listening on the WebSocket: every message for this device is decrypted, stored and
    /// acknowledged, and handed out by the returned [`Listener`]. Must be called inside a Tokio runtime.
    pub fn listen(&self) -> Listener {
        Listener::spawn(self.clone())
    }

    /// Decrypts one `message:new` event for this device, stores it and returns it; `None` when it
    /// was already stored (a replay). Checks the initiator's identity key of an initial message
    /// against the key the node publishes for the sending device.
    pub async fn receive(&self, event: &MessageEvent) -> Result<Option<StoredMessage>> {
        let history = &self.inner.history;
        if history.contains(event.conversation_id, event.message_id)? {
            return Ok(None);
        }
        let header = event
            .header
            .as_ref()
            .ok_or_else(|| Error::Protocol(format!("message {} has no ratchet header", event.message_id)))?;
        let decoded = MessageHeader::decode(&header.0)?;
        if let Some(prekey) = decoded.prekey {
            self.verify_identity(event.sender_id, event.sender_device_id, prekey.identity_key)
                .await?;
        }
        let profile = &self.inner.profile;
        let (stored, used_one_time) = {
            let _guard = profile.lock().await?;
            // Another holder of the profile may have taken it while this one waited for the lock.
            if history.contains(event.conversation_id, event.message_id)? {
                return Ok(None);
            }
            let name = SessionRecord::file_name(event.sender_device_id);
            let mut record = profile
                .read_packed::<SessionRecord>(&name)?
                .unwrap_or_else(|| SessionRecord::new(event.sender_id, event.sender_device_id));
            if record.user_id != event.sender_id {
                return Err(Error::Protocol(format!(
                    "device {} belongs to another user than the sender",
                    event.sender_device_id
                )));
            }
            let mut prekeys: PreKeys = profile.read_packed(PREKEYS)?.unwrap_or_default();
            let decrypted = record
                .decrypt(&self.inner.identity, &prekeys, &header.0, &event.content.0)?
                .ok_or(Error::NoSession {
                    device: event.sender_device_id,
                    message: event.message_id,
                })?;
            let stored = StoredMessage {
                message_id: event.message_id,
                conversation_id: event.conversation_id,
                sequence_number: event.sequence_number,
                sender_id: event.sender_id,
                sender_device_id: event.sender_device_id,
                client_message_id: event.client_message_id.clone(),
                message_type: event.message_type.clone(),
                created_at: event.created_at,
                outgoing: false,
                plaintext: Base64Bytes(decrypted.plaintext),
            };
            // The message first: if the process dies before the session is saved, the replayed copy
            // is recognised as received, and the stale session still decrypts the next message.
            history.append(&stored)?;
            profile.write_packed(&name, &record)?;
            if let Some(id) = decrypted.used_one_time
                && prekeys.remove_one_time(id)
            {
                profile.write_packed(PREKEYS, &prekeys)?;
            }
            (stored, decrypted.used_one_time)
        };
        if used_one_time.is_some()
            && let Err(err) = self.refill_one_time_prekeys().await
        {
            tracing::warn!(%err, "could not top up one-time prekeys");
        }
        Ok(Some(stored))
    }

    /// Accepts `key` as the identity of `device` only if it is the pinned key, or (for a device not
    /// seen before) the key the node publishes for it, which is then pinned.
    async fn verify_identity(&self, user: UserId, device: DeviceId, key: IdentityPublicKey) -> Result<()> {
        let profile = &self.inner.profile;
        let trust: Trust = profile.read_json(TRUST)?.unwrap_or_default();
        if trust.check(user, device, &key)? == Verdict::Known {
            return Ok(());
        }
        if self.published_identity(user, device).await? != key {
            return Err(Error::IdentityMismatch { device });
        }
        let _guard = profile.lock().await?;
        let mut trust: Trust = profile.read_json(TRUST)?.unwrap_or_default();
        if trust.check(user, device, &key)? == Verdict::New {
            trust.pin(user, device, key);
            profile.write_json(TRUST, &trust)?;
        }
        Ok(())
    }
}

/// Loads the profile's account file, or starts one for a new device of `http`'s node.
fn prepare_account(profile: &Profile, http: &Http) -> Result<AccountFile> {
    match profile.read_json::<AccountFile>(ACCOUNT)? {
        Some(account) if account.server.trim_end_matches('/') != http.base() => Err(Error::profile(format!(
            "{} belongs to the node {}, not {}",
            profile.dir().display(),
            account.server,
            http.base()
        ))),
        Some(account) => Ok(account),
        None => {
            let account = AccountFile {
                server: http.base().to_owned(),
                device_id: DeviceId::random(),
                user_id: None,
                username: None,
                tokens: None,
            };
            profile.write_json(ACCOUNT, &account)?;
            Ok(account)
        }
    }
}

fn load_or_create_identity(profile: &Profile) -> Result<IdentityKeyPair> {
    if let Some(identity) = profile.read_packed(IDENTITY)? {
        return Ok(identity);
    }
    let identity = IdentityKeyPair::generate();
    profile.write_packed(IDENTITY, &identity)?;
    Ok(identity)
}
