//! `GET /users/:id/public-key`: the key this dialect's clients encrypt to. Their accounts have one key
//! pair, whose public half they register as `pubk` (with the private half encrypted, in the key backup);
//! that public half is what is published here. Parley's own keys are per device and live under
//! `/v1/encryption`.

use axum::Json as JsonAnswer;
use axum::extract::State;
use protocol::UserId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ErrorBody, Extracted, Result, TAG};
use crate::AppState;
use crate::extract::{Auth, Path};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(public_key))
}

/// A user's published key, in the document's fields. The node keeps no signature or signing time for
/// it (the client registered it as it is), so those are `null`, and there is one version.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChatsAxumPublicKey)]
pub(super) struct PublicKey {
    user_id: UserId,
    /// As the client registered it (`pubk`).
    public_key: String,
    signature: Option<String>,
    key_version: u32,
    signed_at: Option<String>,
    identity_key: Option<String>,
}

/// # `GET /users/:id/public-key`
#[utoipa::path(
    get,
    path = "/users/{id}/public-key",
    tag = TAG,
    summary = "A user's public key (chats-axum)",
    params(("id" = UserId, Path, description = "The user")),
    responses(
        (status = 200, description = "The key the user registered", body = PublicKey),
        (status = 400, description = "The id is not a user id", body = ErrorBody),
        (status = 401, description = "Auth/session failure", body = ErrorBody),
        (status = 404, description = "No such user on this node, or one that registered no key", body = ErrorBody),
        (status = 429, description = "Throttled", body = ErrorBody),
    ),
)]
pub(crate) async fn public_key(
    State(state): State<AppState>,
    auth: Extracted<Auth>,
    id: Extracted<Path<UserId>>,
) -> Result<JsonAnswer<PublicKey>> {
    let (Auth(_), Path(user)) = (auth?, id?);
    let public_key = state.services.users.account_public_key(user)?;
    Ok(JsonAnswer(PublicKey {
        user_id: user,
        public_key,
        signature: None,
        key_version: 1,
        signed_at: None,
        identity_key: None,
    }))
}
