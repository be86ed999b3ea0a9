use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use node::Actor;
use protocol::ConversationId;
use protocol::api::{Conversation, Me};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Auth, Path};
use crate::reply::{ApiResult, ok};
use crate::schemas::{AvatarForm, Binary, ErrorEnvelope};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_mine))
        .routes(routes!(get))
        .routes(routes!(set_conversation))
}

/// Reads the `avatar` part of a multipart form; a request that is not one gets the envelope too.
async fn avatar_bytes(form: Result<Multipart, MultipartRejection>) -> Result<Vec<u8>, ApiError> {
    let mut form = form.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|err| ApiError::bad_request(err.body_text()))?
    {
        if field.name() == Some("avatar") {
            let bytes = field
                .bytes()
                .await
                .map_err(|err| ApiError::bad_request(err.body_text()))?;
            return Ok(bytes.to_vec());
        }
    }
    Err(ApiError::validation(
        "avatar: a multipart field named avatar is required",
    ))
}

/// # `POST /v1/users/me/avatar` (multipart, field `avatar`)
#[utoipa::path(
    post,
    path = "/v1/users/me/avatar",
    tag = "avatars",
    summary = "Set the caller's picture",
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The account with its new `avatar_url`", body = Me),
        (
            status = 400,
            description = "Not a multipart form",
            body = ErrorEnvelope,
        ),
        (status = 413, description = "Larger than 1 MiB"),
        (status = 422, description = "No `avatar` part, or not a PNG, JPEG, GIF or WebP image"),
    ),
)]
pub(crate) async fn set_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Me> {
    let bytes = avatar_bytes(form).await?;
    ok(set_user_avatar(&state, &actor, &bytes).await?)
}

/// Stores a picture as the caller's and forgets the one it replaces; also chats-axum's
/// `/users/avatar`.
pub(crate) async fn set_user_avatar(state: &AppState, actor: &Actor, bytes: &[u8]) -> Result<Me, ApiError> {
    let services = &state.services;
    let url = services.avatars.store(bytes).await?;
    let (me, previous) = services.users.set_avatar(actor, url).await?;
    services.avatars.forget(previous.as_deref()).await;
    Ok(me)
}

/// # `POST /v1/conversations/{id}/avatar` (multipart, field `avatar`)
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/avatar",
    tag = "avatars",
    summary = "Set a conversation's picture",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The conversation with its new `avatar_url`", body = Conversation),
        (
            status = 400,
            description = "A malformed id, or not a multipart form",
            body = ErrorEnvelope,
        ),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
        (status = 413, description = "Larger than 1 MiB"),
        (status = 422, description = "No `avatar` part, or not a PNG, JPEG, GIF or WebP image"),
    ),
)]
pub(crate) async fn set_conversation(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Conversation> {
    let bytes = avatar_bytes(form).await?;
    ok(set_conversation_avatar(&state, &actor, id, &bytes).await?)
}

/// Stores a picture as a conversation's and forgets the one it replaces, or the new one when the
/// conversation refuses it; also chats-axum's `/chats/{id}/avatar`.
pub(crate) async fn set_conversation_avatar(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    bytes: &[u8],
) -> Result<Conversation, ApiError> {
    let services = &state.services;
    let url = services.avatars.store(bytes).await?;
    match services.conversations.set_avatar(actor, id, url.clone()).await {
        Ok((conversation, previous)) => {
            services.avatars.forget(previous.as_deref()).await;
            Ok(conversation)
        }
        Err(err) => {
            services.avatars.forget(Some(&url)).await;
            Err(err.into())
        }
    }
}

/// # `GET /v1/avatars/{name}`
///
/// Public: avatars are shown by `<img>` tags, which carry no token; names are unguessable.
#[utoipa::path(
    get,
    path = "/v1/avatars/{name}",
    tag = "avatars",
    summary = "Fetch a picture",
    security(()),
    params(("name" = String, Path, description = "The last segment of an `avatar_url`")),
    responses(
        (status = 200, description = "The image, cacheable for a day", content_type = "image/*", body = Binary),
        (status = 404, description = "No such picture"),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let (bytes, content_type) = state.services.avatars.load(&name).await?;
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}
