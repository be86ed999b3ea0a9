//! `POST /api/users` (registration) and `/api/users/{user_id}` (profiles).

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::UserId;
use protocol::api::{Timestamp, UpdateProfileRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shapes::Profile;
use super::{ErrorBody, Extracted, Result, TAG};
use crate::dialects::sessions::{self, Account};
use crate::extract::{Auth, ClientIp, Json, Path};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(profile, update_profile))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MessagingAppRegister)]
pub(super) struct Register {
    #[schema(max_length = 254, format = "email")]
    email: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    password: String,
    #[schema(max_length = 32, format = "username")]
    username: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessagingAppAccount)]
pub(super) struct Registered {
    id: UserId,
    email: String,
    username: String,
    display_name: String,
    created_at: Timestamp,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MessagingAppProfileUpdate)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    bio: Option<String>,
    #[serde(default)]
    #[schema(max_length = 100)]
    location: Option<String>,
}

/// # `POST /api/users`
///
/// Creates the account; the client then logs in at `POST /api/auth/login`, as the document's flow
/// goes (the session registration opens is ended at once).
#[utoipa::path(
    post,
    path = "/api/users",
    tag = TAG,
    summary = "Register (messaging-app)",
    security(()),
    request_body = Register,
    responses(
        (status = 201, description = "The account", body = Registered),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The email or username is taken", body = ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorBody),
        (status = 422, description = "A field is invalid (`details.field` names it)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Extracted<Json<Register>>,
) -> Result<(StatusCode, JsonAnswer<Registered>)> {
    let Json(body) = body?;
    let account = Account {
        email: body.email,
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        key_backup: None,
    };
    let session = sessions::register(&state, &headers, "messaging-app", ip, account).await?;
    let me = state.services.users.me(&session.actor)?;
    state.services.auth.logout(&session.actor, None).await?;
    let registered = Registered {
        id: me.id,
        email: me.email,
        username: me.username,
        display_name: me.display_name,
        created_at: me.created_at,
    };
    Ok((StatusCode::CREATED, JsonAnswer(registered)))
}

/// # `GET /api/users/{user_id}`
#[utoipa::path(
    get,
    path = "/api/users/{user_id}",
    tag = TAG,
    summary = "A user's profile (messaging-app)",
    params(("user_id" = UserId, Path, description = "The user, of this node or another")),
    responses(
        (status = 200, description = "The profile", body = Profile),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ),
)]
pub(crate) async fn profile(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<UserId>>,
) -> Result<JsonAnswer<Profile>> {
    let (Auth(_), Path(id)) = (auth?, id?);
    Ok(JsonAnswer(state.services.users.profile(id).await?.into()))
}

/// # `PATCH /api/users/{user_id}`
#[utoipa::path(
    patch,
    path = "/api/users/{user_id}",
    tag = TAG,
    summary = "Change one's own profile (messaging-app)",
    params(("user_id" = UserId, Path, description = "The caller")),
    request_body = Update,
    responses(
        (status = 200, description = "The profile as it now is", body = Profile),
        (status = 400, description = "A malformed id or JSON", body = ErrorBody),
        (status = 401, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "Another user's profile", body = ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = ErrorBody),
        (status = 422, description = "A field is invalid or unknown (`details.field` names it)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ),
)]
pub(crate) async fn update_profile(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<UserId>>,
    body: Extracted<Json<Update>>,
) -> Result<JsonAnswer<Profile>> {
    let (Auth(actor), Path(id), Json(body)) = (auth?, id?, body?);
    if id != actor.user_id {
        let refusal = ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "only your own profile can be changed",
        );
        return Err(refusal.into());
    }
    let update = UpdateProfileRequest {
        display_name: body.display_name,
        bio: body.bio,
        location: body.location,
        ..UpdateProfileRequest::default()
    };
    state.services.users.update_me(&actor, update).await?;
    Ok(JsonAnswer(state.services.users.profile(id).await?.into()))
}
