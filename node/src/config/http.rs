//! Settings for the HTTP listener in front of the node: how many connections it holds, for how long,
//! and which reverse proxies may say who the client is.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// Bounds on the connections the HTTP listener holds, so that clients that connect and then say
/// nothing (or dribble a header) cannot use up the node's file descriptors and lock everyone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections in total; beyond it new ones are closed as soon as they are accepted.
    pub max_total: usize,
    /// Open connections from one client address (a trusted proxy is not limited by this).
    pub max_per_address: usize,
    /// A request's header must arrive in full within this long after the connection (or its previous
    /// request) was ready for it; an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// A connection (a WebSocket too) on which no byte moved either way for this long is closed. Longer
    /// than the WebSocket heartbeat, so only sockets whose peer stopped answering reach it.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_total: 10_000,
            max_per_address: 256,
            header_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `::1`) of reverse proxies whose `X-Forwarded-For` is
/// believed. From anyone else the header is ignored: a client could name any address and escape its
/// budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `address` is this proxy (or inside its block).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], address: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if network[..full] != address[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        network[full] & mask == address[full] & mask
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{prefix:?} is not a prefix length between 0 and {bits}"))?,
            None => bits,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let block: TrustedProxy = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(!block.contains(ip("::1")));
        let odd: TrustedProxy = "192.168.1.128/25".parse().unwrap();
        assert!(odd.contains(ip("192.168.1.200")));
        assert!(!odd.contains(ip("192.168.1.127")));
        let single: TrustedProxy = "::1".parse().unwrap();
        assert!(single.contains(ip("::1")));
        assert!(!single.contains(ip("::2")));
        let mapped: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(
            mapped.contains(ip("::ffff:127.0.0.1")),
            "IPv4-mapped addresses are IPv4"
        );
    }

    #[test]
    fn malformed_proxies_are_refused_with_what_is_wrong() {
        assert!(
            "10.0.0.0/33"
                .parse::<TrustedProxy>()
                .unwrap_err()
                .contains("prefix length")
        );
        assert!(
            "proxy.example"
                .parse::<TrustedProxy>()
                .unwrap_err()
                .contains("not an IP")
        );
        assert_eq!("10.0.0.0/8".parse::<TrustedProxy>().unwrap().to_string(), "10.0.0.0/8");
    }
}
