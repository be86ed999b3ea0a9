//! Accounts, logins and sessions. The acting user of every other request is the `Actor` this service
//! derives from an access token, never a field the client sends.

mod accounts;
mod failed_logins;
mod passwords;
pub(crate) mod sessions;
pub(crate) mod tokens;

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    AccountRole, AuthResponse, ForgotPasswordRequest, ForgotPasswordResponse, LoginRequest, RefreshRequest,
    RegisterRequest, ResetPasswordRequest, SessionInfo, SessionList, Timestamp, TokenPair,
};
use protocol::{DeviceId, SessionId, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use self::accounts::NewAccount;
use self::sessions::{REMEMBERED_SPENT_TOKENS, SessionRecord};
use self::tokens::{Claims, Tokens};
use crate::realtime::Hub;
use crate::storage::{Store, decode, encode};
use crate::users::records::{self as users, DeviceRecord, UserRecord};
use crate::{Config, Error, Registration, Result, validate};

/// Who is making a request: the user, device and session behind a verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The authenticated user.
    pub user_id: UserId,
    /// The device the session belongs to.
    pub device_id: DeviceId,
    /// The session the token was issued for.
    pub session_id: SessionId,
}

impl Actor {
    /// A user's device acting outside any session here: through a request its home node makes for
    /// it, or through work it queued earlier.
    pub(crate) fn without_session(user_id: UserId, device_id: DeviceId) -> Self {
        Self {
            user_id,
            device_id,
            session_id: SessionId::from_bytes([0; 16]),
        }
    }
}

/// How often a session's `last_active` is rewritten; finer tracking would cost a write per request.
const LAST_ACTIVE_RESOLUTION_SECS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct ResetRecord {
    user_id: UserId,
    expires_at: Timestamp,
}

/// The authentication service.
pub struct Auth {
    store: Store,
    config: Arc<Config>,
    tokens: Tokens,
    hub: Arc<Hub>,
    /// Serialises writes to the unique account indexes (email, username, phone, device ownership).
    accounts: Mutex<()>,
    passwords: passwords::Passwords,
    failed_logins: failed_logins::FailedLogins,
    decoded_sessions: sessions::DecodedSessions,
}

impl Auth {
    pub(crate) fn new(store: Store, config: Arc<Config>, hub: Arc<Hub>) -> Result<Self> {
        let tokens = Tokens::load_or_create(&config.data_dir)?;
        Ok(Self {
            store,
            passwords: passwords::Passwords::new(config.password_hashing),
            failed_logins: failed_logins::FailedLogins::new(if config.rate_limits.enabled {
                config.rate_limits.failed_logins_per_account
            } else {
                0
            }),
            config,
            tokens,
            hub,
            accounts: Mutex::new(()),
            decoded_sessions: sessions::DecodedSessions::default(),
        })
    }

    /// Creates an account with its first device and session, if the node's registration mode lets
    /// this request in.
    pub async fn register(&self, request: RegisterRequest, ip: Option<String>) -> Result<AuthResponse> {
        if self.config.registration == Registration::Closed {
            return Err(Error::forbidden(
                "registration is closed on this node: its operator creates accounts",
            ));
        }
        let account = NewAccount::checked(
            &request.email,
            &request.username,
            request.phone_number.as_deref(),
            request.display_name.as_deref(),
        )?;
        validate::password("password", &request.password)?;
        let device_name = device_name(request.device_name.as_deref())?;
        let device_type = validate::device_type(request.device_type.as_deref())?;
        if let Some(backup) = &request.key_backup {
            users::check_key_backup(backup)?;
        }
        let password_hash = self.passwords.hash(request.password).await?;

        let _guard = self.accounts.lock().await;
        if self
            .store
            .trees
            .deviceid_device
            .contains_key(request.device_id.as_bytes())?
        {
            return Err(Error::Conflict("device_id is already registered".into()));
        }
        account.check_free(&self.store)?;
        if self.config.registration == Registration::Token {
            let token = request
                .registration_token
                .as_deref()
                .ok_or_else(|| Error::forbidden("this node registers by invitation: registration_token is required"))?;
            crate::admin::registration_tokens::spend(&self.store, token)?;
        }
        let user = account.insert(
            &self.store,
            password_hash,
            AccountRole::User,
            request.key_backup.as_ref(),
        )?;
        let device = DeviceRecord::new(request.device_id, user.id, device_name, device_type, user.created_at);
        users::put_device(&self.store, &device)?;
        let response = self.open_session(&user, &device, ip)?;
        drop(_guard);
        self.store.commit().await?;
        tracing::info!(user = %user.id, username = %user.username, "account registered");
        Ok(response)
    }

    /// Creates an account with no device, whatever the registration mode: operators make accounts so.
    pub(crate) async fn create_account(
        &self,
        request: &protocol::api::CreateUserRequest,
        password: String,
    ) -> Result<UserRecord> {
        let account = NewAccount::checked(&request.email, &request.username, None, request.display_name.as_deref())?;
        validate::password("password", &password)?;
        let password_hash = self.passwords.hash(password).await?;
        let _guard = self.accounts.lock().await;
        account.check_free(&self.store)?;
        let user = account.insert(&self.store, password_hash, request.role, None)?;
        drop(_guard);
        self.store.commit().await?;
        Ok(user)
    }

    /// Held while accounts are created or suspended and sessions opened: an operator's suspension
    /// and a login never interleave.
    pub(crate) async fn accounts_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.accounts.lock().await
    }

    /// Logs a device in, registering it to the account if it is new. A device has one live session:
    /// logging in again replaces the previous one.
    pub async fn login(&self, request: LoginRequest, ip: Option<String>) -> Result<AuthResponse> {
        let identity = validate::text("identity", &request.identity, 1, 254)?;
        let device_name = device_name(request.device_name.as_deref())?;
        let device_type = validate::device_type(request.device_type.as_deref())?;
        let user = users::find_by_identity(&self.store, &identity)?;
        let account = match &user {
            Some(user) => user.id.to_string(),
            None => format!("unknown:{}", identity.to_lowercase()),
        };
        self.failed_logins.check(&account)?;
        let ok = self
            .passwords
            .verify(request.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let user = match user {
            Some(user) if ok => user,
            _ => {
                self.failed_logins.failed(&account);
                return Err(Error::Unauthorized("invalid identity or password"));
            }
        };
        self.failed_logins.succeeded(&account);

        let _guard = self.accounts.lock().await;
        // Again under the lock an operator suspends under, so no session opens after a suspension.
        if users::get_user(&self.store, user.id)?.is_none_or(|user| user.suspended_at.is_some()) {
            return Err(Error::forbidden("this account is suspended: ask the node's operator"));
        }
        let now = Utc::now();
        let device = match users::get_device(&self.store, request.device_id)? {
            Some(device) if device.user_id != user.id => {
                return Err(Error::Conflict("device_id is registered to another account".into()));
            }
            Some(mut device) => {
                device.active = true;
                device.last_active = Some(now);
                if request.device_name.is_some() {
                    device.name = device_name;
                }
                if request.device_type.is_some() {
                    device.kind = device_type;
                }
                device
            }
            None => DeviceRecord::new(request.device_id, user.id, device_name, device_type, now),
        };
        users::put_device(&self.store, &device)?;
        for old in sessions::of_user(&self.store, user.id)?
            .into_iter()
            .filter(|s| s.device_id == device.id)
        {
            self.end_session(&old)?;
        }
        let response = self.open_session(&user, &device, ip)?;
        drop(_guard);
        self.store.commit().await?;
        Ok(response)
    }

    fn open_session(&self, user: &UserRecord, device: &DeviceRecord, ip: Option<String>) -> Result<AuthResponse> {
        let now = Utc::now();
        let refresh_token = tokens::opaque();
        let session = SessionRecord {
            id: SessionId::random(),
            user_id: user.id,
            device_id: device.id,
            refresh_hash: tokens::digest(&refresh_token),
            spent_hashes: Vec::new(),
            refresh_expires_at: now + self.config.refresh_token_ttl,
            ip_address: ip,
            created_at: now,
            last_active: now,
        };
        sessions::insert(&self.store, &session)?;
        let (access_token, expires_at) = self.access_token(&session)?;
        Ok(AuthResponse {
            user_id: user.id,
            device_id: device.id,
            session_id: session.id,
            access_token,
            refresh_token,
            expires_at,
            refresh_expires_at: session.refresh_expires_at,
        })
    }

    fn access_token(&self, session: &SessionRecord) -> Result<(String, Timestamp)> {
        let now = Utc::now();
        let expires_at = now + self.config.access_token_ttl;
        let token = self.tokens.issue(&Claims {
            sub: session.user_id,
            sid: session.id,
            did: session.device_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        })?;
        Ok((token, expires_at))
    }

    /// Exchanges a refresh token for a new pair. Presenting an already spent token means it was copied:
    /// the whole session is revoked.
    pub async fn refresh(&self, request: RefreshRequest) -> Result<TokenPair> {
        let presented = tokens::digest(&request.refresh_token);
        let tree = &self.store.trees.sessionid_session;
        loop {
            let Some(old_bytes) = tree.get(request.session_id.as_bytes())? else {
                return Err(Error::Unauthorized("session expired or revoked"));
            };
            let mut session: SessionRecord = decode(&old_bytes)?;
            if session.spent_hashes.contains(&presented) {
                tracing::warn!(session = %session.id, user = %session.user_id, "refresh token reuse; session revoked");
                self.end_session(&session)?;
                self.store.commit().await?;
                return Err(Error::Unauthorized("refresh token reuse detected; session revoked"));
            }
            if session.refresh_hash != presented {
                return Err(Error::Unauthorized("invalid refresh token"));
            }
            let now = Utc::now();
            if session.refresh_expires_at <= now {
                self.end_session(&session)?;
                return Err(Error::Unauthorized("refresh token expired"));
            }
            let refresh_token = tokens::opaque();
            session.spent_hashes.push(session.refresh_hash);
            if session.spent_hashes.len() > REMEMBERED_SPENT_TOKENS {
                session.spent_hashes.remove(0);
            }
            session.refresh_hash = tokens::digest(&refresh_token);
            session.refresh_expires_at = now + self.config.refresh_token_ttl;
            session.last_active = now;
            let swapped = tree.compare_and_swap(session.id.as_bytes(), Some(old_bytes), Some(encode(&session)))?;
            if swapped.is_err() {
                continue;
            }
            self.store.commit().await?;
            let (access_token, expires_at) = self.access_token(&session)?;
            return Ok(TokenPair {
                access_token,
                refresh_token,
                expires_at,
                refresh_expires_at: session.refresh_expires_at,
            });
        }
    }

    /// The user a validly signed, unexpired token names, without consulting the store: enough to
    /// account requests to a user before the handler authenticates them fully.
    pub fn token_subject(&self, token: &str) -> Option<UserId> {
        self.tokens.verify(token).ok().map(|claims| claims.sub)
    }

    /// Verifies an access token and that its session is still live, so revocation takes effect at once.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let claims = self.tokens.verify(token)?;
        let tree = &self.store.trees.sessionid_session;
        let Some(stored) = tree.get(claims.sid.as_bytes())? else {
            return Err(Error::Unauthorized("session expired or revoked"));
        };
        let session = self.decoded_sessions.view(claims.sid, &stored)?;
        if session.user_id != claims.sub || session.device_id != claims.did {
            return Err(Error::Unauthorized("invalid access token"));
        }
        let now = Utc::now();
        if (now - session.last_active).num_seconds() >= LAST_ACTIVE_RESOLUTION_SECS {
            let mut record: SessionRecord = decode(&stored)?;
            record.last_active = now;
            // A compare-and-swap, so a concurrent refresh's token rotation is never overwritten; losing
            // the race only loses this activity stamp.
            let _ = tree.compare_and_swap(claims.sid.as_bytes(), Some(stored), Some(encode(&record)))?;
        }
        Ok(Actor {
            user_id: session.user_id,
            device_id: session.device_id,
            session_id: claims.sid,
        })
    }

    /// Ends one of the caller's sessions (the current one by default).
    pub async fn logout(&self, actor: &Actor, session: Option<SessionId>) -> Result<()> {
        self.revoke_session(actor, session.unwrap_or(actor.session_id)).await
    }

    /// Ends every session of the caller, this one included.
    pub async fn logout_all(&self, actor: &Actor) -> Result<usize> {
        self.revoke_sessions_where(actor.user_id, |_| true).await
    }

    /// Ends every session of the caller but the current one.
    pub async fn revoke_other_sessions(&self, actor: &Actor) -> Result<usize> {
        let current = actor.session_id;
        self.revoke_sessions_where(actor.user_id, |s| s.id != current).await
    }

    /// Ends one of the caller's own sessions; another user's session is reported as not found.
    pub async fn revoke_session(&self, actor: &Actor, id: SessionId) -> Result<()> {
        match sessions::get(&self.store, id)? {
            Some(session) if session.user_id == actor.user_id => {
                self.end_session(&session)?;
                self.store.commit().await
            }
            _ => Err(Error::NotFound("session")),
        }
    }

    pub(crate) async fn revoke_sessions_where(
        &self,
        user: UserId,
        keep_out: impl Fn(&SessionRecord) -> bool,
    ) -> Result<usize> {
        let mut ended = 0;
        for session in sessions::of_user(&self.store, user)?.iter().filter(|s| keep_out(s)) {
            self.end_session(session)?;
            ended += 1;
        }
        self.store.commit().await?;
        Ok(ended)
    }

    fn end_session(&self, session: &SessionRecord) -> Result<()> {
        sessions::remove(&self.store, session)?;
        self.hub.disconnect_session(session.user_id, session.id);
        Ok(())
    }

    /// The caller's live sessions, newest first.
    pub fn sessions(&self, actor: &Actor) -> Result<SessionList> {
        let mut list = Vec::new();
        for session in sessions::of_user(&self.store, actor.user_id)? {
            let device = users::get_device(&self.store, session.device_id)?;
            list.push(SessionInfo {
                id: session.id,
                device_id: session.device_id,
                device_name: device.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                device_type: device.map(|d| d.kind).unwrap_or_default(),
                ip_address: session.ip_address,
                last_active: session.last_active,
                created_at: session.created_at,
                is_current: session.id == actor.session_id,
            });
        }
        list.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(SessionList { sessions: list })
    }

    /// Issues a single-use reset token. The answer is the same whether or not the account exists; there
    /// is no mail server, so the token goes to the node's log, or into the answer in development mode.
    pub async fn forgot_password(&self, request: ForgotPasswordRequest) -> Result<ForgotPasswordResponse> {
        let identity = validate::text("identity", &request.identity, 1, 254)?;
        let message = "if the account exists, a reset token has been issued".to_owned();
        let Some(user) = users::find_by_identity(&self.store, &identity)? else {
            return Ok(ForgotPasswordResponse {
                message,
                reset_token: None,
            });
        };
        let (token, _) = self.issue_reset_token(user.id).await?;
        if self.config.dev_mode {
            Ok(ForgotPasswordResponse {
                message,
                reset_token: Some(token),
            })
        } else {
            tracing::info!(user = %user.id, reset_token = %token, "password reset token issued");
            Ok(ForgotPasswordResponse {
                message,
                reset_token: None,
            })
        }
    }

    /// A single-use token that sets the account's password, and when it expires. One live reset token
    /// per account: issuing a new one revokes the previous one.
    pub(crate) async fn issue_reset_token(&self, user: UserId) -> Result<(String, Timestamp)> {
        let token = tokens::opaque();
        let record = ResetRecord {
            user_id: user,
            expires_at: Utc::now() + self.config.reset_token_ttl,
        };
        let hash = tokens::digest(&token);
        let t = &self.store.trees;
        if let Some(previous) = t.userid_resethash.insert(user.as_bytes(), &hash)? {
            t.resethash_reset.remove(previous)?;
        }
        t.resethash_reset.insert(hash, encode(&record))?;
        self.store.commit().await?;
        Ok((token, record.expires_at))
    }

    /// Sets a new password with a reset token, spends the token and ends every session of the account.
    pub async fn reset_password(&self, request: ResetPasswordRequest) -> Result<()> {
        validate::password("new_password", &request.new_password)?;
        let hash = tokens::digest(&request.reset_token);
        let Some(bytes) = self.store.trees.resethash_reset.remove(hash)? else {
            return Err(Error::Unauthorized("invalid or already used reset token"));
        };
        let record: ResetRecord = decode(&bytes)?;
        self.store.trees.userid_resethash.remove(record.user_id.as_bytes())?;
        if record.expires_at <= Utc::now() {
            self.store.commit().await?;
            return Err(Error::Unauthorized("reset token expired"));
        }
        let password_hash = self.passwords.hash(request.new_password).await?;
        let Some(mut user) = users::get_user(&self.store, record.user_id)? else {
            return Err(Error::NotFound("user"));
        };
        user.password_hash = password_hash;
        user.updated_at = Utc::now();
        self.store.trees.userid_user.insert(user.id.as_bytes(), encode(&user))?;
        self.revoke_sessions_where(user.id, |_| true).await?;
        Ok(())
    }
}

fn device_name(value: Option<&str>) -> Result<String> {
    Ok(validate::optional_text("device_name", value, 64)?.unwrap_or_else(|| "unnamed device".into()))
}
