//! `/api/auth/*`: register, login, refresh, logout. Every login is a device of its own
//! (`dialects::sessions`).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{Auth as AuthAnswer, Notice, User};
use super::{Client, Error, ErrorBody, Result, TAG};
use crate::dialects::errors::{CodedError, EitherError};
use crate::dialects::sessions::{self, Account, Session};
use crate::extract::{Auth, ClientIp, Json};
use crate::{ApiError, AppState};

const DIALECT: &str = "simple-chat";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimpleChatRegister)]
pub(super) struct Register {
    #[schema(max_length = 32, format = "username")]
    username: String,
    #[schema(max_length = 254, format = "email")]
    email: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    password: String,
}

/// `email` or `username` names the account (messaging-app logs in by email on the same path).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SimpleChatLogin)]
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
#[schema(as = SimpleChatRefresh)]
pub(super) struct Refresh {
    refresh_token: String,
}

/// The new access token, and the refresh token that replaces the one just spent (refresh tokens
/// rotate; the document's clients read only `access_token`, see `docs/DIALECTS.md`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatRefreshed)]
pub(super) struct Refreshed {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
    token_type: &'static str,
}

fn answer(state: &AppState, session: Session) -> Result<JsonAnswer<AuthAnswer>> {
    let me = state.services.users.me(&session.actor)?;
    Ok(JsonAnswer(AuthAnswer {
        user: User::from(me),
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        expires_in: session.expires_in,
        token_type: "Bearer",
    }))
}

/// # `POST /api/auth/register`
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = TAG,
    summary = "Register (simple-chat)",
    security(()),
    request_body = Register,
    responses(
        (status = 200, description = "The account and its tokens", body = AuthAnswer),
        (status = 400, description = "Invalid request body", body = ErrorBody),
        (status = 409, description = "The username or email is taken", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: std::result::Result<Json<Register>, ApiError>,
) -> Result<JsonAnswer<AuthAnswer>> {
    let Json(body) = body?;
    let account = Account {
        email: body.email,
        username: body.username,
        password: body.password,
        display_name: None,
        key_backup: None,
    };
    let session = sessions::register(&state, &headers, DIALECT, ip, account).await?;
    answer(&state, session)
}

/// # `POST /api/auth/login`
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = TAG,
    summary = "Log in by username or email (simple-chat, messaging-app)",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "The account and its tokens", body = AuthAnswer),
        (status = 400, description = "Invalid request body", body = ErrorBody),
        (status = 401, description = "Wrong username, email or password: `{\"error\": …}`, or messaging-app's `{\"error\": {code, message, details}}` for a login by email", body = EitherError),
        (status = 422, description = "messaging-app's validation error (a login by email)", body = CodedError),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: std::result::Result<Json<Login>, ApiError>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(err) => return Error::from(err).into_response(),
    };
    // messaging-app logs in by email; its client reads errors in its own shape.
    let client = match (&body.username, &body.email) {
        (None, Some(_)) => Client::MessagingApp,
        _ => Client::SimpleChat,
    };
    let answer = async {
        let identity = body
            .username
            .or(body.email)
            .ok_or_else(|| ApiError::validation("username or email is required"))?;
        let mut session = sessions::login(&state, &headers, DIALECT, ip, identity, body.password).await?;
        session.refresh_token = client.mark(&session.refresh_token);
        answer(&state, session)
    };
    client.respond(answer.await)
}

/// # `POST /api/auth/refresh`
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = TAG,
    summary = "Refresh the access token (simple-chat, messaging-app)",
    security(()),
    request_body = Refresh,
    responses(
        (status = 200, description = "A new access token and the next refresh token", body = Refreshed),
        (status = 400, description = "Invalid request body", body = ErrorBody),
        (status = 401, description = "Invalid, spent or expired refresh token (in messaging-app's shape for a token its login issued)", body = EitherError),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    body: std::result::Result<Json<Refresh>, ApiError>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(err) => return Error::from(err).into_response(),
    };
    let (client, token) = Client::of_refresh_token(&body.refresh_token);
    let answer = async {
        let pair = sessions::refresh(&state, token).await?;
        Ok(JsonAnswer(Refreshed {
            access_token: pair.access_token,
            refresh_token: client.mark(&pair.refresh_token),
            expires_in: pair.expires_in,
            token_type: "Bearer",
        }))
    };
    client.respond(answer.await)
}

/// Marks the refresh tokens of messaging-app logins, so a refresh knows whose error shape to use.
const MESSAGING_APP_MARK: &str = "ma.";

impl Client {
    fn mark(self, refresh_token: &str) -> String {
        match self {
            Client::SimpleChat => refresh_token.to_owned(),
            Client::MessagingApp => format!("{MESSAGING_APP_MARK}{refresh_token}"),
        }
    }

    fn of_refresh_token(token: &str) -> (Self, &str) {
        match token.strip_prefix(MESSAGING_APP_MARK) {
            Some(rest) => (Client::MessagingApp, rest),
            None => (Client::SimpleChat, token),
        }
    }
}

/// # `POST /api/auth/logout`
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = TAG,
    summary = "End this session (simple-chat)",
    responses(
        (status = 200, description = "Logged out", body = Notice),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    auth: std::result::Result<Auth, ApiError>,
) -> Result<JsonAnswer<Notice>> {
    let Auth(actor) = auth?;
    state.services.auth.logout(&actor, None).await?;
    Ok(JsonAnswer(Notice {
        message: "Logged out successfully",
    }))
}
