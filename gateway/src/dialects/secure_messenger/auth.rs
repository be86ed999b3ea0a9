//! `/api/v1/auth/*`: register and login answer with a token pair; refresh rotates it; logout ends
//! the session. Every login is a device of its own (`dialects::sessions`), which then publishes its
//! keys at `/api/v1/keys`.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::dialects::sessions::{self, Account, Session};
use crate::extract::{Auth, ClientIp, Json};
use crate::{ApiError, AppState};

const DIALECT: &str = "secure-messenger";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerRegister)]
pub(super) struct Register {
    #[schema(max_length = 32, format = "username")]
    username: String,
    #[schema(max_length = 254, format = "email")]
    email: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    password: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    display_name: Option<String>,
}

/// The account by `username` or `email`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerLogin)]
pub(super) struct Login {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 254)]
    username: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 254)]
    email: Option<String>,
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecureMessengerRefresh)]
pub(super) struct Refresh {
    refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerUser)]
pub(super) struct User {
    id: UserId,
    username: String,
    email: String,
}

/// JWT tokens, and the device this login is: it publishes its keys under `/api/v1/keys`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerTokens)]
pub(super) struct Tokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<DeviceId>,
    access_token: String,
    /// Carries its session; spent by its first use at `/api/v1/auth/refresh`.
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

fn answer(state: &AppState, session: Session) -> Result<JsonAnswer<Tokens>> {
    let me = state.services.users.me(&session.actor)?;
    Ok(JsonAnswer(Tokens {
        user: Some(User {
            id: me.id,
            username: me.username,
            email: me.email,
        }),
        device_id: Some(session.actor.device_id),
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        token_type: "Bearer",
        expires_in: session.expires_in,
    }))
}

/// # `POST /api/v1/auth/register`
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = TAG,
    summary = "Create an account, returning JWT tokens (secure-messenger)",
    security(()),
    request_body = Register,
    responses(
        (status = 201, description = "The account, its device and tokens", body = Tokens),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "The username or email is taken", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Extracted<Json<Register>>,
) -> Result<(StatusCode, JsonAnswer<Tokens>)> {
    let Json(body) = body?;
    let account = Account {
        email: body.email,
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        key_backup: None,
    };
    let session = sessions::register(&state, &headers, DIALECT, ip, account).await?;
    Ok((StatusCode::CREATED, answer(&state, session)?))
}

/// # `POST /api/v1/auth/login`
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = TAG,
    summary = "Log in, returning JWT tokens (secure-messenger)",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "The account, this login's device and tokens", body = Tokens),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Wrong username, email or password", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Extracted<Json<Login>>,
) -> Result<JsonAnswer<Tokens>> {
    let Json(body) = body?;
    let identity = body
        .username
        .or(body.email)
        .ok_or_else(|| ApiError::validation("username or email is required"))?;
    let session = sessions::login(&state, &headers, DIALECT, ip, identity, body.password).await?;
    answer(&state, session)
}

/// # `POST /api/v1/auth/refresh`
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = TAG,
    summary = "Refresh an expired access token (secure-messenger)",
    security(()),
    request_body = Refresh,
    responses(
        (status = 200, description = "The new pair; the refresh token presented is spent", body = Tokens),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Invalid, spent or expired refresh token", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    body: Extracted<Json<Refresh>>,
) -> Result<JsonAnswer<Tokens>> {
    let Json(body) = body?;
    let pair = sessions::refresh(&state, &body.refresh_token).await?;
    Ok(JsonAnswer(Tokens {
        user: None,
        device_id: None,
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
    }))
}

/// `{"message": …}` after a logout.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecureMessengerNotice)]
pub(super) struct Notice {
    message: &'static str,
}

/// # `POST /api/v1/auth/logout`
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = TAG,
    summary = "End this session (secure-messenger)",
    responses(
        (status = 200, description = "Logged out", body = Notice),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn logout(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<Notice>> {
    let Auth(actor) = auth?;
    state.services.auth.logout(&actor, None).await?;
    Ok(JsonAnswer(Notice { message: "logged out" }))
}
