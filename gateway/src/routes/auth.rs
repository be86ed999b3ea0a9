use axum::extract::State;
use protocol::SessionId;
use protocol::api::{
    AuthResponse, ForgotPasswordRequest, ForgotPasswordResponse, LoginRequest, LogoutRequest, MessageText,
    RefreshRequest, RegisterRequest, ResetPasswordRequest, SessionList, TokenPair,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, ClientIp, Json, Path};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::Null;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(sessions))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(revoke_other_sessions))
        .routes(routes!(revoke_session))
}

/// # `POST /v1/auth/register`
#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    summary = "Create an account and log its first device in",
    security(()),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account and a session for the device", body = AuthResponse),
        (status = 409, description = "The email, username, phone number or device id is taken"),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<AuthResponse> {
    created(state.services.auth.register(body, ip).await?)
}

/// # `POST /v1/auth/login`
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    summary = "Log a device in",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session for the device (replacing the device's previous one)", body = AuthResponse),
        (status = 401, description = "Wrong identity or password"),
        (status = 409, description = "The device id belongs to another account"),
        (status = 429, description = "Too many requests from this address (`RATE_LIMIT_EXCEEDED`), or too many failed logins against this account from anywhere in the last 15 minutes (`TOO_MANY_ATTEMPTS`)"),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> ApiResult<AuthResponse> {
    ok(state.services.auth.login(body, ip).await?)
}

/// # `POST /v1/auth/refresh`
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    summary = "Exchange a refresh token for a new token pair",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The new pair; the old refresh token is spent", body = TokenPair),
        (status = 401, description = "Unknown, expired or spent refresh token (a spent one also ends the session)"),
    ),
)]
pub(crate) async fn refresh(State(state): State<AppState>, Json(body): Json<RefreshRequest>) -> ApiResult<TokenPair> {
    ok(state.services.auth.refresh(body).await?)
}

/// # `POST /v1/auth/logout`
///
/// The body is optional; without a `session_id` the current session ends.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    summary = "End a session (the current one by default)",
    request_body(content = Option<LogoutRequest>, description = "Optional; without `session_id` the current session ends"),
    responses(
        (status = 200, description = "Ended", body = Null),
        (status = 404, description = "No such session of the caller"),
    ),
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Auth(actor): Auth,
    body: Option<Json<LogoutRequest>>,
) -> ApiResult<()> {
    let session = body.and_then(|Json(body)| body.session_id);
    ok(state.services.auth.logout(&actor, session).await?)
}

/// # `POST /v1/auth/logout-all`
#[utoipa::path(
    post,
    path = "/v1/auth/logout-all",
    tag = "auth",
    summary = "End every session of the caller, this one included",
    responses(
        (status = 200, description = "How many sessions ended", body = MessageText),
    ),
)]
pub(crate) async fn logout_all(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<MessageText> {
    let ended = state.services.auth.logout_all(&actor).await?;
    ok(MessageText {
        message: format!("{ended} sessions ended"),
    })
}

/// # `GET /v1/auth/sessions`
#[utoipa::path(
    get,
    path = "/v1/auth/sessions",
    tag = "auth",
    summary = "List the caller's sessions",
    responses(
        (status = 200, description = "The live sessions", body = SessionList),
    ),
)]
pub(crate) async fn sessions(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<SessionList> {
    ok(state.services.auth.sessions(&actor)?)
}

/// # `DELETE /v1/users/me/sessions/{id}`
#[utoipa::path(
    delete,
    path = "/v1/users/me/sessions/{id}",
    tag = "auth",
    summary = "End one of the caller's sessions",
    params(("id" = SessionId, Path, description = "The session")),
    responses(
        (status = 200, description = "Ended", body = Null),
        (status = 404, description = "No such session of the caller"),
    ),
)]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<SessionId>,
) -> ApiResult<()> {
    ok(state.services.auth.revoke_session(&actor, id).await?)
}

/// # `DELETE /v1/users/me/sessions`
///
/// Ends every session but the current one.
#[utoipa::path(
    delete,
    path = "/v1/users/me/sessions",
    tag = "auth",
    summary = "End every session but the current one",
    responses(
        (status = 200, description = "How many sessions ended", body = MessageText),
    ),
)]
pub(crate) async fn revoke_other_sessions(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<MessageText> {
    let ended = state.services.auth.revoke_other_sessions(&actor).await?;
    ok(MessageText {
        message: format!("{ended} sessions ended"),
    })
}

/// # `POST /v1/auth/password/forgot`
#[utoipa::path(
    post,
    path = "/v1/auth/password/forgot",
    tag = "auth",
    summary = "Start a password reset",
    security(()),
    request_body = ForgotPasswordRequest,
    responses(
        (status = 200, description = "The same answer for known and unknown identities; the token only in development mode", body = ForgotPasswordResponse),
    ),
)]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    Json(body): Json<ForgotPasswordRequest>,
) -> ApiResult<ForgotPasswordResponse> {
    ok(state.services.auth.forgot_password(body).await?)
}

/// # `POST /v1/auth/password/reset`
#[utoipa::path(
    post,
    path = "/v1/auth/password/reset",
    tag = "auth",
    summary = "Set a new password with a reset token",
    security(()),
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Changed; every session of the account has ended", body = MessageText),
        (status = 401, description = "Invalid, spent or expired reset token"),
        (status = 404, description = "The account no longer exists"),
    ),
)]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<MessageText> {
    state.services.auth.reset_password(body).await?;
    ok(MessageText {
        message: "password changed; every session has been ended".into(),
    })
}
