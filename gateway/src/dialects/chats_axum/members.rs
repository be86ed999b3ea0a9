//! `/chats/{id}/members` and `/chats/{id}/favorite`: who is in a chat with which role, and the caller's
//! favourites.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use node::PersonalChange;
use protocol::api::{AddParticipantRequest, ChangeRoleRequest, Role, UserRef};
use protocol::{ConversationId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{Chat, DONE, Done, Member};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Json, Path};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(members, add_member))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(favorite, unfavorite))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumNewMember)]
pub(super) struct NewMember {
    /// A user id, or a handle `username@node`.
    user_id: UserRef,
    /// `member` by default; only owners grant `admin` or `owner`.
    #[serde(default)]
    role: Option<Role>,
}

/// # `GET /chats/{id}/members`
#[utoipa::path(
    get,
    path = "/chats/{id}/members",
    tag = TAG,
    summary = "A chat's members (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    responses(
        (status = 200, description = "The members", body = Vec<Member>),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn members(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
) -> Result<JsonAnswer<Vec<Member>>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    let members = state.services.conversations.participants(&actor, id)?;
    Ok(JsonAnswer(members.participants.into_iter().map(Member::from).collect()))
}

/// # `POST /chats/{id}/members`
#[utoipa::path(
    post,
    path = "/chats/{id}/members",
    tag = TAG,
    summary = "Add a member (owners and admins; chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    request_body = NewMember,
    responses(
        (status = 201, description = "The new member", body = Member),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Permission denied", body = ErrorBody),
        (status = 404, description = "No such chat or user", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Json<NewMember>>,
) -> Result<(StatusCode, JsonAnswer<Member>)> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    let request = AddParticipantRequest {
        user_id: body.user_id,
        role: body.role,
    };
    let member = state
        .services
        .conversations
        .add_participant(&actor, id, request)
        .await?;
    Ok((StatusCode::CREATED, JsonAnswer(member.into())))
}

/// # `PATCH /chats/{id}/members/{user_id}`
#[utoipa::path(
    patch,
    path = "/chats/{id}/members/{user_id}",
    tag = TAG,
    summary = "Change a member's role (owners; chats-axum)",
    params(
        ("id" = ConversationId, Path, description = "The chat"),
        ("user_id" = UserId, Path, description = "The member"),
    ),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "The member", body = Member),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Permission denied", body = ErrorBody),
        (status = 404, description = "No such chat or member", body = ErrorBody),
        (status = 409, description = "The last owner cannot be demoted", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    ids: Extracted<Path<(ConversationId, UserId)>>,
    body: Extracted<Json<ChangeRoleRequest>>,
) -> Result<JsonAnswer<Member>> {
    let (Auth(actor), Path((id, user)), Json(body)) = (auth?, ids?, body?);
    let member = state.services.conversations.change_role(&actor, id, user, body).await?;
    Ok(JsonAnswer(member.into()))
}

/// # `DELETE /chats/{id}/members/{user_id}`
#[utoipa::path(
    delete,
    path = "/chats/{id}/members/{user_id}",
    tag = TAG,
    summary = "Remove a member, or leave (chats-axum)",
    params(
        ("id" = ConversationId, Path, description = "The chat"),
        ("user_id" = UserId, Path, description = "The member"),
    ),
    responses(
        (status = 200, description = "Removed", body = Done),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Permission denied", body = ErrorBody),
        (status = 404, description = "No such chat or member", body = ErrorBody),
        (status = 409, description = "The last owner cannot leave", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    ids: Extracted<Path<(ConversationId, UserId)>>,
) -> Result<JsonAnswer<Done>> {
    let (Auth(actor), Path((id, user))) = (auth?, ids?);
    state
        .services
        .conversations
        .remove_participant(&actor, id, user)
        .await?;
    Ok(JsonAnswer(DONE))
}

async fn set_favorite(
    state: &AppState,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    on: bool,
) -> Result<JsonAnswer<Chat>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    let chat = state
        .services
        .conversations
        .set_flag(&actor, id, PersonalChange::Favorite(on))
        .await?;
    Ok(JsonAnswer(chat.into()))
}

/// # `POST /chats/{id}/favorite`
#[utoipa::path(
    post,
    path = "/chats/{id}/favorite",
    tag = TAG,
    summary = "Make a chat one of the caller's favourites (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn favorite(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
) -> Result<JsonAnswer<Chat>> {
    set_favorite(&state, auth, id, true).await
}

/// # `DELETE /chats/{id}/favorite`
#[utoipa::path(
    delete,
    path = "/chats/{id}/favorite",
    tag = TAG,
    summary = "Take a chat out of the caller's favourites (chats-axum)",
    params(("id" = ConversationId, Path, description = "The chat")),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn unfavorite(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
) -> Result<JsonAnswer<Chat>> {
    set_favorite(&state, auth, id, false).await
}
