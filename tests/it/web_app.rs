//! The web client the node serves at `/`: its page and assets come from the binary with a strict
//! Content-Security-Policy and the right types, revalidate by entity tag, stay out of the OpenAPI
//! document, and leave every other path answering as before.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::support::*;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name} header", response.url()))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let node = TestNode::start().await;
    let http = reqwest::Client::new();
    for (path, content_type, needle) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<script type=\"module\" src=\"/app.js\"></script>",
        ),
        ("/app.js", "text/javascript; charset=utf-8", "/v1/ws"),
        ("/app.css", "text/css; charset=utf-8", ".composer"),
    ] {
        let response = http.get(format!("{}{path}", node.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        let policy = header(&response, "content-security-policy");
        assert!(policy.starts_with(POLICY), "{path}: {policy}");
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert_eq!(header(&response, "x-frame-options"), "DENY");
        assert_eq!(header(&response, CACHE_CONTROL.as_str()), "no-cache");
        let etag = header(&response, ETAG.as_str()).to_owned();
        assert!(
            etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'),
            "{etag}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path} serves the built file");
        assert_eq!(
            body.as_bytes(),
            std::fs::read(format!(
                "{}/web/dist-app/{}",
                env!("CARGO_MANIFEST_DIR"),
                match path {
                    "/" => "index.html",
                    other => &other[1..],
                }
            ))
            .unwrap(),
            "{path} is the committed build"
        );

        let again = http
            .get(format!("{}{path}", node.base))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path} revalidates");
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_page_has_no_inline_code_and_is_no_api_operation() {
    let node = TestNode::start().await;
    let page = reqwest::get(format!("{}/", node.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<style"), "no inline styles");
    assert!(!page.contains("style="), "no style attributes");
    assert_eq!(page.matches("<script").count(), 1);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no third-party requests"
    );

    let (status, doc) = node.client().get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/", "/index.html", "/app.js", "/app.css"] {
        assert!(doc["paths"].get(path).is_none(), "{path} is not an API operation");
    }
}

#[tokio::test]
async fn other_paths_and_methods_answer_as_before() {
    let node = TestNode::start().await;
    let api = node.client();
    for path in ["/app.map", "/nothing", "/v1/nothing", "/app.js/more"] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["code"], "NOT_FOUND", "{path}");
        assert_eq!(body["success"], false);
    }
    let (status, body) = api.post("/", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NOT_FOUND");

    let head = reqwest::Client::new()
        .head(format!("{}/", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
}
