use axum::extract::State;
use node::conversations::PersonalChange;
use protocol::api::{
    AddParticipantRequest, ChangeRoleRequest, Conversation, ConversationList, ConversationListQuery, ConversationPage,
    ConversationSearchQuery, CreateConversationRequest, DeleteConversationQuery, DirectQuery, InviteLink,
    InvitePreview, InviteRef, MuteRequest, Participant, ParticipantList, ReadUpTo, ReadUpToRequest, SequenceInfo,
    UpdateConversationRequest, UpdateSettings,
};
use protocol::{ConversationId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(direct))
        .routes(routes!(preview_invite))
        .routes(routes!(join))
        .routes(routes!(search))
        .routes(routes!(get, update, delete))
        .routes(routes!(participants, add_participant))
        .routes(routes!(remove_participant))
        .routes(routes!(change_role))
        .routes(routes!(sequence))
        .routes(routes!(update_settings))
        .routes(routes!(regenerate_invite))
        .routes(routes!(mute))
        .routes(routes!(unmute))
        .routes(routes!(pin))
        .routes(routes!(unpin))
        .routes(routes!(archive))
        .routes(routes!(unarchive))
        .routes(routes!(favorite, unfavorite))
        .routes(routes!(read_up_to))
}

/// # `POST /v1/conversations`
///
/// 201 for a new conversation; 200 with the existing one when the DM already exists.
#[utoipa::path(
    post,
    path = "/v1/conversations",
    tag = "conversations",
    summary = "Start a DM or create a group",
    request_body = CreateConversationRequest,
    responses(
        (status = 201, description = "Created", body = Conversation),
        (status = 200, description = "The DM with that user already exists", body = Conversation),
        (status = 404, description = "A participant does not exist"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateConversationRequest>,
) -> ApiResult<Conversation> {
    match state.services.create_conversation(&actor, body).await? {
        (conversation, true) => created(conversation),
        (conversation, false) => ok(conversation),
    }
}

/// # `GET /v1/conversations?page=&limit=`
#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    summary = "The caller's conversations, pinned first",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "A page", body = ConversationPage),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationListQuery>,
) -> ApiResult<ConversationPage> {
    ok(state.services.conversations.list(&actor, query)?)
}

/// # `GET /v1/conversations/direct?user_id_1=&user_id_2=`
#[utoipa::path(
    get,
    path = "/v1/conversations/direct",
    tag = "conversations",
    summary = "The DM between two users",
    params(DirectQuery),
    responses(
        (status = 200, description = "The DM", body = Conversation),
        (status = 403, description = "Neither user is the caller"),
        (status = 404, description = "No DM between them"),
    ),
)]
pub(crate) async fn direct(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DirectQuery>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.direct(&actor, query)?)
}

/// # `GET /v1/conversations/search?query=&limit=`
#[utoipa::path(
    get,
    path = "/v1/conversations/search",
    tag = "conversations",
    summary = "Find conversations by subject",
    params(ConversationSearchQuery),
    responses(
        (status = 200, description = "The matches", body = ConversationList),
    ),
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationSearchQuery>,
) -> ApiResult<ConversationList> {
    ok(state.services.conversations.search(&actor, query)?)
}

/// # `GET /v1/conversations/{id}`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "A conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation as the caller sees it", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.get(&actor, id)?)
}

/// # `PUT /v1/conversations/{id}`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "Change a conversation's details",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = UpdateConversationRequest,
    responses(
        (status = 200, description = "The changed conversation", body = Conversation),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateConversationRequest>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}?for_all=`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    summary = "Delete a conversation for everyone, or clear it for the caller",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        DeleteConversationQuery,
    ),
    responses(
        (status = 200, description = "Deleted or cleared", body = Null),
        (status = 403, description = "Not a participant, or not allowed to delete it for everyone"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Query(query): Query<DeleteConversationQuery>,
) -> ApiResult<()> {
    ok(state.services.conversations.delete(&actor, id, query).await?)
}

/// # `PUT /v1/conversations/{id}/settings`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/settings",
    tag = "conversations",
    summary = "Change a group's or channel's settings",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = UpdateSettings,
    responses(
        (status = 200, description = "The changed conversation", body = Conversation),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateSettings>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update_settings(&actor, id, body).await?)
}

/// # `POST /v1/conversations/{id}/invite`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/invite",
    tag = "conversations",
    summary = "Create a new invite link (the old one stops working)",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The new link", body = InviteLink),
        (status = 403, description = "Not a participant, not an owner or admin, or a DM"),
        (status = 404, description = "No such conversation"),
        (status = 409, description = "Invites are turned off for this conversation"),
    ),
)]
pub(crate) async fn regenerate_invite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<InviteLink> {
    ok(state.services.conversations.regenerate_invite(&actor, id).await?)
}

/// # `GET /v1/conversations/invite?link=`
#[utoipa::path(
    get,
    path = "/v1/conversations/invite",
    tag = "conversations",
    summary = "What an invite link leads to",
    params(InviteRef),
    responses(
        (status = 200, description = "The conversation, as a preview", body = InvitePreview),
        (status = 404, description = "No such invite"),
    ),
)]
pub(crate) async fn preview_invite(
    State(state): State<AppState>,
    Auth(_): Auth,
    Query(query): Query<InviteRef>,
) -> ApiResult<InvitePreview> {
    ok(state.services.conversations.preview_invite(query)?)
}

/// # `POST /v1/conversations/join`
#[utoipa::path(
    post,
    path = "/v1/conversations/join",
    tag = "conversations",
    summary = "Join a conversation by invite link",
    request_body = InviteRef,
    responses(
        (status = 200, description = "The joined conversation", body = Conversation),
        (status = 404, description = "No such invite"),
        (status = 409, description = "Already a participant, or the conversation is full"),
    ),
)]
pub(crate) async fn join(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<InviteRef>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.join(&actor, body).await?)
}

/// # `POST /v1/conversations/{id}/mute`
///
/// The body is optional; without `until` the mute lasts until unmuted.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/mute",
    tag = "conversations",
    summary = "Mute a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body(content = Option<MuteRequest>, description = "Optional; without `until` the mute lasts until unmuted"),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn mute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    body: Option<Json<MuteRequest>>,
) -> ApiResult<Conversation> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    ok(state.services.conversations.mute(&actor, id, request).await?)
}

/// # `POST /v1/conversations/{id}/unmute`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unmute",
    tag = "conversations",
    summary = "Unmute a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unmute(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.unmute(&actor, id).await?)
}

async fn flag(
    state: AppState,
    actor: node::Actor,
    id: ConversationId,
    change: PersonalChange,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.set_flag(&actor, id, change).await?)
}

/// # `POST /v1/conversations/{id}/pin`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/pin",
    tag = "conversations",
    summary = "Pin a conversation to the top of the caller's list",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn pin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(true)).await
}

/// # `POST /v1/conversations/{id}/unpin`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unpin",
    tag = "conversations",
    summary = "Unpin a conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unpin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(false)).await
}

/// # `POST /v1/conversations/{id}/archive`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/archive",
    tag = "conversations",
    summary = "Archive a conversation for the caller",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn archive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(true)).await
}

/// # `POST /v1/conversations/{id}/unarchive`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/unarchive",
    tag = "conversations",
    summary = "Unarchive a conversation",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unarchive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(false)).await
}

/// # `POST /v1/conversations/{id}/favorite`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/favorite",
    tag = "conversations",
    summary = "Make a conversation one of the caller's favourites",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn favorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(true)).await
}

/// # `DELETE /v1/conversations/{id}/favorite`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/favorite",
    tag = "conversations",
    summary = "Remove a conversation from the favourites",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn unfavorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(false)).await
}

/// # `POST /v1/conversations/{id}/read`
///
/// Marks every message up to `message_id` (default: the newest) read. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/read",
    tag = "conversations",
    summary = "Mark every message up to one as read",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body(content = Option<ReadUpToRequest>, description = "Optional; without `message_id` everything so far is read"),
    responses(
        (status = 200, description = "What was marked", body = ReadUpTo),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn read_up_to(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    body: Option<Json<ReadUpToRequest>>,
) -> ApiResult<ReadUpTo> {
    let request = body.map(|Json(body)| body).unwrap_or_default();
    ok(state.services.messages.read_up_to(&actor, id, request).await?)
}

/// # `GET /v1/conversations/{id}/participants`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/participants",
    tag = "conversations",
    summary = "A conversation's participants",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The participants", body = ParticipantList),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn participants(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<ParticipantList> {
    ok(state.services.conversations.participants(&actor, id)?)
}

/// # `POST /v1/conversations/{id}/participants`
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/participants",
    tag = "conversations",
    summary = "Add a participant",
    params(("id" = ConversationId, Path, description = "The conversation")),
    request_body = AddParticipantRequest,
    responses(
        (status = 201, description = "Added", body = Participant),
        (status = 403, description = "Not a participant, not allowed to add (or to grant that role), or a DM"),
        (status = 404, description = "No such conversation or user"),
        (status = 409, description = "Already a participant, or the conversation is full"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<AddParticipantRequest>,
) -> ApiResult<Participant> {
    created(state.services.add_participant(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}/participants/{user_id}`
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/participants/{user_id}",
    tag = "conversations",
    summary = "Remove a participant (or leave)",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 403, description = "Not a participant, not allowed to remove that one, or a DM"),
        (status = 404, description = "No such conversation or participant"),
        (status = 409, description = "The last owner cannot leave while others remain"),
    ),
)]
pub(crate) async fn remove_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(ConversationId, UserId)>,
) -> ApiResult<()> {
    ok(state
        .services
        .conversations
        .remove_participant(&actor, id, user)
        .await?)
}

/// # `PUT /v1/conversations/{id}/participants/{user_id}/role`
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/participants/{user_id}/role",
    tag = "conversations",
    summary = "Change a participant's role",
    params(
        ("id" = ConversationId, Path, description = "The conversation"),
        ("user_id" = UserId, Path, description = "The participant"),
    ),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "The participant with the new role", body = Participant),
        (status = 403, description = "Not an owner of the conversation, or a DM"),
        (status = 404, description = "No such conversation or participant"),
        (status = 409, description = "The last owner cannot be demoted while others remain"),
    ),
)]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(ConversationId, UserId)>,
    Json(body): Json<ChangeRoleRequest>,
) -> ApiResult<Participant> {
    ok(state.services.conversations.change_role(&actor, id, user, body).await?)
}

/// # `GET /v1/conversations/{id}/sequence`
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/sequence",
    tag = "conversations",
    summary = "A conversation's newest sequence number",
    params(("id" = ConversationId, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The sequence number", body = SequenceInfo),
        (status = 403, description = "The caller is not a participant"),
        (status = 404, description = "No such conversation"),
    ),
)]
pub(crate) async fn sequence(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<SequenceInfo> {
    ok(state.services.conversations.sequence(&actor, id)?)
}
