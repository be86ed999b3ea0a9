//! Extractors that turn every kind of bad input into the envelope, naming the offending field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use node::{Actor, Operator};
use serde::de::DeserializeOwned;

use self::objects::Strict;
use crate::{ApiError, AppState};

mod objects;

/// A JSON body. Syntax errors are 400; a body of the wrong shape is 422 naming the field path.
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body: an empty body, or JSON `null` (how the document's optional body reads when
/// left out), is `None`.
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(None);
        }
        parse_json(&bytes).map(|value| Some(Json(value)))
    }
}

/// Parses JSON text as the document describes it (`objects`), naming the path of a field that does not
/// fit.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(&mut deserializer)).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("malformed JSON: {inner}"))
        } else if path == "." {
            ApiError::validation(strip_position(&inner.to_string()))
        } else {
            ApiError::validation(format!("{path}: {}", strip_position(&inner.to_string())))
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::bad_request(format!("malformed JSON: {err}")))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; clients are better served by the field name alone.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds {} bytes", crate::MAX_BODY_BYTES),
        )
    } else {
        ApiError::bad_request(rejection.body_text())
    }
}

/// A query string, with the field named when one does not fit.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                if path == "." {
                    ApiError::validation(format!("query: {}", err.into_inner()))
                } else {
                    ApiError::validation(format!("{path}: {}", err.into_inner()))
                }
            })
    }
}

/// A path parameter; a malformed id is a 400 naming what was expected.
pub(crate) struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::bad_request(format!("invalid path: {}", rejection.body_text())))
    }
}

/// The authenticated caller, from `Authorization: Bearer <access token>`.
pub(crate) struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Auth(state.services.auth.authenticate(bearer_header(parts)?)?))
    }
}

/// An operator of this node: the `parley admin` CLI presenting the token from the data directory, or
/// an account with the operator role presenting its access token. Anyone else is refused (403).
pub(crate) struct OperatorAuth(pub Operator);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_header(parts)?;
        let admin = state.services.admin();
        if admin.is_local_operator(token) {
            return Ok(OperatorAuth(Operator::Local));
        }
        let actor = state.services.auth.authenticate(token)?;
        Ok(OperatorAuth(admin.operator(&actor)?))
    }
}

/// The token of the `Authorization: Bearer <token>` header.
fn bearer_header(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    header
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or_else(|| ApiError::unauthorized("Authorization header must be 'Bearer <token>'"))
}

/// Strips an optional `Bearer ` prefix.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

/// The client's address (see `client_address`), when the request came through the server.
pub(crate) struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let trusted = &state.services.config.trusted_proxies;
        Ok(ClientIp(
            crate::client_address::client_address(&parts.extensions, &parts.headers, trusted)
                .map(|address| address.to_string()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        id: u32,
    }

    #[test]
    fn shape_errors_name_the_field_path() {
        let err = parse_json::<Body>(br#"{"name":"x","items":[{"id":"seven"}]}"#).unwrap_err();
        assert!(
            err.message().starts_with("items[0].id: invalid type"),
            "{}",
            err.message()
        );
        assert_eq!(err.into_response().status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = parse_json::<Body>(br#"{"items":[]}"#).unwrap_err();
        assert_eq!(err.message(), "missing field `name`");
    }

    #[test]
    fn numbers_without_a_fraction_are_integers() {
        let item = parse_json::<Item>(br#"{"id": 7.0}"#).unwrap();
        assert_eq!(item.id, 7);
        let err = parse_json::<Item>(br#"{"id": 7.5}"#).unwrap_err();
        assert!(
            err.message().starts_with("id: invalid type: floating point"),
            "{}",
            err.message()
        );
        let err = parse_json::<Item>(br#"{"id": 1e300}"#).unwrap_err();
        assert_eq!(err.into_response().status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(parse_json::<f64>(b"2.0").unwrap(), 2.0);
        assert_eq!(parse_json::<i64>(b"-3.0").unwrap(), -3);
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_its_fields() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Optional {
            a: Option<u32>,
            b: Option<u32>,
        }
        let err = parse_json::<Optional>(b"[null, null]").unwrap_err();
        assert!(err.message().starts_with("invalid type: sequence"), "{}", err.message());
        assert_eq!(err.into_response().status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(parse_json::<Optional>(br#"{"a": 1}"#).is_ok());
        assert_eq!(parse_json::<Vec<u32>>(b"[1, 2]").unwrap(), [1, 2]);
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        for body in [&b"{"[..], b"not json", b"{\"name\":\"x\",\"items\":[]} trailing"] {
            let err = parse_json::<Body>(body).unwrap_err();
            assert_eq!(
                err.into_response().status(),
                StatusCode::BAD_REQUEST,
                "{:?}",
                std::str::from_utf8(body)
            );
        }
    }

    #[test]
    fn bearer_prefix_is_optional_and_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("abc"), Some("abc"));
        assert_eq!(bearer("Bearer "), None);
    }
}
