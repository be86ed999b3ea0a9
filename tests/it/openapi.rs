//! The OpenAPI document at `/v1/openapi.json` against the node that serves it: every documented
//! operation is served, every route of the route table is documented, and what the node answers fits
//! the document (the status is listed, JSON bodies validate against the documented schema).

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;

/// The route table, read at test time so that a route added without documentation fails here.
const ROUTES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway/src/routes.rs");
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
/// Operations that end the caller's session or account; they get a user of their own.
const ENDS_SESSION: [(&str, &str); 3] = [
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/logout-all"),
    ("delete", "/v1/users/me"),
];

type Route = (String, String);

#[tokio::test]
async fn every_documented_operation_is_served_and_answers_as_documented() {
    let node = TestNode::start().await;
    let doc = document(&node).await;

    let documented: BTreeSet<Route> = operations(&doc).map(|(method, path, _)| (method, path)).collect();
    let served = served_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(undocumented.is_empty(), "served but not documented: {undocumented:?}");
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(unserved.is_empty(), "documented but not in routes.rs: {unserved:?}");

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

/// The (method, path) pairs `gateway/src/routes.rs` serves: each `.route("PATH", method(…).method(…))`
/// of each router in `fn router`, under the prefix its router is `.nest`ed at.
fn served_routes() -> BTreeSet<Route> {
    let source = strip_comments(&std::fs::read_to_string(ROUTES_FILE).unwrap());
    let start = source.find("fn router()").expect("routes.rs has fn router()");
    let open = start + source[start..].find('{').unwrap();
    let body = &source[open + 1..closing(&source, open)];

    // Statements at the top level of the function: `let NAME = Router::new()…;` and the final expression.
    let mut routers: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    let mut nests = Vec::new();
    for statement in split_top_level(body, ';') {
        let statement = statement.trim();
        let name = statement
            .strip_prefix("let ")
            .and_then(|rest| rest.split_once('='))
            .map(|(name, _)| name.trim().to_owned())
            .unwrap_or_default();
        let routes = routers.entry(name).or_default();
        for (call, args) in calls(statement) {
            let mut args = split_top_level(&args, ',').into_iter();
            let first = args.next().unwrap_or_default();
            match call.as_str() {
                "route" => {
                    let path = string_literal(&first);
                    let handlers: String = args.collect::<Vec<_>>().join(",");
                    for (method, _) in calls(&handlers) {
                        if METHODS.contains(&method.as_str()) {
                            routes.push((method, path.clone()));
                        }
                    }
                }
                "nest" => nests.push((
                    string_literal(&first),
                    args.next().unwrap_or_default().trim().to_owned(),
                )),
                _ => {}
            }
        }
    }
    let mut served: BTreeSet<Route> = routers.remove("").unwrap_or_default().into_iter().collect();
    for (prefix, router) in nests {
        let routes = routers
            .get(&router)
            .unwrap_or_else(|| panic!("nested router {router} not found"));
        served.extend(
            routes
                .iter()
                .map(|(method, path)| (method.clone(), format!("{prefix}{path}"))),
        );
    }
    assert!(served.len() > 100, "parsed too few routes from routes.rs: {served:?}");
    served
}

/// Removes `//` comments (outside string literals).
fn strip_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| {
            let mut in_string = false;
            let mut previous = ' ';
            for (index, c) in line.char_indices() {
                match c {
                    '"' if previous != '\\' => in_string = !in_string,
                    '/' if !in_string && previous == '/' => return &line[..index - 1],
                    _ => {}
                }
                previous = c;
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The index of the bracket closing the one at `open`, skipping string literals.
fn closing(text: &str, open: usize) -> usize {
    let mut depth = 0;
    let mut in_string = false;
    for (index, c) in text.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '"' => in_string = !in_string,
            '(' | '{' | '[' if !in_string => depth += 1,
            ')' | '}' | ']' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets in routes.rs")
}

/// Splits at `separator` where it is outside brackets and strings.
fn split_top_level(text: &str, separator: char) -> Vec<String> {
    let (mut parts, mut current, mut depth, mut in_string) = (Vec::new(), String::new(), 0, false);
    for c in text.chars() {
        match c {
            '"' => in_string = !in_string,
            '(' | '{' | '[' if !in_string => depth += 1,
            ')' | '}' | ']' if !in_string => depth -= 1,
            _ if c == separator && depth == 0 && !in_string => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

/// The calls `name(args)` at the top level of an expression (method chains included), in order.
fn calls(expression: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut index = 0;
    while let Some(offset) = expression[index..].find('(') {
        let open = index + offset;
        let name: String = expression[..open]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = closing(expression, open);
        found.push((name, expression[open + 1..close].to_owned()));
        index = close + 1;
    }
    found
}

fn string_literal(text: &str) -> String {
    let text = text.trim();
    assert!(
        text.starts_with('"') && text.ends_with('"'),
        "expected a string literal, found {text}"
    );
    text[1..text.len() - 1].to_owned()
}
