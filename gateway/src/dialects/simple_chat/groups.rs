//! `/api/groups`: groups, their members and their messages.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::api::{AddParticipantRequest, ConversationKind, CreateConversationRequest};
use protocol::{ConversationId, UserId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::{Extracted, MessageAnswer, PageQuery, conversation, conversations_of, group, page, send};
use super::shapes::{CreatedGroup, Group, MessagePage, NewGroup, NewMessage, Notice, UserRefBody};
use super::{Client, Error, ErrorBody, Result, TAG};
use crate::AppState;
use crate::dialects::errors::{CodedError, EitherError};
use crate::extract::{Auth, Json, Path, Query};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
        .routes(routes!(group_messages, send_group))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatGroupList)]
pub(super) struct GroupList {
    groups: Vec<Group>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleChatGroupAnswer)]
pub(super) struct GroupAnswer {
    group: Group,
}

/// # `GET /api/groups`
#[utoipa::path(
    get,
    path = "/api/groups",
    tag = TAG,
    summary = "The caller's groups (simple-chat)",
    responses(
        (status = 200, description = "Newest activity first, at most 1,000", body = GroupList),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn list_groups(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<GroupList>> {
    let Auth(actor) = auth?;
    let groups = conversations_of(&state, &actor, true)?
        .iter()
        .map(|c| group(&state, &actor, c))
        .collect::<Result<_>>()?;
    Ok(JsonAnswer(GroupList { groups }))
}

/// # `POST /api/groups`
#[utoipa::path(
    post,
    path = "/api/groups",
    tag = TAG,
    summary = "Create a group (simple-chat, messaging-app)",
    description = "simple-chat sends a `name` and gets the group under `group`, with the caller as its only member; \
        messaging-app may add `description`, `members` and `settings` and reads the group at the top level. \
        A body with any of those three gets messaging-app's error shape.",
    request_body = NewGroup,
    responses(
        (status = 201, description = "The group, in both documents' shapes", body = CreatedGroup),
        (status = 400, description = "Invalid request body (a name of 1 to 100 characters)", body = EitherError),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "A member does not exist", body = EitherError),
        (status = 422, description = "messaging-app's validation error, for its body (one with `description`, `members` or `settings`)", body = CodedError),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn create_group(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<NewGroup>>,
) -> Response {
    let (actor, body) = match (auth, body) {
        (Ok(Auth(actor)), Ok(Json(body))) => (actor, body),
        (Err(err), _) | (_, Err(err)) => return Error::from(err).into_response(),
    };
    let client = match body.is_messaging_apps() {
        true => Client::MessagingApp,
        false => Client::SimpleChat,
    };
    let request = CreateConversationRequest {
        kind: ConversationKind::Group,
        subject: Some(body.name),
        description: body.description,
        participants: body.members.unwrap_or_default(),
        settings: body.settings,
    };
    let created = async {
        let (created, _) = state.services.conversations.create(&actor, request).await?;
        let members = state.services.conversations.participants(&actor, created.id)?;
        Ok((
            StatusCode::CREATED,
            JsonAnswer(CreatedGroup::new(&created, &members, actor.user_id)),
        ))
    };
    client.respond(created.await)
}

/// # `GET /api/groups/{id}`
#[utoipa::path(
    get,
    path = "/api/groups/{id}",
    tag = TAG,
    summary = "A group (simple-chat)",
    params(("id" = ConversationId, Path, description = "The group")),
    responses(
        (status = 200, description = "The group", body = GroupAnswer),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "The caller is not a member", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn get_group(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
) -> Result<JsonAnswer<GroupAnswer>> {
    let (Auth(actor), Path(id)) = (auth?, id?);
    let found = conversation(&state, &actor, id, true)?;
    let group = group(&state, &actor, &found)?;
    Ok(JsonAnswer(GroupAnswer { group }))
}

/// # `POST /api/groups/{id}/members`
#[utoipa::path(
    post,
    path = "/api/groups/{id}/members",
    tag = TAG,
    summary = "Add a member (owners and admins; simple-chat)",
    params(("id" = ConversationId, Path, description = "The group")),
    request_body = UserRefBody,
    responses(
        (status = 200, description = "Added", body = Notice),
        (status = 400, description = "Invalid request body", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Only owners and admins add members", body = ErrorBody),
        (status = 404, description = "No such group or user", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Json<UserRefBody>>,
) -> Result<JsonAnswer<Notice>> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    conversation(&state, &actor, id, true)?;
    let request = AddParticipantRequest {
        user_id: body.user_id,
        role: None,
    };
    state
        .services
        .conversations
        .add_participant(&actor, id, request)
        .await?;
    Ok(JsonAnswer(Notice {
        message: "Member added successfully",
    }))
}

/// # `DELETE /api/groups/{id}/members/{user_id}`
#[utoipa::path(
    delete,
    path = "/api/groups/{id}/members/{user_id}",
    tag = TAG,
    summary = "Remove a member, or leave (simple-chat)",
    params(
        ("id" = ConversationId, Path, description = "The group"),
        ("user_id" = UserId, Path, description = "The member"),
    ),
    responses(
        (status = 200, description = "Removed", body = Notice),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Only owners and admins remove others", body = ErrorBody),
        (status = 404, description = "No such group or member", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    ids: Extracted<Path<(ConversationId, UserId)>>,
) -> Result<JsonAnswer<Notice>> {
    let (Auth(actor), Path((id, user))) = (auth?, ids?);
    conversation(&state, &actor, id, true)?;
    state
        .services
        .conversations
        .remove_participant(&actor, id, user)
        .await?;
    Ok(JsonAnswer(Notice {
        message: "Member removed successfully",
    }))
}

/// # `GET /api/groups/{id}/messages`
#[utoipa::path(
    get,
    path = "/api/groups/{id}/messages",
    tag = TAG,
    summary = "A page of a group's messages (simple-chat)",
    params(("id" = ConversationId, Path, description = "The group"), PageQuery),
    responses(
        (status = 200, description = "The newest messages before `cursor`, oldest first", body = MessagePage),
        (status = 400, description = "A malformed id, cursor or limit", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "The caller is not a member", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
    ),
)]
pub(crate) async fn group_messages(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    query: Extracted<Query<PageQuery>>,
) -> Result<JsonAnswer<MessagePage>> {
    let (Auth(actor), Path(id), Query(query)) = (auth?, id?, query?);
    Ok(JsonAnswer(page(&state, &actor, id, query, true)?))
}

/// # `POST /api/groups/{id}/messages`
#[utoipa::path(
    post,
    path = "/api/groups/{id}/messages",
    tag = TAG,
    summary = "Send a message to a group (simple-chat)",
    params(("id" = ConversationId, Path, description = "The group")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The stored message", body = MessageAnswer),
        (status = 400, description = "Invalid request body (empty or over 64 KiB)", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Not a member, or the node refuses messages in the clear", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = ErrorBody),
        (status = 503, description = "The group's host node cannot be reached; retry", body = ErrorBody),
    ),
)]
pub(crate) async fn send_group(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<ConversationId>>,
    body: Extracted<Json<NewMessage>>,
) -> Result<(StatusCode, JsonAnswer<MessageAnswer>)> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    let message = send(&state, &actor, id, body.content, true).await?;
    Ok((StatusCode::CREATED, JsonAnswer(MessageAnswer { message })))
}
