//! `/users/*`: the caller's account, its nickname, and user search.

use axum::Json as JsonAnswer;
use axum::extract::State;
use protocol::api::{UpdateProfileRequest, UserSearchQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::{DONE, Done, User};
use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Json, Query};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, delete_me))
        .routes(routes!(nickname))
        .routes(routes!(username))
        .routes(routes!(search))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumNickname)]
pub(super) struct Nickname {
    /// 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    nickname: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChatsAxumUsername)]
pub(super) struct Username {
    /// 3 to 32 letters, digits, `_`, `.` and `-`, starting with a letter or digit (kept lower-case).
    #[schema(max_length = 32, format = "username")]
    username: String,
}

/// `GET /users/search?q=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// A prefix of a username or nickname, or an exact handle `username@node`.
    #[param(min_length = 1, max_length = 64)]
    q: String,
    /// At most 50; 20 by default.
    #[serde(default)]
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
}

/// A user found by search.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumFoundUser)]
pub(super) struct Found {
    id: protocol::UserId,
    username: String,
    nickname: String,
    avatar_url: Option<String>,
}

/// # `GET /users/me`
#[utoipa::path(
    get,
    path = "/users/me",
    tag = TAG,
    summary = "The caller's account (chats-axum)",
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn me(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<User>> {
    let Auth(actor) = auth?;
    Ok(JsonAnswer(state.services.users.me(&actor)?.into()))
}

/// # `DELETE /users/me`
#[utoipa::path(
    delete,
    path = "/users/me",
    tag = TAG,
    summary = "Delete the caller's account (chats-axum)",
    responses(
        (status = 200, description = "Deleted: every session ended, keys, key backup and files erased", body = Done),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_me(State(state): State<AppState>, auth: Extracted<Auth>) -> Result<JsonAnswer<Done>> {
    let Auth(actor) = auth?;
    state.services.delete_account(&actor).await?;
    Ok(JsonAnswer(DONE))
}

/// # `PATCH /users/nickname`
#[utoipa::path(
    patch,
    path = "/users/nickname",
    tag = TAG,
    summary = "Change the caller's nickname (chats-axum)",
    request_body = Nickname,
    responses(
        (status = 200, description = "The account", body = User),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn nickname(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<Nickname>>,
) -> Result<JsonAnswer<User>> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    let update = UpdateProfileRequest {
        display_name: Some(body.nickname),
        ..UpdateProfileRequest::default()
    };
    Ok(JsonAnswer(state.services.users.update_me(&actor, update).await?.into()))
}

/// # `PATCH /users/username`
///
/// The old name stays held (409 to anyone who asks for it) until every node that looked the user up
/// has learnt the new one.
#[utoipa::path(
    patch,
    path = "/users/username",
    tag = TAG,
    summary = "Change the caller's username (chats-axum)",
    request_body = Username,
    responses(
        (status = 200, description = "The account", body = User),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 409, description = "Taken, or given up moments ago and held", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn username(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    body: Extracted<Json<Username>>,
) -> Result<JsonAnswer<User>> {
    let (Auth(actor), Json(body)) = (auth?, body?);
    Ok(JsonAnswer(
        state.services.users.rename(&actor, &body.username).await?.into(),
    ))
}

/// # `GET /users/search`
#[utoipa::path(
    get,
    path = "/users/search",
    tag = TAG,
    summary = "Find users (chats-axum)",
    params(SearchQuery),
    responses(
        (status = 200, description = "The matches", body = Vec<Found>),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    query: Extracted<Query<SearchQuery>>,
) -> Result<JsonAnswer<Vec<Found>>> {
    let (Auth(_), Query(query)) = (auth?, query?);
    let found = state
        .services
        .users
        .search(UserSearchQuery {
            query: query.q,
            limit: query.limit,
        })
        .await?;
    Ok(JsonAnswer(
        found
            .users
            .into_iter()
            .map(|user| Found {
                id: user.id,
                username: user.username,
                nickname: user.display_name,
                avatar_url: user.avatar_url,
            })
            .collect(),
    ))
}
