//! `/auth/*`: registration with the account's key backup, login (which returns the backup to its
//! owner), refresh, logout and the caller's sessions. Every login is a device of its own
//! (`dialects::sessions`).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::SessionId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{Auth as AuthAnswer, DONE, Done, Keys, Session as SessionOut, User};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::dialects::sessions::{self, Account, Session};
use crate::extract::{Auth, ClientIp, Json, Path};

const DIALECT: &str = "chats-axum";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(sessions_list, revoke_others))
        .routes(routes!(revoke))
}

/// `login` is the email address the account logs in with.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumRegister)]
pub(super) struct Register {
    #[schema(max_length = 254, format = "email")]
    login: String,
    #[schema(max_length = 32, format = "username")]
    username: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    nickname: Option<String>,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    password: String,
    #[schema(min_length = 1, max_length = 16384, format = "opaque")]
    pkebymk: String,
    #[schema(min_length = 1, max_length = 16384, format = "opaque")]
    pkebyrk: String,
    #[schema(min_length = 1, max_length = 16384, format = "opaque")]
    pubk: String,
    #[schema(min_length = 1, max_length = 16384, format = "opaque")]
    salt: String,
}

/// `remember_me` is accepted and changes nothing: every session lives as long as the node's
/// refresh-token lifetime.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumLogin)]
pub(super) struct Login {
    /// The email address, or the username.
    #[schema(min_length = 1, max_length = 254)]
    login: String,
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumRefresh)]
pub(super) struct Refresh {
    refresh_token: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = ChatsAxumTokens)]
pub(super) struct Tokens {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

fn answer(state: &AppState, session: Session) -> Result<JsonAnswer<AuthAnswer>> {
    let me = state.services.users.me(&session.actor)?;
    let keys = state.services.users.key_backup(&session.actor)?.map(Keys::from);
    Ok(JsonAnswer(AuthAnswer {
        user: User::from(me),
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        token_type: "Bearer",
        expires_in: session.expires_in,
        keys,
    }))
}

/// # `POST /auth/register`
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = TAG,
    summary = "Register with a key backup (chats-axum)",
    security(()),
    request_body = Register,
    responses(
        (status = 201, description = "The account, its tokens and its key backup", body = AuthAnswer),
        (status = 400, description = "Invalid input (`login` must be an email address)", body = ErrorBody),
        (status = 409, description = "The login or username is taken", body = ErrorBody),
        (status = 429, description = "Auth throttling", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Extracted<Json<Register>>,
) -> Result<(StatusCode, JsonAnswer<AuthAnswer>)> {
    let Json(body) = body?;
    let keys = Keys {
        pkebymk: body.pkebymk,
        pkebyrk: body.pkebyrk,
        pubk: body.pubk,
        salt: body.salt,
    };
    let account = Account {
        email: body.login,
        username: body.username,
        password: body.password,
        display_name: body.nickname,
        key_backup: Some(keys.into()),
    };
    let session = sessions::register(&state, &headers, DIALECT, ip, account).await?;
    Ok((StatusCode::CREATED, answer(&state, session)?))
}

/// # `POST /auth/login`
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = TAG,
    summary = "Log in (chats-axum)",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "The account, its tokens and its key backup", body = AuthAnswer),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Wrong login or password", body = ErrorBody),
        (status = 429, description = "Auth throttling", body = ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Extracted<Json<Login>>,
) -> Result<JsonAnswer<AuthAnswer>> {
    let Json(body) = body?;
    let session = sessions::login(&state, &headers, DIALECT, ip, body.login, body.password).await?;
    answer(&state, session)
}

/// # `POST /auth/refresh`
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = TAG,
    summary = "A new token pair (chats-axum)",
    security(()),
    request_body = Refresh,
    responses(
        (status = 200, description = "The new pair; the refresh token presented is spent", body = Tokens),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Invalid, spent or expired refresh token", body = ErrorBody),
        (status = 429, description = "Auth throttling", body = ErrorBody),
    ),
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    body: Extracted<Json<Refresh>>,
) -> Result<JsonAnswer<Tokens>> {
    let Json(body) = body?;
    let pair = sessions::refresh(&state, &body.refresh_token).await?;
    Ok(JsonAnswer(Tokens {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
    }))
}

/// # `POST /auth/logout`
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = TAG,
    summary = "End this session (chats-axum)",
    responses(
        (status = 200, description = "Ended", body = Done),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn logout(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<Done>> {
    let Auth(actor) = auth?;
    state.services.auth.logout(&actor, None).await?;
    Ok(JsonAnswer(DONE))
}

/// # `GET /auth/sessions`
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = TAG,
    summary = "The caller's sessions (chats-axum)",
    responses(
        (status = 200, description = "Live sessions, `current` marking this one", body = Vec<SessionOut>),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn sessions_list(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
) -> Result<JsonAnswer<Vec<SessionOut>>> {
    let Auth(actor) = auth?;
    let sessions = state
        .services
        .auth
        .sessions(&actor)?
        .sessions
        .into_iter()
        .map(|s| SessionOut {
            id: s.id,
            device_id: s.device_id,
            device_name: s.device_name,
            ip: s.ip_address,
            created_at: s.created_at,
            last_active: s.last_active,
            current: s.is_current,
        })
        .collect();
    Ok(JsonAnswer(sessions))
}

/// # `DELETE /auth/sessions`
#[utoipa::path(
    delete,
    path = "/auth/sessions",
    tag = TAG,
    summary = "End every session but this one (chats-axum)",
    responses(
        (status = 200, description = "Ended", body = Done),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke_others(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<Done>> {
    let Auth(actor) = auth?;
    state.services.auth.revoke_other_sessions(&actor).await?;
    Ok(JsonAnswer(DONE))
}

/// # `DELETE /auth/sessions/{id}`
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = TAG,
    summary = "End one of the caller's sessions (chats-axum)",
    params(("id" = SessionId, Path, description = "The session")),
    responses(
        (status = 200, description = "Ended", body = Done),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<SessionId>>,
) -> Result<JsonAnswer<Done>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    state.services.auth.revoke_session(&actor, id).await?;
    Ok(JsonAnswer(DONE))
}
