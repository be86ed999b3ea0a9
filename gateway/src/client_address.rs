//! Who the client is, for budgets and session records: the connection's peer, or behind a configured
//! reverse proxy the address the proxy says it forwarded for. `X-Forwarded-For` from anyone else is
//! ignored, or a client could name a fresh address on every request and escape its budgets.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use node::TrustedProxy;

/// The client's address; `None` only when the request did not come through the server (tests).
pub(crate) fn client_address(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted_proxies: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip().to_canonical();
    let trusted = |address: IpAddr| trusted_proxies.iter().any(|proxy| proxy.contains(address));
    if !trusted(peer) {
        return Some(peer);
    }
    // Each proxy appends the address it heard from, so read from the right, skipping our own proxies;
    // the first other entry is the client. Entries further left were written by the client itself.
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for entry in forwarded.into_iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            // A garbled hop: what is left of it cannot be believed, so the last trusted hop stands.
            return Some(peer);
        };
        let address = address.to_canonical();
        if !trusted(address) {
            return Some(address);
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn resolve(peer: &str, forwarded: &[&str], trusted: &[&str]) -> Option<IpAddr> {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        let trusted: Vec<TrustedProxy> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_address(&extensions, &headers, &trusted)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_header_is_ignored_from_untrusted_peers() {
        assert_eq!(resolve("203.0.113.9", &["198.51.100.1"], &[]), ip("203.0.113.9"));
        assert_eq!(
            resolve("203.0.113.9", &["198.51.100.1"], &["10.0.0.0/8"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(resolve("10.0.0.2", &["198.51.100.1"], &trusted), ip("198.51.100.1"));
        assert_eq!(
            resolve("10.0.0.2", &["6.6.6.6, 198.51.100.1, 10.0.0.5"], &trusted),
            ip("198.51.100.1"),
            "what the client wrote on the left is not believed"
        );
        assert_eq!(
            resolve("10.0.0.2", &["6.6.6.6", "198.51.100.1"], &trusted),
            ip("198.51.100.1"),
            "repeated headers are one list"
        );
        assert_eq!(resolve("10.0.0.2", &[], &trusted), ip("10.0.0.2"));
        assert_eq!(resolve("10.0.0.2", &["junk, 10.0.0.9"], &trusted), ip("10.0.0.2"));
    }
}
