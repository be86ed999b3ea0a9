use axum::extract::State;
use protocol::UserId;
use protocol::api::{AddContactRequest, BlockedList, Contact, ContactList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{Auth, Json, Path};
use crate::reply::{ApiResult, created, ok};
use crate::schemas::{ErrorEnvelope, Null};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(blocked))
        .routes(routes!(remove))
        .routes(routes!(block))
        .routes(routes!(unblock))
}

/// # `GET /v1/users/me/contacts`
#[utoipa::path(
    get,
    path = "/v1/users/me/contacts",
    tag = "contacts",
    summary = "The caller's contacts",
    responses(
        (status = 200, description = "The contacts", body = ContactList),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<ContactList> {
    ok(state.services.contacts.list(&actor)?)
}

/// # `POST /v1/users/me/contacts`
#[utoipa::path(
    post,
    path = "/v1/users/me/contacts",
    tag = "contacts",
    summary = "Add a contact",
    request_body = AddContactRequest,
    responses(
        (status = 201, description = "Added", body = Contact),
        (status = 403, description = "That user has blocked the caller"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Already a contact, or the user is the caller"),
        (status = 503, description = "Another node involved (the conversation's host, or the user's home node) could not be reached", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<AddContactRequest>,
) -> ApiResult<Contact> {
    created(state.services.contacts.add(&actor, body).await?)
}

/// # `DELETE /v1/users/me/contacts/{id}`
#[utoipa::path(
    delete,
    path = "/v1/users/me/contacts/{id}",
    tag = "contacts",
    summary = "Remove a contact",
    params(("id" = UserId, Path, description = "The other user")),
    responses(
        (status = 200, description = "Removed", body = Null),
        (status = 404, description = "Not a contact"),
    ),
)]
pub(crate) async fn remove(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.remove(&actor, id).await?)
}

/// # `POST /v1/users/me/contacts/{id}/block`
#[utoipa::path(
    post,
    path = "/v1/users/me/contacts/{id}/block",
    tag = "contacts",
    summary = "Block a user",
    params(("id" = UserId, Path, description = "The other user")),
    responses(
        (status = 200, description = "Blocked (also when already blocked)", body = Null),
        (status = 404, description = "No such user"),
        (status = 409, description = "The user is the caller, who cannot block themselves"),
    ),
)]
pub(crate) async fn block(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.block(&actor, id).await?)
}

/// # `POST /v1/users/me/contacts/{id}/unblock`
#[utoipa::path(
    post,
    path = "/v1/users/me/contacts/{id}/unblock",
    tag = "contacts",
    summary = "Lift a block",
    params(("id" = UserId, Path, description = "The other user")),
    responses(
        (status = 200, description = "Not blocked (also when it was not)", body = Null),
    ),
)]
pub(crate) async fn unblock(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<UserId>) -> ApiResult<()> {
    ok(state.services.contacts.unblock(&actor, id).await?)
}

/// # `GET /v1/users/me/contacts/blocked`
#[utoipa::path(
    get,
    path = "/v1/users/me/contacts/blocked",
    tag = "contacts",
    summary = "The users the caller blocked",
    responses(
        (status = 200, description = "The blocked users", body = BlockedList),
    ),
)]
pub(crate) async fn blocked(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult<BlockedList> {
    ok(state.services.contacts.blocked(&actor)?)
}
