use axum::extract::State;
use node::conversations::PersonalChange;
use protocol::api::{
    AddParticipantRequest, ChangeRoleRequest, Conversation, ConversationList, ConversationListQuery, ConversationPage,
    ConversationSearchQuery, CreateConversationRequest, DeleteConversationQuery, DirectQuery, InviteLink,
    InvitePreview, InviteRef, MuteRequest, Participant, ParticipantList, ReadUpTo, ReadUpToRequest, SequenceInfo,
    UpdateConversationRequest, UpdateSettings,
};
use protocol::{ConversationId, UserId};

use crate::AppState;
use crate::extract::{Auth, Json, Path, Query};
use crate::reply::{ApiResult, created, ok};

/// # `POST /v1/conversations`
/// 201 for a new conversation; 200 with the existing one when the DM already exists.
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CreateConversationRequest>,
) -> ApiResult<Conversation> {
    match state.services.conversations.create(&actor, body).await? {
        (conversation, true) => created(conversation),
        (conversation, false) => ok(conversation),
    }
}

/// # `GET /v1/conversations?page=&limit=`
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationListQuery>,
) -> ApiResult<ConversationPage> {
    ok(state.services.conversations.list(&actor, query)?)
}

/// # `GET /v1/conversations/direct?user_id_1=&user_id_2=`
pub(crate) async fn direct(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<DirectQuery>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.direct(&actor, query)?)
}

/// # `GET /v1/conversations/search?query=&limit=`
pub(crate) async fn search(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Query(query): Query<ConversationSearchQuery>,
) -> ApiResult<ConversationList> {
    ok(state.services.conversations.search(&actor, query)?)
}

/// # `GET /v1/conversations/{id}`
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.get(&actor, id)?)
}

/// # `PUT /v1/conversations/{id}`
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateConversationRequest>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}?for_all=`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Query(query): Query<DeleteConversationQuery>,
) -> ApiResult<()> {
    ok(state.services.conversations.delete(&actor, id, query).await?)
}

/// # `PUT /v1/conversations/{id}/settings`
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<UpdateSettings>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.update_settings(&actor, id, body).await?)
}

/// # `POST /v1/conversations/{id}/invite`
pub(crate) async fn regenerate_invite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<InviteLink> {
    ok(state.services.conversations.regenerate_invite(&actor, id).await?)
}

/// # `GET /v1/conversations/invite?link=`
pub(crate) async fn preview_invite(
    State(state): State<AppState>,
    Auth(_): Auth,
    Query(query): Query<InviteRef>,
) -> ApiResult<InvitePreview> {
    ok(state.services.conversations.preview_invite(query)?)
}

/// # `POST /v1/conversations/join`
pub(crate) async fn join(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<InviteRef>,
) -> ApiResult<Conversation> {
    ok(state.services.conversations.join(&actor, body).await?)
}

/// # `POST /v1/conversations/{id}/mute`
/// The body is optional; without `until` the mute lasts until unmuted.
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
pub(crate) async fn pin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(true)).await
}

/// # `POST /v1/conversations/{id}/unpin`
pub(crate) async fn unpin(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Pin(false)).await
}

/// # `POST /v1/conversations/{id}/archive`
pub(crate) async fn archive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(true)).await
}

/// # `POST /v1/conversations/{id}/unarchive`
pub(crate) async fn unarchive(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Archive(false)).await
}

/// # `POST /v1/conversations/{id}/favorite`
pub(crate) async fn favorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(true)).await
}

/// # `DELETE /v1/conversations/{id}/favorite`
pub(crate) async fn unfavorite(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Conversation> {
    flag(state, actor, id, PersonalChange::Favorite(false)).await
}

/// # `POST /v1/conversations/{id}/read`
/// Marks every message up to `message_id` (default: the newest) read. The body is optional.
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
pub(crate) async fn participants(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<ParticipantList> {
    ok(state.services.conversations.participants(&actor, id)?)
}

/// # `POST /v1/conversations/{id}/participants`
pub(crate) async fn add_participant(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
    Json(body): Json<AddParticipantRequest>,
) -> ApiResult<Participant> {
    created(state.services.conversations.add_participant(&actor, id, body).await?)
}

/// # `DELETE /v1/conversations/{id}/participants/{user_id}`
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
pub(crate) async fn change_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(ConversationId, UserId)>,
    Json(body): Json<ChangeRoleRequest>,
) -> ApiResult<Participant> {
    ok(state.services.conversations.change_role(&actor, id, user, body).await?)
}

/// # `GET /v1/conversations/{id}/sequence`
pub(crate) async fn sequence(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<SequenceInfo> {
    ok(state.services.conversations.sequence(&actor, id)?)
}
