//! The OpenAPI 3.1 description of the whole API, generated from the code: each handler carries a
//! `#[utoipa::path]` naming its route, parameters, body and answers, and the `protocol` types derive
//! their schemas (its `openapi` feature). Served at `GET /v1/openapi.json` and browsed at `GET /docs`.
//!
//! Conventions applied here once instead of on every handler, as `reply.rs`, `error.rs` and
//! `extract.rs` apply them to real answers:
//! - a handler's annotation names the `data` type of its JSON answers; the document wraps them in the
//!   success envelope `{ success: true, data }`;
//! - an error answer is the error envelope `{ success: false, error, code }`; the statuses every
//!   handler of a kind can produce (bad input, a missing token, rate limits, internal errors) are added
//!   from what the operation takes, the specific ones (403, 404, 409, …) are on the handlers;
//! - every operation needs a bearer token unless its annotation says `security(())`.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::routes::{
    auth, avatars, broadcasts, calls, contacts, conversations, docs, federation, files, health, keys, messages, users,
    webhooks,
};

/// Where the document is served; its own answer is the one JSON answer without the envelope.
const DOCUMENT_PATH: &str = "/v1/openapi.json";
const JSON: &str = "application/json";

/// The document. `paths(...)` must name every handler of `routes.rs`; the `openapi` integration test
/// checks both directions against the route table.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley",
        description = "A federated, end-to-end encrypted messaging node. Every JSON answer is an envelope: \
            `{\"success\": true, \"data\": …}` or `{\"success\": false, \"error\": \"…\", \"code\": \"…\"}`. \
            Binary values are standard base64, timestamps RFC 3339 in UTC, identifiers UUIDs. Authenticate \
            with `Authorization: Bearer <access token>` from register, login or refresh. Live events come \
            over the WebSocket at `/v1/ws`.",
    ),
    paths(
        health::ping,
        health::health,
        docs::openapi,
        docs::page,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::logout_all,
        auth::sessions,
        auth::forgot_password,
        auth::reset_password,
        auth::revoke_other_sessions,
        auth::revoke_session,
        users::me,
        users::update_me,
        users::delete_me,
        users::settings,
        users::update_settings,
        users::devices,
        users::deactivate_device,
        users::search,
        users::profile,
        users::public_devices,
        contacts::list,
        contacts::add,
        contacts::blocked,
        contacts::remove,
        contacts::block,
        contacts::unblock,
        avatars::set_mine,
        avatars::get,
        avatars::set_conversation,
        keys::upload_identity,
        keys::identity,
        keys::deactivate_identity,
        keys::delete_identity,
        keys::upload_signed_prekey,
        keys::signed_prekey,
        keys::active_signed_prekey,
        keys::rotate_signed_prekey,
        keys::upload_one_time_prekeys,
        keys::one_time_prekey_count,
        keys::consume_one_time_prekey,
        keys::bundle,
        keys::active_keys,
        conversations::create,
        conversations::list,
        conversations::direct,
        conversations::preview_invite,
        conversations::join,
        conversations::search,
        conversations::get,
        conversations::update,
        conversations::delete,
        conversations::participants,
        conversations::add_participant,
        conversations::remove_participant,
        conversations::change_role,
        conversations::sequence,
        conversations::update_settings,
        conversations::regenerate_invite,
        conversations::mute,
        conversations::unmute,
        conversations::pin,
        conversations::unpin,
        conversations::archive,
        conversations::unarchive,
        conversations::favorite,
        conversations::unfavorite,
        conversations::read_up_to,
        messages::send,
        messages::list,
        messages::get,
        messages::edit,
        messages::delete,
        messages::hard_delete,
        messages::mark_read,
        messages::mark_delivered,
        messages::forward,
        messages::reactions,
        messages::react,
        messages::unreact,
        federation::node,
        federation::peers,
        federation::resolve,
        calls::create,
        calls::list,
        calls::of_user,
        calls::active,
        calls::missed,
        calls::ice_servers,
        calls::quality,
        calls::get,
        calls::participants,
        calls::add_participant,
        calls::remove_participant,
        calls::set_status,
        calls::set_mute,
        calls::connected,
        calls::end,
        calls::duration,
        files::create_upload,
        files::list_uploads,
        files::completed_uploads,
        files::in_progress_uploads,
        files::stale_uploads,
        files::delete_stale_uploads,
        files::upload,
        files::cancel_upload,
        files::put_chunk,
        files::progress,
        files::complete,
        files::fail,
        files::upload_file,
        files::download,
        files::info,
        files::share,
        broadcasts::create,
        broadcasts::list,
        broadcasts::search,
        broadcasts::get,
        broadcasts::update,
        broadcasts::delete,
        broadcasts::recipients,
        broadcasts::add_recipient,
        broadcasts::recipient_count,
        broadcasts::bulk_add,
        broadcasts::bulk_remove,
        broadcasts::is_recipient,
        broadcasts::remove_recipient,
        broadcasts::send,
        webhooks::create,
        webhooks::list,
        webhooks::delete,
        webhooks::deliveries,
        crate::ws::upgrade,
    ),
    components(schemas(ErrorEnvelope, protocol::ws::ClientFrame, protocol::ws::ServerFrame)),
    security(("bearer" = [])),
    modifiers(&Conventions),
    tags(
        (name = "health", description = "Liveness and readiness, outside `/v1`."),
        (name = "docs", description = "This description and a page to browse it."),
        (name = "auth", description = "Accounts, login sessions and tokens."),
        (name = "users", description = "Profiles, settings, devices and sessions."),
        (name = "contacts", description = "The caller's contacts and blocked users."),
        (name = "avatars", description = "Pictures of users and conversations."),
        (name = "encryption", description = "Identity keys, signed and one-time prekeys, and X3DH bundles."),
        (name = "conversations", description = "DMs, groups and channels: details, participants and the caller's own flags."),
        (name = "messages", description = "End-to-end encrypted messages, one ciphertext per recipient device."),
        (name = "federation", description = "This node's place among the federated nodes (operator views)."),
        (name = "calls", description = "Voice and video calls; their WebRTC signaling goes over the WebSocket."),
        (name = "uploads", description = "Resumable upload sessions for encrypted files."),
        (name = "files", description = "Stored (encrypted) file blobs."),
        (name = "broadcasts", description = "Broadcast lists: one message to many DMs."),
        (name = "webhooks", description = "Signed event deliveries to HTTP endpoints."),
        (name = "realtime", description = "The WebSocket for live events."),
    ),
)]
pub(crate) struct ApiDoc;

/// Raw bytes, as an `application/octet-stream` body or answer.
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// The `data` of an answer that carries nothing but its success.
pub(crate) struct Null;

impl PartialSchema for Null {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Null)
            .description(Some("Always null: nothing to report beyond success."))
            .into()
    }
}

impl ToSchema for Null {}

/// A `multipart/form-data` body with the picture in a part named `avatar`.
pub(crate) struct AvatarForm;

impl PartialSchema for AvatarForm {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "avatar",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                    .description(Some(
                        "A PNG, JPEG, GIF or WebP image (recognised by its bytes) of at most 1 MiB.",
                    )),
            )
            .required("avatar")
            .into()
    }
}

impl ToSchema for AvatarForm {}

/// Every failure: the envelope with a human-readable `error` and a stable `code`.
pub(crate) struct ErrorEnvelope;

impl PartialSchema for ErrorEnvelope {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("A failed request."))
            .property(
                "success",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            )
            .required("success")
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("What went wrong.")),
            )
            .required("error")
            .property(
                "code",
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                    "A stable machine-readable code, e.g. `VALIDATION_ERROR`, `NOT_FOUND`, `RATE_LIMIT_EXCEEDED`.",
                )),
            )
            .required("code")
            .property(
                "retry_after",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Seconds until the budget renews (`RATE_LIMIT_EXCEEDED` only).")),
            )
            .into()
    }
}

impl ToSchema for ErrorEnvelope {}

/// Applies the conventions of the module documentation to every operation.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Components::new);
        common_responses(components);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access token from register, login or refresh (`Authorization: Bearer <token>`).",
                    ))
                    .build(),
            ),
        );
        let secured_by_default = doc
            .security
            .as_ref()
            .is_some_and(|requirements| requirements.iter().any(|r| *r != SecurityRequirement::default()));
        for (path, item) in doc.paths.paths.iter_mut() {
            for operation in operations(item) {
                let secured = match &operation.security {
                    Some(requirements) => requirements.iter().any(|r| *r != SecurityRequirement::default()),
                    None => secured_by_default,
                };
                unique_operation_id(operation);
                if path != DOCUMENT_PATH {
                    wrap_answers(operation);
                }
                add_common_errors(operation, path, secured);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Handlers in different domains share names (`get`, `list`), so ids are qualified by the tag.
fn unique_operation_id(operation: &mut Operation) {
    let tag = operation.tags.as_ref().and_then(|tags| tags.first());
    if let (Some(tag), Some(id)) = (tag, &operation.operation_id) {
        operation.operation_id = Some(format!("{tag}_{id}"));
    }
}

/// Successful JSON answers carry their annotated type as `data`; failures get the error envelope.
fn wrap_answers(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        if status.starts_with('2') {
            if let Some(RefOr::T(content)) = response.content.get_mut(JSON) {
                content.schema = content.schema.take().map(success_envelope);
            }
        } else if response.content.is_empty() && !status.starts_with('1') && !status.starts_with('3') {
            response.content.insert(JSON.into(), RefOr::T(error_content()));
        }
    }
}

fn success_envelope(data: RefOr<Schema>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property(
            "success",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([true])),
        )
        .required("success")
        .property("data", data)
        .required("data")
        .into()
}

fn error_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorEnvelope::name())))
        .build()
}

/// Failures that come from how an operation is reached rather than from what it does: the extractors
/// (`extract.rs`), authentication, the rate limiter (`limits.rs`) and internal errors. Each is kept once
/// under `components.responses` and referred to by the operations it applies to.
#[rustfmt::skip]
const COMMON_ERRORS: [(&str, &str, &str); 7] = [
    ("400", "BadInput", "Malformed input: an identifier in the path, or the JSON syntax"),
    ("401", "Unauthorized", "Missing, invalid or expired access token, or an ended session"),
    ("413", "TooLarge", "The body exceeds the size limit"),
    ("415", "NotJson", "The body is not `Content-Type: application/json`"),
    ("422", "Invalid", "A field is missing or unacceptable; the message names it"),
    ("429", "RateLimited", "Rate limit exceeded (`RATE_LIMIT_EXCEEDED`, with `retry_after`)"),
    ("500", "Internal", "Internal error (details are logged, not sent)"),
];

fn common_responses(components: &mut Components) {
    for (_, name, description) in COMMON_ERRORS {
        let response = ResponseBuilder::new()
            .description(description)
            .content(JSON, error_content())
            .build();
        components.responses.insert(name.into(), RefOr::T(response));
    }
}

fn add_common_errors(operation: &mut Operation, path: &str, secured: bool) {
    let body = match &operation.request_body {
        Some(RefOr::T(body)) if body.content.contains_key(JSON) => Some(body),
        _ => None,
    };
    let json_body = body.is_some();
    let required_body = body.is_some_and(|body| body.required == Some(Required::True));
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    let applies = |status: &str| match status {
        "400" => path.contains('{') || json_body,
        "401" => secured,
        "413" => json_body,
        "415" => required_body,
        "422" => json_body || has_query,
        "429" => path.starts_with("/v1/"),
        _ => true,
    };
    for (status, name, _) in COMMON_ERRORS {
        if applies(status) {
            operation
                .responses
                .responses
                .entry(status.into())
                .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn the_document_is_openapi_3_1_with_unique_operation_ids() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            }
        }
    }

    #[test]
    fn custom_serde_types_have_their_wire_schemas() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["UserId"]["type"], "string");
        assert_eq!(schemas["UserId"]["format"], "uuid");
        assert_eq!(schemas["Base64Bytes"]["contentEncoding"], "base64");
        assert_eq!(schemas["PreKeyPublic"]["minLength"], 43);
        assert_eq!(schemas["PreKeyPublic"]["maxLength"], 44);
        assert_eq!(schemas["PreKeySignature"]["maxLength"], 88);
        // `api::Timestamp` is an alias of chrono's `DateTime<Utc>`, recognised by name.
        assert_eq!(schemas["Me"]["properties"]["created_at"]["type"], "string");
        assert_eq!(schemas["Me"]["properties"]["created_at"]["format"], "date-time");
    }

    #[test]
    fn answers_are_wrapped_in_the_envelope() {
        let doc = document();
        let me = &doc["paths"]["/v1/users/me"]["get"];
        let ok = &me["responses"]["200"]["content"][JSON]["schema"];
        assert_eq!(ok["properties"]["data"]["$ref"], "#/components/schemas/Me");
        assert_eq!(ok["properties"]["success"]["enum"][0], true);
        assert_eq!(me["responses"]["401"]["$ref"], "#/components/responses/Unauthorized");
        let unauthorized = &doc["components"]["responses"]["Unauthorized"]["content"][JSON]["schema"];
        assert_eq!(unauthorized["$ref"], "#/components/schemas/ErrorEnvelope");
        assert_eq!(
            me["security"],
            serde_json::Value::Null,
            "inherits the bearer requirement"
        );
        let document = &doc["paths"][DOCUMENT_PATH]["get"]["responses"]["200"]["content"][JSON]["schema"];
        assert!(
            document.get("properties").is_none(),
            "the document itself is not enveloped"
        );
    }
}
