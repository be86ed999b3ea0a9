use axum::extract::State;
use protocol::api::{
    AddParticipantRequest, ChangeRoleRequest, Conversation, ConversationList, ConversationPage,
    ConversationSearchQuery, CreateConversationRequest, DirectQuery, PageQuery, Participant, ParticipantList,
    SequenceInfo, UpdateConversationRequest,
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
    Query(page): Query<PageQuery>,
) -> ApiResult<ConversationPage> {
    ok(state.services.conversations.list(&actor, page)?)
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

/// # `DELETE /v1/conversations/{id}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<()> {
    ok(state.services.conversations.delete(&actor, id).await?)
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
