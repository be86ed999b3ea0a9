//! The OpenAPI document at `/v1/openapi.json` against the node that serves it: every documented
//! operation is served, every route the node serves is documented, and what the node answers fits
//! the document (the status is listed, JSON bodies validate against the documented schema).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use node::Services;

use crate::support::*;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
/// Operations that end the caller's session or account; they get a user of their own.
const ENDS_SESSION: [(&str, &str); 7] = [
    ("post", "/v1/auth/logout"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/auth/logout"),
    ("post", "/auth/logout"),
    ("delete", "/users/me"),
    ("post", "/v1/auth/logout-all"),
    ("delete", "/v1/users/me"),
];

type Route = (String, String);

#[tokio::test]
async fn every_documented_operation_is_served_and_answers_as_documented() {
    let node = TestNode::start().await;
    let doc = document(&node).await;

    let documented: BTreeSet<Route> = operations(&doc).map(|(method, path, _)| (method, path)).collect();
    let served = served_routes(node.services.clone());
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(undocumented.is_empty(), "served but not documented: {undocumented:?}");
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");

    let ann = node.user("ann").await;
    let mut problems = Vec::new();
    let mut others = 0;
    for (method, path, operation) in operations(&doc) {
        let caller = if ENDS_SESSION.contains(&(method.as_str(), path.as_str())) {
            others += 1;
            node.user(&format!("other{others}")).await
        } else {
            ann.clone()
        };
        let url = request_path(&doc, &path, operation);
        let (status, content_type, body) = call(&node, &method, &url, operation, Some(&caller.token)).await;
        let what = format!("{} {url}", method.to_uppercase());
        if status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND
                && body["error"].as_str().is_some_and(|e| e.starts_with("no route for")))
        {
            problems.push(format!("{what}: not served ({status} {body})"));
            continue;
        }
        problems.extend(
            check_answer(&doc, operation, status, &content_type, &body)
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );

        // Without a token: 401 exactly when the document says a token is needed.
        let needs_token = requires_token(&doc, operation);
        let (status, _, body) = call(&node, &method, &url, operation, None).await;
        if needs_token != (status == StatusCode::UNAUTHORIZED) {
            let documented = if needs_token { "needing a token" } else { "public" };
            problems.push(format!(
                "{what}: documented as {documented}, answered {status} without a token: {body}"
            ));
        }
    }
    // An operation that ended ann's session without being listed above would have weakened every check
    // after it (all 401s), so make sure none did.
    let (status, body) = ann.api.get("/v1/users/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an unlisted operation ended the session: {body}"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn real_answers_fit_their_documented_schemas() {
    let node = TestNode::start().await;
    let doc = document(&node).await;
    let ann = node.user("ann").await;
    let bob = node.user("bob").await;
    bob.publish_keys(2).await;
    let mut answers: Vec<(&str, &str, StatusCode, Value)> = Vec::new();
    let mut record = |method, template, (status, body): (StatusCode, Value)| {
        answers.push((method, template, status, body.clone()));
        body
    };

    let conversation = record(
        "post",
        "/v1/conversations",
        ann.api
            .post(
                "/v1/conversations",
                json!({ "type": "GROUP", "subject": "s", "participants": [bob.id] }),
            )
            .await,
    );
    let conversation_id = conversation["data"]["id"].as_str().unwrap().to_owned();
    record(
        "get",
        "/v1/conversations/{id}",
        ann.api.get(&format!("/v1/conversations/{conversation_id}")).await,
    );
    record(
        "get",
        "/v1/conversations/{id}/participants",
        ann.api
            .get(&format!("/v1/conversations/{conversation_id}/participants"))
            .await,
    );
    let bundle = record(
        "get",
        "/v1/encryption/bundles",
        ann.api
            .get(&format!(
                "/v1/encryption/bundles?user_id={}&device_id={}",
                bob.id, bob.device_id
            ))
            .await,
    );
    assert!(bundle["success"].as_bool().unwrap(), "{bundle}");
    let message = record(
        "post",
        "/v1/messages",
        ann.api
            .post(
                "/v1/messages",
                json!({
                    "conversation_id": conversation_id,
                    "client_message_id": "m1",
                    "ciphertexts": [{ "recipient_device_id": bob.device_id, "ciphertext": b64(b"secret"), "header": b64(b"h") }],
                }),
            )
            .await,
    );
    let message_id = message["data"]["id"].as_str().unwrap().to_owned();
    record(
        "get",
        "/v1/messages",
        bob.api
            .get(&format!("/v1/messages?conversation_id={conversation_id}"))
            .await,
    );
    record(
        "get",
        "/v1/messages/{id}",
        bob.api.get(&format!("/v1/messages/{message_id}")).await,
    );
    record(
        "post",
        "/v1/messages/{id}/reactions",
        bob.api
            .post(
                &format!("/v1/messages/{message_id}/reactions"),
                json!({ "emoji": "👍" }),
            )
            .await,
    );
    record(
        "post",
        "/v1/messages/{id}/read",
        bob.api
            .post(&format!("/v1/messages/{message_id}/read"), json!({}))
            .await,
    );
    record("get", "/v1/conversations", bob.api.get("/v1/conversations").await);
    record(
        "get",
        "/v1/users/{id}",
        ann.api.get(&format!("/v1/users/{}", bob.id)).await,
    );
    record(
        "get",
        "/v1/users/{id}/devices",
        ann.api.get(&format!("/v1/users/{}/devices", bob.id)).await,
    );
    record(
        "post",
        "/v1/users/me/contacts",
        ann.api
            .post("/v1/users/me/contacts", json!({ "contact_user_id": bob.id }))
            .await,
    );
    record(
        "get",
        "/v1/users/me/contacts",
        ann.api.get("/v1/users/me/contacts").await,
    );
    record(
        "post",
        "/v1/uploads",
        ann.api
            .post(
                "/v1/uploads",
                json!({ "file_name": "a.bin", "file_size": 3, "content_type": "application/octet-stream",
                        "sha256": "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81" }),
            )
            .await,
    );
    record(
        "post",
        "/v1/calls",
        ann.api
            .post(
                "/v1/calls",
                json!({ "conversation_id": conversation_id, "type": "AUDIO" }),
            )
            .await,
    );
    record("get", "/v1/auth/sessions", ann.api.get("/v1/auth/sessions").await);

    let mut problems = Vec::new();
    for (method, template, status, body) in &answers {
        let operation = &doc["paths"][*template][*method];
        assert!(operation.is_object(), "{method} {template} is not documented");
        assert!(status.is_success(), "{method} {template}: {status} {body}");
        problems.extend(
            check_answer(&doc, operation, *status, "application/json", body)
                .into_iter()
                .map(|p| format!("{} {template}: {p}", method.to_uppercase())),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_docs_page_is_self_contained_html_reading_the_document() {
    let node = TestNode::start().await;
    let response = reqwest::get(format!("{}/docs", node.base)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(page.starts_with("<!doctype html>"), "{}", &page[..40]);
    assert!(page.contains("fetch(\"/v1/openapi.json\")"));
    assert!(
        !page.contains("<script src") && !page.contains("<link"),
        "loads nothing from elsewhere"
    );
}

async fn document(node: &TestNode) -> Value {
    let (status, doc) = node.client().get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"].as_object().is_some_and(|paths| !paths.is_empty()));
    doc
}

/// Every (method, path, operation) of the document.
fn operations(doc: &Value) -> impl Iterator<Item = (String, String, &Value)> {
    doc["paths"].as_object().unwrap().iter().flat_map(|(path, item)| {
        METHODS
            .iter()
            .filter_map(move |method| item.get(*method).map(|op| (method.to_string(), path.clone(), op)))
    })
}

fn requires_token(doc: &Value, operation: &Value) -> bool {
    let requirements = operation.get("security").unwrap_or(&doc["security"]);
    requirements.as_array().is_some_and(|alternatives| {
        !alternatives.is_empty()
            && alternatives
                .iter()
                .all(|r| r.as_object().is_some_and(|r| !r.is_empty()))
    })
}

/// The operation's path with fresh values for its path parameters and its required query parameters.
fn request_path(doc: &Value, path: &str, operation: &Value) -> String {
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let mut url = path.to_owned();
    let mut query = Vec::new();
    for parameter in &parameters {
        let name = parameter["name"].as_str().unwrap();
        let schema = resolve(doc, &parameter["schema"]);
        match parameter["in"].as_str().unwrap() {
            "path" => url = url.replace(&format!("{{{name}}}"), &sample(schema)),
            "query" if parameter["required"] == true => query.push(format!("{name}={}", sample(schema))),
            _ => {}
        }
    }
    assert!(!url.contains('{'), "{path}: a path parameter is not declared");
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    url
}

/// A value of the schema's type: fresh UUIDs for ids, a dummy for other strings.
fn sample(schema: &Value) -> String {
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (_, Some("uuid")) => Uuid::new_v4().to_string(),
        (Some("integer" | "number"), _) => "1".into(),
        (Some("boolean"), _) => "true".into(),
        _ => "x".into(),
    }
}

/// Calls an operation with a minimal body of the kind it declares: `{}` for JSON, nothing for raw
/// bytes and multipart forms.
async fn call(
    node: &TestNode,
    method: &str,
    url: &str,
    operation: &Value,
    token: Option<&str>,
) -> (StatusCode, String, Value) {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, format!("{}{url}", node.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let content = &operation["requestBody"]["content"];
    if content.get("application/json").is_some() {
        request = request.json(&json!({}));
    } else if content.get("application/octet-stream").is_some() {
        request = request
            .header("content-type", "application/octet-stream")
            .body(Vec::new());
    }
    let response = request.send().await.expect("the node answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    let body = if content_type.starts_with("application/json") {
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{url}: bad JSON ({err}): {text}"))
    } else {
        Value::String(text)
    };
    (status, content_type, body)
}

/// What is wrong with an answer according to the operation's documentation.
fn check_answer(doc: &Value, operation: &Value, status: StatusCode, content_type: &str, body: &Value) -> Vec<String> {
    let responses = &operation["responses"];
    let Some(response) = responses.get(status.as_str()).or_else(|| responses.get("default")) else {
        let listed: Vec<_> = responses.as_object().unwrap().keys().collect();
        return vec![format!(
            "answered {status}, which is not documented (documented: {listed:?}): {body}"
        )];
    };
    let response = resolve(doc, response);
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Vec::new();
    };
    let documented = content.iter().find(|(name, _)| {
        *name == media_type
            || name
                .strip_suffix("/*")
                .is_some_and(|prefix| media_type.starts_with(prefix))
    });
    let Some((_, media)) = documented else {
        let listed: Vec<_> = content.keys().collect();
        return vec![format!("{status} came as {media_type:?}, documented as {listed:?}")];
    };
    let mut problems = Vec::new();
    if media_type == "application/json" {
        validate(doc, &media["schema"], body, "body", &mut problems);
    }
    problems.into_iter().map(|p| format!("{status}: {p}")).collect()
}

/// Follows a local `$ref` (schemas and responses).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local reference");
            resolve(
                doc,
                doc.pointer(pointer).unwrap_or_else(|| panic!("dangling {reference}")),
            )
        }
        None => value,
    }
}

/// A JSON Schema check covering what the document uses: `$ref`, `type` (also as a list), `enum`,
/// `properties`/`required`, `items`, `additionalProperties`, `oneOf`, `allOf`, string formats and
/// lengths. Objects are strict: a field the schema does not list is a problem too, since it means the
/// document does not say what the node sends.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    validate_with(doc, schema, value, at, true, problems)
}

fn validate_with(doc: &Value, schema: &Value, value: &Value, at: &str, strict: bool, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(alternatives) = schema["oneOf"].as_array() {
        let matching = alternatives
            .iter()
            .filter(|alternative| {
                let mut inner = Vec::new();
                validate_with(doc, alternative, value, at, strict, &mut inner);
                inner.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{at}: matches {matching} of the oneOf alternatives: {value}"));
        }
        return;
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            validate_with(doc, part, value, at, false, problems);
        }
        if strict && let Some(object) = value.as_object() {
            let known: BTreeSet<String> = parts.iter().flat_map(|part| property_names(doc, part)).collect();
            for key in object.keys().filter(|key| !known.contains(*key)) {
                problems.push(format!("{at}.{key}: not documented"));
            }
        }
        return;
    }
    if let Some(types) = types_of(schema) {
        let actual = json_type(value);
        if !types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
        {
            problems.push(format!("{at}: expected {types:?}, found {actual}: {value}"));
            return;
        }
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let Some(text) = value.as_str() {
        check_string(schema, text, at, problems);
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64())
        && number < minimum
    {
        problems.push(format!("{at}: {number} is below the minimum {minimum}"));
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            validate_with(doc, items, item, &format!("{at}[{index}]"), true, problems);
        }
    }
    let Some(object) = value.as_object() else { return };
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap();
        if !object.contains_key(name) {
            problems.push(format!("{at}.{name}: required but missing"));
        }
    }
    let properties = schema["properties"].as_object();
    for (key, field) in object {
        match properties.and_then(|properties| properties.get(key)) {
            Some(property) => validate_with(doc, property, field, &format!("{at}.{key}"), true, problems),
            None => match schema.get("additionalProperties") {
                Some(additional) if additional.is_object() => {
                    validate_with(doc, additional, field, &format!("{at}.{key}"), true, problems)
                }
                _ if strict && properties.is_some() => problems.push(format!("{at}.{key}: not documented")),
                _ => {}
            },
        }
    }
}

fn property_names(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(property_names(doc, part));
    }
    names
}

fn types_of(schema: &Value) -> Option<Vec<&str>> {
    match &schema["type"] {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_string(schema: &Value, text: &str, at: &str, problems: &mut Vec<String>) {
    let valid = match schema["format"].as_str() {
        Some("uuid") => Uuid::parse_str(text).is_ok(),
        // RFC 3339: a date, `T`, a time and an offset.
        Some("date-time") => text.len() >= 20 && text.as_bytes()[10] == b'T',
        _ => true,
    };
    if !valid {
        problems.push(format!("{at}: {text:?} is not a {}", schema["format"]));
    }
    if schema["contentEncoding"] == "base64" {
        use base64::Engine;
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        if lenient.decode(text).is_err() {
            problems.push(format!("{at}: {text:?} is not base64"));
        }
    }
    let length = text.chars().count() as u64;
    if schema["minLength"].as_u64().is_some_and(|min| length < min)
        || schema["maxLength"].as_u64().is_some_and(|max| length > max)
    {
        problems.push(format!("{at}: {length} characters is outside the documented length"));
    }
}

/// The (method, path) pairs the node serves, read from its router. axum has no call that lists routes,
/// but a `Router`'s `Debug` output names each route's path (`RouteId(3): "/v1/…"`) and its method
/// endpoints (`RouteId(3): MethodRouter(MethodRouter { get: Route, head: None, … })`); a route that is a
/// whole service (`RouteId(3): Route(…)`) answers every method, listed as `*`. So a route added
/// without documentation shows up here however it was added.
fn served_routes(services: Arc<Services>) -> BTreeSet<Route> {
    let router = format!("{:?}", gateway::app(services));
    // The fallback router that follows holds the not-found answers, which are no routes.
    let routes = router
        .split_once("path_router: ")
        .and_then(|(_, rest)| rest.split_once(", fallback_router: "))
        .map(|(routes, _)| routes)
        .expect("a Router's Debug output begins with its path_router");
    let mut paths = BTreeMap::new();
    let mut methods = BTreeMap::new();
    for entry in routes.split("RouteId(").skip(1) {
        let (id, endpoint) = entry.split_once("): ").expect("RouteId(n): …");
        let id: u32 = id.parse().unwrap();
        if let Some(path) = endpoint.strip_prefix('"') {
            paths.insert(id, path[..path.find('"').unwrap()].to_owned());
        } else if endpoint.starts_with("MethodRouter(") {
            let served = METHODS
                .iter()
                .chain(&["connect"])
                .filter(|method| {
                    let (_, value) = endpoint.split_once(&format!("{method}: ")).expect("a field per method");
                    !value.starts_with("None")
                })
                .map(|method| method.to_string())
                .collect();
            methods.insert(id, served);
        } else {
            methods.insert(id, vec!["*".to_owned()]);
        }
    }
    let served: BTreeSet<Route> = methods
        .into_iter()
        .flat_map(|(id, methods)| {
            let path = paths[&id].clone();
            methods.into_iter().map(move |method| (method, path.clone()))
        })
        .collect();
    assert!(served.len() > 100, "read too few routes from the router: {served:?}");
    served
}
