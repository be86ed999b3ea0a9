//! Pictures: `PATCH|POST /users/avatar` and `PATCH|POST /chats/{id}/avatar` take a multipart form with
//! an `avatar` image (PNG, JPEG, GIF or WebP, at most 1 MiB) or a `remove` part (`true`) that clears
//! the picture; `GET /avatars/{*path}` serves a stored one. They are the node's avatars, also served at
//! `/v1/avatars/{name}`.

use axum::Json as JsonAnswer;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use protocol::ConversationId;
use protocol::api::{UpdateConversationRequest, UpdateProfileRequest};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{Chat, User};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::extract::{Auth, Path};
use crate::routes::avatars::{set_conversation_avatar, set_user_avatar};
use crate::schemas::Binary;
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(user_avatar))
        .routes(routes!(chat_avatar))
        .routes(routes!(avatar))
}

/// The parts of the form, as the OpenAPI document describes them; the handler reads the parts as
/// they stream in, so this type is never built.
#[derive(Debug, ToSchema)]
#[schema(as = ChatsAxumAvatarForm)]
#[allow(dead_code)]
struct AvatarForm {
    /// The image.
    #[schema(value_type = Option<String>, format = Binary)]
    avatar: Option<Vec<u8>>,
    /// `true` clears the picture instead.
    remove: Option<bool>,
}

/// What a picture form asks for.
enum Change {
    Set(Vec<u8>),
    Remove,
}

async fn change(form: std::result::Result<Multipart, MultipartRejection>) -> std::result::Result<Change, ApiError> {
    let mut form = form.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let (mut avatar, mut remove) = (None, false);
    // Every part is read, so a `remove` that is no boolean is refused whatever comes before it.
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|err| ApiError::bad_request(err.body_text()))?
    {
        match field.name() {
            Some("avatar") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|err| ApiError::bad_request(err.body_text()))?;
                avatar = Some(bytes.to_vec());
            }
            Some("remove") => {
                let value = field
                    .text()
                    .await
                    .map_err(|err| ApiError::bad_request(err.body_text()))?;
                remove = match value.trim() {
                    "true" | "1" | "on" | "yes" => true,
                    "false" | "0" | "off" | "no" | "null" | "" => false,
                    _ => return Err(ApiError::validation("remove: must be true or false")),
                };
            }
            _ => {}
        }
    }
    match (avatar, remove) {
        (Some(bytes), _) => Ok(Change::Set(bytes)),
        (None, true) => Ok(Change::Remove),
        (None, false) => Err(ApiError::validation(
            "avatar: an avatar image or remove=true is required",
        )),
    }
}

/// # `PATCH|POST /users/avatar`
#[utoipa::path(
    method(post, patch),
    path = "/users/avatar",
    tag = TAG,
    summary = "Set or clear the caller's picture (multipart; chats-axum)",
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The account with its `avatar_url`", body = User),
        (status = 400, description = "Not a form, no avatar and no remove, or not an image", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 413, description = "Larger than 1 MiB", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn user_avatar(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    form: std::result::Result<Multipart, MultipartRejection>,
) -> Result<JsonAnswer<User>> {
    let Auth(actor) = auth?;
    let services = &state.services;
    let me = match change(form).await? {
        Change::Set(bytes) => set_user_avatar(&state, &actor, &bytes).await?,
        Change::Remove => {
            let previous = services.users.me(&actor)?.avatar_url;
            let cleared = UpdateProfileRequest {
                avatar_url: Some(String::new()),
                ..UpdateProfileRequest::default()
            };
            let me = services.users.update_me(&actor, cleared).await?;
            services.avatars.forget(previous.as_deref()).await;
            me
        }
    };
    Ok(JsonAnswer(me.into()))
}

/// # `PATCH|POST /chats/{id}/avatar`
#[utoipa::path(
    method(post, patch),
    path = "/chats/{id}/avatar",
    tag = TAG,
    summary = "Set or clear a chat's picture (owners and admins; multipart; chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The chat with its `avatar_url`", body = Chat),
        (status = 400, description = "Not a form, no avatar and no remove, not an image, or a malformed id", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not an owner or admin, or a private chat", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 413, description = "Larger than 1 MiB", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn chat_avatar(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    form: std::result::Result<Multipart, MultipartRejection>,
) -> Result<JsonAnswer<Chat>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    let chat = match change(form).await? {
        Change::Set(bytes) => set_conversation_avatar(&state, &actor, id, &bytes).await?,
        Change::Remove => {
            let services = &state.services;
            let previous = services.conversations.get(&actor, id)?.avatar_url;
            let cleared = UpdateConversationRequest {
                subject: None,
                description: None,
                avatar_url: Some(String::new()),
            };
            let chat = services.conversations.update(&actor, id, cleared).await?;
            services.avatars.forget(previous.as_deref()).await;
            chat
        }
    };
    Ok(JsonAnswer(chat.into()))
}

/// # `GET /avatars/{path}`
///
/// Public, as `<img>` tags carry no token; names are unguessable.
#[utoipa::path(
    get,
    path = "/avatars/{path}",
    tag = TAG,
    summary = "Fetch a picture (chats-axum)",
    security(()),
    params(("path" = String, Path, description = "The last segment of an `avatar_url`")),
    responses(
        (status = 200, description = "The image, cacheable for a day", content_type = "image/*", body = Binary),
        (status = 404, description = "No such picture", body = ErrorBody),
    ),
)]
pub(crate) async fn avatar(State(state): State<AppState>, path: Extracted<Path<String>>) -> Result<Response> {
    let Path(name) = path?;
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
