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
//! - every operation needs a bearer token unless its annotation says `security(())`;
//! - unsigned integers and free text carry the bounds the node checks (`bounds`);
//! - the other API documents' dialects (`crate::dialects`) are described as they answer: their
//!   operations, tagged with the dialect's name, list their own bodies and errors and get none of the
//!   above but the token.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::schemas::ErrorEnvelope;

mod bounds;

#[cfg(test)]
pub(crate) use bounds::{OPTIONAL_TEXT, TEXT};

/// Where the document is served; its own answer is the one JSON answer without the envelope.
const DOCUMENT_PATH: &str = "/v1/openapi.json";
const JSON: &str = "application/json";

/// The parts of the document that belong to no route. The operations come from the route files, each
/// of which lists its handlers once for both the router and the document (`crate::routes`).
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
    components(schemas(ErrorEnvelope, protocol::ws::ClientFrame, protocol::ws::ServerFrame)),
    security(("bearer" = [])),
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
        (name = "admin", description = "The operator API: accounts, registration tokens, statistics, denied nodes and the audit log. \
            Only the node's operators: an account with the operator role, or `parley admin` with the token the node writes to \
            its data directory (`operator.token`)."),
        (name = "calls", description = "Voice and video calls; their WebRTC signaling goes over the WebSocket."),
        (name = "uploads", description = "Resumable upload sessions for encrypted files."),
        (name = "files", description = "Stored (encrypted) file blobs."),
        (name = "broadcasts", description = "Broadcast lists: one message to many DMs."),
        (name = "webhooks", description = "Signed event deliveries to HTTP endpoints."),
        (name = "realtime", description = "The WebSocket for live events."),
        (name = "simple-chat", description = "The dialect of the simple-chat document (`/api/auth`, `/api/conversations`, `/api/groups`): its own bodies and `{\"error\": …}` errors, no envelope, messages in the clear. See `docs/DIALECTS.md`."),
    ),
)]
struct ApiDoc;

/// The whole document: the routes' operations within the parts above. The conventions are applied after
/// the merge because they rewrite every operation.
pub(crate) fn document(operations: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(operations);
    Conventions.modify(&mut document);
    bounds::add(&mut document);
    document
}

/// A bound that comes from the node's configuration: the largest file an upload session may declare.
pub(crate) fn configure(doc: &mut utoipa::openapi::OpenApi, config: &node::Config) {
    let upload = doc
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("CreateUploadRequest"));
    if let Some(RefOr::T(Schema::Object(upload))) = upload
        && let Some(RefOr::T(Schema::Object(size))) = upload.properties.get_mut("file_size")
    {
        size.maximum = Some(utoipa::Number::UInt(config.max_file_bytes as usize));
    }
}

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
            let mut ids = std::collections::HashSet::new();
            for (method, operation) in operations(item) {
                let secured = match &operation.security {
                    Some(requirements) => requirements.iter().any(|r| *r != SecurityRequirement::default()),
                    None => secured_by_default,
                };
                unique_operation_id(operation);
                // One handler served for several methods (`method(post, patch)`) names each apart.
                if let Some(id) = &mut operation.operation_id
                    && !ids.insert(id.clone())
                {
                    id.push('_');
                    id.push_str(method);
                }
                // A dialect's operations document its own answers, errors included.
                if is_dialect(operation) {
                    continue;
                }
                if path != DOCUMENT_PATH {
                    wrap_answers(operation);
                }
                add_common_errors(operation, path, secured);
            }
        }
    }
}

fn is_dialect(operation: &Operation) -> bool {
    operation
        .tags
        .iter()
        .flatten()
        .any(|tag| crate::dialects::TAGS.contains(&tag.as_str()))
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
        ("head", &mut item.head),
        ("options", &mut item.options),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
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
