//! Rate limits per user (per client address before login), in fixed one-minute windows, with the
//! `X-RateLimit-*` headers on every limited answer and `429 RATE_LIMIT_EXCEEDED` past the budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use node::RateLimits;
use serde_json::json;

use crate::AppState;
use crate::client_address::client_address;
use crate::extract::bearer;
use crate::metrics::LimitLabels;

const WINDOW: Duration = Duration::from_secs(60);
/// Windows are swept once the table holds this many keys, so it cannot grow without bound.
const SWEEP_AT: usize = 100_000;

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Category {
    Auth,
    Messages,
    Calls,
    WebSocket,
    General,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Messages => "messages",
            Self::Calls => "calls",
            Self::WebSocket => "websocket",
            Self::General => "general",
        }
    }
}

fn category(method: &Method, path: &str) -> Option<Category> {
    let path = &*reference_path(path)?;
    let post = method == Method::POST;
    Some(
        if path.starts_with("/v1/auth/") && path != "/v1/auth/sessions" && !path.starts_with("/v1/auth/logout") {
            Category::Auth
        } else if path == "/v1/ws" {
            Category::WebSocket
        } else if post && (path == "/v1/messages" || path.ends_with("/forward") || path.ends_with("/messages")) {
            Category::Messages
        } else if post && path == "/v1/calls" {
            Category::Calls
        } else {
            Category::General
        },
    )
}

/// The `/v1` path whose budget a request draws on: its own, or for a dialect's path the `/v1` path of
/// the same kind (a dialect's login counts against the same auth budget as `/v1`'s). `None` for what is
/// not limited (health, docs).
fn reference_path(path: &str) -> Option<std::borrow::Cow<'_, str>> {
    if path.starts_with("/v1/") {
        return Some(path.into());
    }
    if path == "/ws" {
        return Some("/v1/ws".into());
    }
    // chats-axum at the root.
    if ["/auth/", "/users/", "/chats", "/media", "/avatars/"]
        .iter()
        .any(|root| path.starts_with(root))
    {
        return Some(format!("/v1{path}").into());
    }
    // secure-messenger under `/api/v1`.
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        return Some(format!("/v1/{rest}").into());
    }
    // simple-chat and messaging-app under `/api`; messaging-app registers with `POST /api/users`.
    let rest = path.strip_prefix("/api")?;
    if rest == "/users" {
        return Some("/v1/auth/register".into());
    }
    Some(format!("/v1{rest}").into())
}

fn budget(limits: &RateLimits, category: Category) -> u32 {
    match category {
        Category::Auth => limits.auth,
        Category::Messages => limits.messages,
        Category::Calls => limits.calls,
        Category::WebSocket => limits.websocket,
        Category::General => limits.general,
    }
}

struct Window {
    started: u64,
    used: u32,
}

/// The counters of every key.
#[derive(Default)]
pub(crate) struct Limiter {
    windows: Mutex<HashMap<(Category, String), Window>>,
}

/// What one request's accounting decided.
struct Verdict {
    limit: u32,
    remaining: u32,
    reset: u64,
    allowed: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Limiter {
    fn account(&self, category: Category, key: String, limit: u32) -> Verdict {
        let now = now_secs();
        let window_secs = WINDOW.as_secs();
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now < w.started + window_secs);
        }
        let window = windows
            .entry((category, key))
            .or_insert(Window { started: now, used: 0 });
        if now >= window.started + window_secs {
            *window = Window { started: now, used: 0 };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        Verdict {
            limit,
            remaining: limit.saturating_sub(window.used),
            reset: window.started + window_secs,
            allowed,
        }
    }
}

/// Whose budget a request draws on. Register, login, refresh and password requests always count
/// against the client address, whatever token they carry: keyed on a token's user, one address could
/// register accounts and rotate through their tokens to guess passwords without limit. Everything
/// else counts against the user a token names (header or `?token=`), else the address.
fn client_key(state: &AppState, category: Category, request: &Request) -> String {
    if category == Category::Auth {
        return address_key(state, request);
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query = || {
        let query = request.uri().query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    };
    let user = header
        .or_else(query)
        .and_then(|raw| bearer(&raw).and_then(|token| state.services.auth.token_subject(token)));
    match user {
        Some(user) => format!("user:{user}"),
        None => address_key(state, request),
    }
}

fn address_key(state: &AppState, request: &Request) -> String {
    let trusted = &state.services.config.trusted_proxies;
    match client_address(request.extensions(), request.headers(), trusted) {
        Some(address) => format!("ip:{address}"),
        None => "ip:unknown".into(),
    }
}

/// Counts a message sent over a WebSocket against the sender's message budget.
pub(crate) fn allow_socket_send(state: &AppState, user: protocol::UserId) -> bool {
    let limits = state.services.config.rate_limits;
    !limits.enabled
        || state
            .limiter
            .account(Category::Messages, format!("user:{user}"), limits.messages)
            .allowed
}

/// The answer past the budget: the envelope, whose `error` string is also what simple-chat's clients
/// read, or on messaging-app's own paths its `{"error": {code, message, details}}`.
fn refusal(path: &str, retry_after: u64) -> serde_json::Value {
    let messaging_app = ["/api/users", "/api/messages", "/api/webhooks"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    if messaging_app {
        return json!({
            "error": {
                "code": "rate_limit_exceeded",
                "message": "Too many requests",
                "details": { "retry_after": retry_after },
            },
        });
    }
    json!({
        "success": false,
        "error": "Rate limit exceeded",
        "code": "RATE_LIMIT_EXCEEDED",
        "retry_after": retry_after,
    })
}

/// The middleware: counts the request against its budget, refuses it past the budget, and stamps the
/// rate-limit headers on the answer either way.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = state.services.config.rate_limits;
    let Some(category) = category(request.method(), request.uri().path()).filter(|_| limits.enabled) else {
        return next.run(request).await;
    };
    let key = client_key(&state, category, &request);
    let verdict = state.limiter.account(category, key, budget(&limits, category));
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        state
            .metrics
            .rate_limited
            .get_or_create(&LimitLabels {
                category: category.name(),
            })
            .inc();
        let retry_after = verdict.reset.saturating_sub(now_secs()).max(1);
        let body = refusal(request.uri().path(), retry_after);
        let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after));
        response
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(verdict.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(verdict.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(verdict.reset));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_the_reference_categories() {
        assert_eq!(category(&Method::POST, "/v1/auth/login"), Some(Category::Auth));
        assert_eq!(category(&Method::GET, "/v1/auth/sessions"), Some(Category::General));
        assert_eq!(category(&Method::POST, "/v1/messages"), Some(Category::Messages));
        assert_eq!(category(&Method::GET, "/v1/messages"), Some(Category::General));
        assert_eq!(category(&Method::POST, "/v1/calls"), Some(Category::Calls));
        assert_eq!(category(&Method::GET, "/v1/ws"), Some(Category::WebSocket));
        assert_eq!(category(&Method::GET, "/ping"), None);
        assert_eq!(category(&Method::POST, "/api/auth/login"), Some(Category::Auth));
        assert_eq!(category(&Method::POST, "/api/auth/logout"), Some(Category::General));
        assert_eq!(category(&Method::POST, "/api/users"), Some(Category::Auth));
        assert_eq!(
            category(&Method::POST, "/api/groups/x/messages"),
            Some(Category::Messages)
        );
        assert_eq!(category(&Method::GET, "/api/conversations"), Some(Category::General));
        assert_eq!(category(&Method::GET, "/ws"), Some(Category::WebSocket));
        assert_eq!(category(&Method::POST, "/auth/login"), Some(Category::Auth));
        assert_eq!(category(&Method::POST, "/api/v1/auth/login"), Some(Category::Auth));
        assert_eq!(category(&Method::GET, "/chats"), Some(Category::General));
    }

    #[test]
    fn a_window_allows_its_budget_then_refuses() {
        let limiter = Limiter::default();
        for remaining in (0..3).rev() {
            let verdict = limiter.account(Category::Auth, "k".into(), 3);
            assert!(verdict.allowed);
            assert_eq!(verdict.remaining, remaining);
        }
        assert!(!limiter.account(Category::Auth, "k".into(), 3).allowed);
        assert!(
            limiter.account(Category::Auth, "other".into(), 3).allowed,
            "keys are counted apart"
        );
    }
}
