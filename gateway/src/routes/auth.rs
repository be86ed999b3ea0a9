use axum::extract::State;
use protocol::SessionId;
use protocol::api::{
    AuthResponse, ForgotPasswordRequest, ForgotPasswordResponse, LoginRequest, LogoutRequest, MessageText,
    RefreshRequest, RegisterRequest, ResetPasswordRequest, SessionList, TokenPair,
};

use crate::AppState;
use crate::extract::{Auth, ClientIp, Json, Path};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/auth/register`
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<AuthResponse> {
    created(state.services.auth.register(body, ip).await?)
}

/// # `POST /v1/auth/login`
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> ApiResult<AuthResponse> {
    ok(state.services.auth.login(body, ip).await?)
}

/// # `POST /v1/auth/refresh`
pub(crate) async fn refresh(State(state): State<AppState>, Json(body): Json<RefreshRequest>) -> ApiResult<TokenPair> {
    ok(state.services.auth.refresh(body).await?)
}

/// # `POST /v1/auth/logout`
/// The body is optional; without a `session_id` the current session ends.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Auth(actor): Auth,
    body: Option<Json<LogoutRequest>>,
) -> ApiResult<()> {
    let session = body.and_then(|Json(body)| body.session_id);
    ok(state.services.auth.logout(&actor, session).await?)
}

/// # `POST /v1/auth/logout-all`
pub(crate) async fn logout_all(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<MessageText> {
    let ended = state.services.auth.logout_all(&actor).await?;
    ok(MessageText {
        message: format!("{ended} sessions ended"),
    })
}

/// # `GET /v1/auth/sessions`
pub(crate) async fn sessions(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<SessionList> {
    ok(state.services.auth.sessions(&actor)?)
}

/// # `DELETE /v1/users/me/sessions/{id}`
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<SessionId>,
) -> ApiResult<()> {
    ok(state.services.auth.revoke_session(&actor, id).await?)
}

/// # `DELETE /v1/users/me/sessions`
/// Ends every session but the current one.
pub(crate) async fn revoke_other_sessions(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<MessageText> {
    let ended = state.services.auth.revoke_other_sessions(&actor).await?;
    ok(MessageText {
        message: format!("{ended} sessions ended"),
    })
}

/// # `POST /v1/auth/password/forgot`
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    Json(body): Json<ForgotPasswordRequest>,
) -> ApiResult<ForgotPasswordResponse> {
    ok(state.services.auth.forgot_password(body).await?)
}

/// # `POST /v1/auth/password/reset`
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<MessageText> {
    state.services.auth.reset_password(body).await?;
    ok(MessageText {
        message: "password changed; every session has been ended".into(),
    })
}
