//! The operator API: what `parley admin` calls on a running node. Every route needs an operator (see
//! `OperatorAuth`); every change is logged with who made it.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use node::federation::PeerId;
use protocol::api::{
    AdminUser, AdminUserList, AdminUserQuery, AuditLog, AuditQuery, CreateRegistrationTokenRequest, CreateUserRequest,
    CreatedUser, DeniedNodeList, NodeStats, PasswordResetToken, RegistrationToken, RegistrationTokenList,
    SetRoleRequest,
};
use tokio_util::io::ReaderStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Json, OperatorAuth, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{Binary, ErrorEnvelope, Null};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(user, delete_user))
        .routes(routes!(suspend))
        .routes(routes!(unsuspend))
        .routes(routes!(set_role))
        .routes(routes!(reset_password))
        .routes(routes!(registration_tokens, create_registration_token))
        .routes(routes!(revoke_registration_token))
        .routes(routes!(stats))
        .routes(routes!(denied_nodes))
        .routes(routes!(deny_node, allow_node))
        .routes(routes!(audit))
        .routes(routes!(backup))
        .routes(routes!(goroutines))
}

/// The reference's debug count, honestly: live tasks of the node's async runtime.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Goroutines {
    /// Live tokio tasks (the reference's server counted goroutines).
    goroutines: usize,
}

/// # `GET /goroutines`
///
/// For operators only: a task count says how busy the node is, which is nobody else's business.
#[utoipa::path(
    get,
    path = "/goroutines",
    tag = "admin",
    summary = "Live tasks of the node's runtime (the reference's goroutine count)",
    responses(
        (status = 200, description = "The count", body = Goroutines),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn goroutines(OperatorAuth(_operator): OperatorAuth) -> ApiResult<Goroutines> {
    ok(Goroutines {
        goroutines: tokio::runtime::Handle::current().metrics().num_alive_tasks(),
    })
}

/// # `GET /v1/admin/users`
#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "List or search accounts, with their devices and last activity",
    params(AdminUserQuery),
    responses(
        (status = 200, description = "A page of accounts, in username order", body = AdminUserList),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
    Query(query): Query<AdminUserQuery>,
) -> ApiResult<AdminUserList> {
    ok(state.services.admin().users(&query)?)
}

/// # `POST /v1/admin/users`
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "Create an account, whatever the registration mode",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The account, and a reset token when no password was given", body = CreatedUser),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 409, description = "The username or email is taken", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Json(body): Json<CreateUserRequest>,
) -> ApiResult<CreatedUser> {
    created(state.services.admin().create_user(&operator, body).await?)
}

/// # `GET /v1/admin/users/{user}`
#[utoipa::path(
    get,
    path = "/v1/admin/users/{user}",
    tag = "admin",
    summary = "One account",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    responses(
        (status = 200, description = "The account", body = AdminUser),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn user(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
    Path(user): Path<String>,
) -> ApiResult<AdminUser> {
    ok(state.services.admin().user(&user)?)
}

/// # `DELETE /v1/admin/users/{user}`
#[utoipa::path(
    delete,
    path = "/v1/admin/users/{user}",
    tag = "admin",
    summary = "Delete an account: its sessions, devices, keys, message copies and files",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    responses(
        (status = 200, description = "Deleted", body = Null),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(user): Path<String>,
) -> ApiResult<()> {
    ok(state.services.admin().delete_user(&operator, &user).await?)
}

/// # `POST /v1/admin/users/{user}/suspend`
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user}/suspend",
    tag = "admin",
    summary = "Suspend an account: its sessions end, its sockets close, its logins are refused",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    responses(
        (status = 200, description = "The suspended account", body = AdminUser),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn suspend(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(user): Path<String>,
) -> ApiResult<AdminUser> {
    ok(state.services.admin().suspend(&operator, &user).await?)
}

/// # `POST /v1/admin/users/{user}/unsuspend`
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user}/unsuspend",
    tag = "admin",
    summary = "Let a suspended account log in again",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    responses(
        (status = 200, description = "The account", body = AdminUser),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn unsuspend(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(user): Path<String>,
) -> ApiResult<AdminUser> {
    ok(state.services.admin().unsuspend(&operator, &user).await?)
}

/// # `POST /v1/admin/users/{user}/role`
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user}/role",
    tag = "admin",
    summary = "Make an account an operator, or an ordinary account again",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    request_body = SetRoleRequest,
    responses(
        (status = 200, description = "The account", body = AdminUser),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(user): Path<String>,
    Json(body): Json<SetRoleRequest>,
) -> ApiResult<AdminUser> {
    ok(state.services.admin().set_role(&operator, &user, body.role).await?)
}

/// # `POST /v1/admin/users/{user}/password-reset`
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user}/password-reset",
    tag = "admin",
    summary = "Issue a password-reset token for an account (its sessions end)",
    params(("user" = String, Path, max_length = 64, description = "The account's id or username")),
    responses(
        (status = 200, description = "The token, to hand to the account's owner", body = PasswordResetToken),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(user): Path<String>,
) -> ApiResult<PasswordResetToken> {
    ok(state.services.admin().reset_password(&operator, &user).await?)
}

/// # `GET /v1/admin/registration-tokens`
#[utoipa::path(
    get,
    path = "/v1/admin/registration-tokens",
    tag = "admin",
    summary = "Every registration token",
    responses(
        (status = 200, description = "The tokens, newest first", body = RegistrationTokenList),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn registration_tokens(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
) -> ApiResult<RegistrationTokenList> {
    ok(state.services.admin().registration_tokens()?)
}

/// # `POST /v1/admin/registration-tokens`
#[utoipa::path(
    post,
    path = "/v1/admin/registration-tokens",
    tag = "admin",
    summary = "Make a registration token, with an optional use count and expiry",
    request_body = CreateRegistrationTokenRequest,
    responses(
        (status = 201, description = "The token", body = RegistrationToken),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 409, description = "That token exists", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn create_registration_token(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Json(body): Json<CreateRegistrationTokenRequest>,
) -> ApiResult<RegistrationToken> {
    created(
        state
            .services
            .admin()
            .create_registration_token(&operator, body)
            .await?,
    )
}

/// # `DELETE /v1/admin/registration-tokens/{token}`
#[utoipa::path(
    delete,
    path = "/v1/admin/registration-tokens/{token}",
    tag = "admin",
    summary = "Revoke a registration token",
    params(("token" = String, Path, max_length = 64, description = "The token")),
    responses(
        (status = 200, description = "Revoked", body = Null),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "No such token", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn revoke_registration_token(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(token): Path<String>,
) -> ApiResult<()> {
    ok(state
        .services
        .admin()
        .revoke_registration_token(&operator, &token)
        .await?)
}

/// # `GET /v1/admin/stats`
#[utoipa::path(
    get,
    path = "/v1/admin/stats",
    tag = "admin",
    summary = "What the node stores and holds open",
    responses(
        (status = 200, description = "Counts", body = NodeStats),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn stats(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
) -> ApiResult<NodeStats> {
    ok(state.services.admin().stats()?)
}

/// # `GET /v1/admin/federation/denied`
#[utoipa::path(
    get,
    path = "/v1/admin/federation/denied",
    tag = "admin",
    summary = "The nodes whose traffic this node refuses",
    responses(
        (status = 200, description = "Their PeerIds", body = DeniedNodeList),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn denied_nodes(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
) -> ApiResult<DeniedNodeList> {
    ok(state.services.admin().denied_nodes())
}

/// # `PUT /v1/admin/federation/denied/{peer_id}`
#[utoipa::path(
    put,
    path = "/v1/admin/federation/denied/{peer_id}",
    tag = "admin",
    summary = "Refuse a node's traffic from now on (its connections close)",
    params(("peer_id" = String, Path, max_length = 128, description = "The node's PeerId (base58)")),
    responses(
        (status = 200, description = "The denied nodes", body = DeniedNodeList),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 422, description = "Not a PeerId", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn deny_node(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(peer): Path<String>,
) -> ApiResult<DeniedNodeList> {
    let peer = peer_id(&peer)?;
    ok(state.services.admin().deny_node(&operator, peer).await?)
}

/// # `DELETE /v1/admin/federation/denied/{peer_id}`
#[utoipa::path(
    delete,
    path = "/v1/admin/federation/denied/{peer_id}",
    tag = "admin",
    summary = "Accept a denied node's traffic again",
    params(("peer_id" = String, Path, max_length = 128, description = "The node's PeerId (base58)")),
    responses(
        (status = 200, description = "The denied nodes", body = DeniedNodeList),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "That node is not denied", body = ErrorEnvelope),
        (status = 422, description = "Not a PeerId", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn allow_node(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
    Path(peer): Path<String>,
) -> ApiResult<DeniedNodeList> {
    let peer = peer_id(&peer)?;
    ok(state.services.admin().allow_node(&operator, peer).await?)
}

/// # `GET /v1/admin/audit`
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    summary = "Operator actions, newest first",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditLog),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn audit(
    State(state): State<AppState>,
    OperatorAuth(_operator): OperatorAuth,
    Query(query): Query<AuditQuery>,
) -> ApiResult<AuditLog> {
    ok(state.services.admin().audit(&query)?)
}

fn peer_id(text: &str) -> Result<PeerId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::from(node::Error::Invalid {
            field: "peer_id".into(),
            reason: "is not a libp2p PeerId".into(),
        })
    })
}

/// # `GET /v1/admin/backup`
///
/// The node's store, keys and file blobs in one file, taken while writes wait (see `parley admin
/// backup`, which saves it; `parley admin restore` puts it in an empty data directory).
#[utoipa::path(
    get,
    path = "/v1/admin/backup",
    tag = "admin",
    summary = "A consistent backup of the whole node",
    responses(
        (status = 200, description = "The backup file", content_type = "application/octet-stream", body = Binary),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn backup(
    State(state): State<AppState>,
    OperatorAuth(operator): OperatorAuth,
) -> Result<Response, ApiError> {
    let services = &state.services;
    let path = services
        .config
        .data_dir
        .join(format!("backup-{}.partial", protocol::MessageId::random()));
    let summary = services.admin().backup(&operator, path.clone()).await?;
    let file = tokio::fs::File::open(&path).await;
    // Unlinked at once: the open file streams on, and nothing is left behind however the answer ends.
    let _ = tokio::fs::remove_file(&path).await;
    let file = file.map_err(|err| ApiError::from(node::Error::Internal(format!("reopening the backup: {err}"))))?;
    let name = format!("parley-{}.backup", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, summary.bytes.to_string()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response())
}
