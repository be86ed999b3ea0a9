//! The route table: each domain's file lists its handlers once, with `routes!`, and that one list gives
//! both the axum routes and their OpenAPI operations, so nothing is served undescribed. One `routes!`
//! call takes the handlers of one path: given handlers of several paths, it serves each of them on
//! every one of those paths.

mod admin;
mod auth;
pub(crate) mod avatars;
mod broadcasts;
mod calls;
mod contacts;
mod conversations;
mod docs;
mod federation;
pub(crate) mod files;
mod health;
mod keys;
mod messages;
mod users;
mod web_app;
mod webhooks;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState, openapi};

/// The whole API and its OpenAPI document, built from the same lists.
pub(crate) fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, operations) = OpenApiRouter::new()
        .merge(health::router())
        .merge(docs::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(users::router())
        .merge(contacts::router())
        .merge(avatars::router())
        .merge(keys::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(federation::router())
        .merge(calls::router())
        .merge(files::router())
        .merge(broadcasts::router())
        .merge(webhooks::router())
        .merge(crate::dialects::router())
        .routes(routes!(crate::ws::upgrade))
        .split_for_parts();
    // The web app's pages are not API operations: they are answered where unknown paths are.
    let router = router
        .fallback(web_app::or_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    (router, openapi::document(operations))
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

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    fn document() -> serde_json::Value {
        serde_json::to_value(router().1).unwrap()
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
        assert_eq!(
            schemas["PreKeyPublic"]["pattern"],
            "^(?:[A-Za-z0-9+/]{4}){10}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=?$"
        );
        // `api::Timestamp` is an alias of chrono's `DateTime<Utc>`, recognised by name.
        assert_eq!(schemas["Me"]["properties"]["created_at"]["type"], "string");
        assert_eq!(schemas["Me"]["properties"]["created_at"]["format"], "date-time");
    }

    #[test]
    fn the_schemas_carry_the_bounds_the_node_checks() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let key_id = &schemas["SignedPreKeyUpload"]["properties"]["key_id"];
        assert_eq!(
            (key_id["format"].as_str(), key_id["maximum"].as_u64()),
            (Some("u-int32"), Some(u32::MAX.into()))
        );
        let profile = &schemas["UpdateProfileRequest"]["properties"];
        assert_eq!(profile["display_name"]["maxLength"], 64);
        assert_eq!(profile["display_name"]["pattern"], crate::openapi::TEXT);
        assert_eq!(profile["bio"]["pattern"], crate::openapi::OPTIONAL_TEXT);
        let email = &schemas["RegisterRequest"]["properties"]["email"];
        assert!(
            email.get("format").is_none(),
            "the shape's name gives way to its pattern: {email}"
        );
        assert!(email["pattern"].as_str().is_some_and(|p| p.contains('@')), "{email}");
        let secret = &schemas["CreateWebhookRequest"]["properties"]["secret"];
        assert!(
            secret.get("pattern").is_none() && secret.get("format").is_none(),
            "{secret}"
        );
        let search = doc["paths"]["/v1/users/search"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = search.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(
            (limit["schema"]["minimum"].as_u64(), limit["schema"]["maximum"].as_u64()),
            (Some(1), Some(50))
        );
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
        let document = &doc["paths"]["/v1/openapi.json"]["get"]["responses"]["200"]["content"][JSON]["schema"];
        assert!(
            document.get("properties").is_none(),
            "the document itself is not enveloped"
        );
    }
}
