//! The route table. Each domain's handlers live in their own file, each documented with its route and
//! described for OpenAPI by `#[utoipa::path]` (assembled in `crate::openapi`).

pub(crate) mod auth;
pub(crate) mod avatars;
pub(crate) mod broadcasts;
pub(crate) mod calls;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod docs;
pub(crate) mod federation;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod messages;
pub(crate) mod users;
pub(crate) mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{delete, get, post, put};

use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    let v1 = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/password/forgot", post(auth::forgot_password))
        .route("/auth/password/reset", post(auth::reset_password))
        .route(
            "/users/me",
            get(users::me).put(users::update_me).delete(users::delete_me),
        )
        .route("/users/me/settings", get(users::settings).put(users::update_settings))
        .route("/users/me/contacts", get(contacts::list).post(contacts::add))
        .route("/users/me/contacts/blocked", get(contacts::blocked))
        .route("/users/me/contacts/{id}", delete(contacts::remove))
        .route("/users/me/contacts/{id}/block", post(contacts::block))
        .route("/users/me/contacts/{id}/unblock", post(contacts::unblock))
        .route("/users/me/avatar", post(avatars::set_mine))
        .route("/avatars/{name}", get(avatars::get))
        .route("/conversations/{id}/avatar", post(avatars::set_conversation))
        .route("/users/me/devices", get(users::devices))
        .route("/users/me/devices/{id}", delete(users::deactivate_device))
        .route("/users/me/sessions", delete(auth::revoke_other_sessions))
        .route("/users/me/sessions/{id}", delete(auth::revoke_session))
        .route("/users/search", get(users::search))
        .route("/users/{id}", get(users::profile))
        .route("/users/{id}/devices", get(users::public_devices))
        .route("/encryption/identity", post(keys::upload_identity).get(keys::identity))
        .route("/encryption/identity/{id}/deactivate", put(keys::deactivate_identity))
        .route("/encryption/identity/{id}", delete(keys::delete_identity))
        .route(
            "/encryption/signed-prekeys",
            post(keys::upload_signed_prekey).get(keys::signed_prekey),
        )
        .route("/encryption/signed-prekeys/active", get(keys::active_signed_prekey))
        .route("/encryption/signed-prekeys/rotate", post(keys::rotate_signed_prekey))
        .route("/encryption/onetime-prekeys", post(keys::upload_one_time_prekeys))
        .route("/encryption/onetime-prekeys/count", get(keys::one_time_prekey_count))
        .route(
            "/encryption/onetime-prekeys/consume",
            post(keys::consume_one_time_prekey),
        )
        .route("/encryption/bundles", get(keys::bundle))
        .route("/encryption/keys/active", get(keys::active_keys))
        .route("/conversations", post(conversations::create).get(conversations::list))
        .route("/conversations/direct", get(conversations::direct))
        .route("/conversations/invite", get(conversations::preview_invite))
        .route("/conversations/join", post(conversations::join))
        .route("/conversations/search", get(conversations::search))
        .route(
            "/conversations/{id}",
            get(conversations::get)
                .put(conversations::update)
                .delete(conversations::delete),
        )
        .route(
            "/conversations/{id}/participants",
            get(conversations::participants).post(conversations::add_participant),
        )
        .route(
            "/conversations/{id}/participants/{user_id}",
            delete(conversations::remove_participant),
        )
        .route(
            "/conversations/{id}/participants/{user_id}/role",
            put(conversations::change_role),
        )
        .route("/conversations/{id}/sequence", get(conversations::sequence))
        .route("/conversations/{id}/settings", put(conversations::update_settings))
        .route("/conversations/{id}/invite", post(conversations::regenerate_invite))
        .route("/conversations/{id}/mute", post(conversations::mute))
        .route("/conversations/{id}/unmute", post(conversations::unmute))
        .route("/conversations/{id}/pin", post(conversations::pin))
        .route("/conversations/{id}/unpin", post(conversations::unpin))
        .route("/conversations/{id}/archive", post(conversations::archive))
        .route("/conversations/{id}/unarchive", post(conversations::unarchive))
        .route(
            "/conversations/{id}/favorite",
            post(conversations::favorite).delete(conversations::unfavorite),
        )
        .route("/conversations/{id}/read", post(conversations::read_up_to))
        .route("/messages", post(messages::send).get(messages::list))
        .route(
            "/messages/{id}",
            get(messages::get).put(messages::edit).delete(messages::delete),
        )
        .route("/messages/{id}/hard", delete(messages::hard_delete))
        .route("/messages/{id}/read", post(messages::mark_read))
        .route("/messages/{id}/delivered", post(messages::mark_delivered))
        .route("/messages/{id}/forward", post(messages::forward))
        .route(
            "/messages/{id}/reactions",
            get(messages::reactions).post(messages::react),
        )
        .route("/messages/{id}/reactions/{emoji}", delete(messages::unreact))
        .route("/federation/node", get(federation::node))
        .route("/federation/peers", get(federation::peers))
        .route("/federation/users/{handle}", get(federation::resolve))
        .route("/calls", post(calls::create).get(calls::list))
        .route("/calls/user", get(calls::of_user))
        .route("/calls/active", get(calls::active))
        .route("/calls/missed", get(calls::missed))
        .route("/calls/ice-servers", get(calls::ice_servers))
        .route("/calls/quality", post(calls::quality))
        .route("/calls/{id}", get(calls::get))
        .route(
            "/calls/{id}/participants",
            get(calls::participants).post(calls::add_participant),
        )
        .route("/calls/{id}/participants/{user_id}", delete(calls::remove_participant))
        .route("/calls/{id}/participants/{user_id}/status", put(calls::set_status))
        .route("/calls/{id}/participants/{user_id}/mute", put(calls::set_mute))
        .route("/calls/{id}/connected", post(calls::connected))
        .route("/calls/{id}/end", post(calls::end))
        .route("/calls/{id}/duration", get(calls::duration))
        .route("/uploads", post(files::create_upload).get(files::list_uploads))
        .route("/uploads/completed", get(files::completed_uploads))
        .route("/uploads/in-progress", get(files::in_progress_uploads))
        .route(
            "/uploads/stale",
            get(files::stale_uploads).delete(files::delete_stale_uploads),
        )
        .route("/uploads/{id}", get(files::upload).delete(files::cancel_upload))
        // File bodies are streamed to disk; the node enforces their limits as they arrive.
        .route(
            "/uploads/{id}/data",
            put(files::put_chunk).layer(DefaultBodyLimit::disable()),
        )
        .route("/uploads/{id}/progress", post(files::progress))
        .route("/uploads/{id}/complete", post(files::complete))
        .route("/uploads/{id}/fail", post(files::fail))
        .route("/files", post(files::upload_file).layer(DefaultBodyLimit::disable()))
        .route("/files/{id}", get(files::download))
        .route("/files/{id}/info", get(files::info))
        .route("/files/{id}/share", post(files::share))
        .route("/broadcasts", post(broadcasts::create).get(broadcasts::list))
        .route("/broadcasts/search", get(broadcasts::search))
        .route(
            "/broadcasts/{id}",
            get(broadcasts::get).put(broadcasts::update).delete(broadcasts::delete),
        )
        .route(
            "/broadcasts/{id}/recipients",
            get(broadcasts::recipients).post(broadcasts::add_recipient),
        )
        .route("/broadcasts/{id}/recipients/count", get(broadcasts::recipient_count))
        .route(
            "/broadcasts/{id}/recipients/bulk",
            post(broadcasts::bulk_add).delete(broadcasts::bulk_remove),
        )
        .route(
            "/broadcasts/{id}/recipients/{user_id}",
            get(broadcasts::is_recipient).delete(broadcasts::remove_recipient),
        )
        .route("/broadcasts/{id}/messages", post(broadcasts::send))
        .route("/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/webhooks/{id}", delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/ws", get(crate::ws::upgrade))
        .route("/openapi.json", get(docs::openapi));
    Router::new()
        .route("/ping", get(health::ping))
        .route("/health", get(health::health))
        .route("/docs", get(docs::page))
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
