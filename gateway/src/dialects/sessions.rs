//! Sessions for clients that know nothing of devices or session ids. Each login of such a client is a
//! device of its own (one device per client session, named by the client's `X-Device-Name` header when
//! it sends one), and the refresh token it is given carries its session id, because those clients
//! refresh with the token alone (`POST .../refresh {"refresh_token"}`). Refresh tokens still rotate:
//! each refresh answers with a new one and spends the old.

use axum::http::HeaderMap;
use node::Actor;
use protocol::api::{AuthResponse, LoginRequest, RefreshRequest, RegisterRequest, TokenPair};
use protocol::{DeviceId, SessionId};

use crate::{ApiError, AppState};

/// Separates the session id from the secret in a dialect's refresh token.
const SEPARATOR: char = '.';

/// A new session of a dialect client, with the refresh token in the dialect's form.
pub(crate) struct Session {
    pub(crate) actor: Actor,
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: i64,
}

impl From<AuthResponse> for Session {
    /// The session the node just opened names its own actor; there is no token to verify again.
    fn from(auth: AuthResponse) -> Self {
        Self {
            actor: Actor {
                user_id: auth.user_id,
                device_id: auth.device_id,
                session_id: auth.session_id,
            },
            expires_in: seconds_until(auth.expires_at),
            refresh_token: pack(auth.session_id, &auth.refresh_token),
            access_token: auth.access_token,
        }
    }
}

/// A rotated pair in the dialect's form.
pub(crate) struct Refreshed {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: i64,
}

fn seconds_until(at: protocol::api::Timestamp) -> i64 {
    (at - chrono::Utc::now()).num_seconds().max(0)
}

fn pack(session: SessionId, secret: &str) -> String {
    format!("{session}{SEPARATOR}{secret}")
}

/// The session and secret of a dialect refresh token; anything else is simply an invalid token.
fn unpack(token: &str) -> Result<(SessionId, &str), ApiError> {
    let invalid = || ApiError::unauthorized("invalid refresh token");
    let (session, secret) = token.split_once(SEPARATOR).ok_or_else(invalid)?;
    Ok((session.parse().map_err(|_| invalid())?, secret))
}

/// The device's label: the client's `X-Device-Name`, else the dialect's name.
fn device_name(headers: &HeaderMap, dialect: &str) -> String {
    headers
        .get("x-device-name")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map_or_else(|| format!("{dialect} client"), |name| name.chars().take(64).collect())
}

/// Registers an account with a new device for the client.
pub(crate) async fn register(
    state: &AppState,
    headers: &HeaderMap,
    dialect: &str,
    ip: Option<String>,
    account: Account,
) -> Result<Session, ApiError> {
    let request = RegisterRequest {
        email: account.email,
        username: account.username,
        password: account.password,
        device_id: DeviceId::random(),
        phone_number: None,
        display_name: account.display_name,
        device_name: Some(device_name(headers, dialect)),
        device_type: Some("other".into()),
        key_backup: account.key_backup,
        registration_token: None,
    };
    Ok(state.services.auth.register(request, ip).await?.into())
}

/// What a dialect's registration names.
pub(crate) struct Account {
    pub(crate) email: String,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) display_name: Option<String>,
    pub(crate) key_backup: Option<protocol::api::KeyBackup>,
}

/// Logs the client in on a new device of the account (`identity` is an email or a username).
pub(crate) async fn login(
    state: &AppState,
    headers: &HeaderMap,
    dialect: &str,
    ip: Option<String>,
    identity: String,
    password: String,
) -> Result<Session, ApiError> {
    let request = LoginRequest {
        identity,
        password,
        device_id: DeviceId::random(),
        device_name: Some(device_name(headers, dialect)),
        device_type: Some("other".into()),
    };
    Ok(state.services.auth.login(request, ip).await?.into())
}

/// Exchanges a dialect refresh token for a new pair.
pub(crate) async fn refresh(state: &AppState, token: &str) -> Result<Refreshed, ApiError> {
    let (session_id, secret) = unpack(token)?;
    let request = RefreshRequest {
        session_id,
        refresh_token: secret.to_owned(),
    };
    let TokenPair {
        access_token,
        refresh_token,
        expires_at,
        ..
    } = state.services.auth.refresh(request).await?;
    Ok(Refreshed {
        access_token,
        refresh_token: pack(session_id, &refresh_token),
        expires_in: seconds_until(expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_session() {
        let session = SessionId::random();
        let packed = pack(session, "s3cret");
        assert_eq!(unpack(&packed).unwrap(), (session, "s3cret"));
        for bad in ["", "no-separator", "not-a-uuid.secret"] {
            assert!(unpack(bad).is_err(), "{bad}");
        }
    }
}
