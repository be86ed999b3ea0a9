use axum::extract::State;
use protocol::UserId;
use protocol::api::{AddContactRequest, BlockedList, Contact, ContactList};

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, created, ok};

/// # `GET /v1/users/me/contacts`
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<ContactList> {
    ok(state.services.contacts.list(&actor)?)
}

/// # `POST /v1/users/me/contacts`
pub(crate) async fn add(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<AddContactRequest>,
) -> ApiResult<Contact> {
    created(state.services.contacts.add(&actor, body.contact_user_id).await?)
}

/// # `DELETE /v1/users/me/contacts/{id}`
pub(crate) async fn remove(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.remove(&actor, id).await?)
}

/// # `POST /v1/users/me/contacts/{id}/block`
pub(crate) async fn block(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.block(&actor, id).await?)
}

/// # `POST /v1/users/me/contacts/{id}/unblock`
pub(crate) async fn unblock(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.unblock(&actor, id).await?)
}

/// # `GET /v1/users/me/contacts/blocked`
pub(crate) async fn blocked(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<BlockedList> {
    ok(state.services.contacts.blocked(&actor)?)
}
