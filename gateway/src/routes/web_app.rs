//! The web client (`web/`), served at `/` from files built by `npm run build:app`, committed in
//! `web/dist-app/` and embedded here at compile time, so a node built from a fresh clone serves the app
//! without Node.js. The pages are not API operations, and every route of the router is one (the
//! OpenAPI tests hold the node to that), so they are answered from the fallback: a request for one of
//! these few paths gets the file, any other path the same 404 as before.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Only this node's own scripts, styles and connections (the API and its WebSocket: CSP 3 lets
/// `'self'` match `ws:`/`wss:` on the page's host and port), no inline code, no framing, nothing from
/// anywhere else. The app holds the device's keys, so nothing else may run beside it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The same bytes never change within one binary, so clients revalidate cheaply (`If-None-Match`)
/// instead of caching by age: an upgraded node is picked up on the next load.
const CACHE: &str = "no-cache";

/// One embedded file.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: &'static str,
}

macro_rules! asset {
    ($file:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../../web/dist-app/", $file));
        const TAG: [u8; 18] = etag(BODY);
        const ETAG: &str = match std::str::from_utf8(&TAG) {
            Ok(tag) => tag,
            Err(_) => panic!("an entity tag is ASCII"),
        };
        Asset {
            body: BODY,
            content_type: $content_type,
            etag: ETAG,
        }
    }};
}

static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");
static SCRIPT: Asset = asset!("app.js", "text/javascript; charset=utf-8");
static STYLE: Asset = asset!("app.css", "text/css; charset=utf-8");

/// The fallback: the app's files for `GET` (and `HEAD`) of their paths, else the not-found answer.
pub(crate) async fn or_not_found(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let asset = match uri.path() {
        "/" | "/index.html" => Some(&INDEX),
        "/app.js" => Some(&SCRIPT),
        "/app.css" => Some(&STYLE),
        _ => None,
    };
    match asset {
        Some(asset) if method == Method::GET || method == Method::HEAD => serve(asset, &headers),
        _ => super::not_found(method, uri).await.into_response(),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
    let headers: [(HeaderName, HeaderValue); 7] = [
        (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (CACHE_CONTROL, HeaderValue::from_static(CACHE)),
        (ETAG, HeaderValue::from_static(asset.etag)),
    ];
    if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

/// A strong entity tag for `body`, computed at compile time: its 64-bit FNV-1a hash in quoted hex
/// (a change detector, not a security measure; no hash crate is needed for that).
const fn etag(body: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < body.len() {
        hash ^= body[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let mut out = [b'"'; 18];
    let mut digit = 0;
    while digit < 16 {
        let nibble = ((hash >> (60 - 4 * digit)) & 0xf) as u8;
        out[1 + digit] = if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 };
        digit += 1;
    }
    out
}
