//! Which accepted connections the node keeps: at most so many from one address, so one client cannot
//! take every file descriptor, and at most so many in total. When the total is reached, the oldest
//! connection that has not yet sent a whole request makes room for the new one: clients that connect
//! and say nothing (from however many addresses) churn among themselves, while a real client's request
//! arrives a moment after it connects and is served.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use node::{ConnectionLimits, TrustedProxy};
use tokio_util::sync::CancellationToken;

/// Why a connection was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    NodeFull,
    AddressFull,
}

impl Refusal {
    /// A whole HTTP answer, written best-effort before closing, so a real client learns why.
    pub(crate) fn response(self) -> &'static [u8] {
        match self {
            Refusal::NodeFull => {
                b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 5\r\ncontent-type: application/json\r\ncontent-length: 95\r\n\r\n{\"success\":false,\"error\":\"The node holds its maximum number of connections\",\"code\":\"NODE_BUSY\"}"
            }
            Refusal::AddressFull => {
                b"HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\nretry-after: 5\r\ncontent-type: application/json\r\ncontent-length: 101\r\n\r\n{\"success\":false,\"error\":\"Too many open connections from your address\",\"code\":\"TOO_MANY_CONNECTIONS\"}"
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
    /// Connections with no request yet, oldest first (ids grow with time), and how to close each.
    silent: BTreeMap<u64, CancellationToken>,
    next_id: u64,
}

/// The open connections, counted.
pub(crate) struct Admission {
    limits: ConnectionLimits,
    trusted_proxies: Vec<TrustedProxy>,
    counts: Mutex<Counts>,
}

/// One admitted connection's slot, given back when it is dropped (with the connection's socket).
pub(crate) struct Slot {
    admission: Arc<Admission>,
    id: u64,
    /// `None` for a trusted proxy, whose connections count only towards the total.
    address: Option<IpAddr>,
}

/// An admitted connection: its slot, and the token that is cancelled if it is closed to make room
/// before it sent a request.
pub(crate) struct Admitted {
    pub(crate) slot: Slot,
    pub(crate) evicted: CancellationToken,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits, trusted_proxies: Vec<TrustedProxy>) -> Arc<Self> {
        Arc::new(Self {
            limits,
            trusted_proxies,
            counts: Mutex::default(),
        })
    }

    pub(crate) fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Admitted, Refusal> {
        let address = address.to_canonical();
        let limited = !self.trusted_proxies.iter().any(|proxy| proxy.contains(address));
        let mut counts = self.counts();
        if limited && counts.per_address.get(&address).copied().unwrap_or(0) >= self.limits.max_per_address {
            return Err(Refusal::AddressFull);
        }
        if counts.total >= self.limits.max_total {
            // Its slot comes back when its task drops the socket, a moment from now; until then the
            // total runs over by the evictions in flight.
            let (_, oldest) = counts.silent.pop_first().ok_or(Refusal::NodeFull)?;
            oldest.cancel();
        }
        if limited {
            *counts.per_address.entry(address).or_default() += 1;
        }
        counts.total += 1;
        let id = counts.next_id;
        counts.next_id += 1;
        let evicted = CancellationToken::new();
        counts.silent.insert(id, evicted.clone());
        Ok(Admitted {
            slot: Slot {
                admission: self.clone(),
                id,
                address: limited.then_some(address),
            },
            evicted,
        })
    }

    /// The connection sent a whole request: from now on it is served, not evicted.
    pub(crate) fn spoke(&self, id: u64) {
        self.counts().silent.remove(&id);
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.counts().total
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Slot {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        counts.total -= 1;
        counts.silent.remove(&self.id);
        if let Some(address) = self.address
            && let Some(open) = counts.per_address.get_mut(&address)
        {
            *open -= 1;
            if *open == 0 {
                counts.per_address.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(max_total: usize, max_per_address: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_total,
            max_per_address,
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let admission = Admission::new(limits(10, 2), Vec::new());
        let held: Vec<_> = (0..2).map(|_| admission.admit(ip("10.0.0.1")).unwrap()).collect();
        assert_eq!(admission.admit(ip("10.0.0.1")).err(), Some(Refusal::AddressFull));
        assert!(admission.admit(ip("10.0.0.2")).is_ok(), "others are still admitted");
        drop(held);
        let again = admission.admit(ip("10.0.0.1"));
        assert!(again.is_ok(), "slots come back when connections close");
        assert_eq!(admission.open(), 1);
    }

    #[test]
    fn at_the_total_the_oldest_silent_connection_makes_room() {
        let admission = Admission::new(limits(3, 10), Vec::new());
        let first = admission.admit(ip("10.0.0.1")).unwrap();
        let second = admission.admit(ip("10.0.0.2")).unwrap();
        let third = admission.admit(ip("10.0.0.3")).unwrap();
        admission.spoke(first.slot.id());
        let fourth = admission.admit(ip("10.0.0.4")).unwrap();
        assert!(
            !first.evicted.is_cancelled(),
            "a connection that sent a request is kept"
        );
        assert!(second.evicted.is_cancelled(), "the oldest silent one makes room");
        assert!(!third.evicted.is_cancelled());
        drop(second);
        admission.spoke(third.slot.id());
        admission.spoke(fourth.slot.id());
        assert_eq!(
            admission.admit(ip("10.0.0.5")).err(),
            Some(Refusal::NodeFull),
            "all three are talking"
        );
    }

    #[test]
    fn proxies_count_only_towards_the_total() {
        let admission = Admission::new(limits(3, 1), vec!["10.9.0.0/16".parse().unwrap()]);
        let held: Vec<_> = (0..3).map(|_| admission.admit(ip("10.9.0.7")).unwrap()).collect();
        for admitted in &held {
            admission.spoke(admitted.slot.id());
        }
        assert_eq!(admission.admit(ip("10.0.0.1")).err(), Some(Refusal::NodeFull));
        drop(held);
        assert_eq!(admission.open(), 0);
    }

    #[test]
    fn refusals_are_whole_http_answers() {
        for refusal in [Refusal::NodeFull, Refusal::AddressFull] {
            let text = std::str::from_utf8(refusal.response()).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(body.len(), length, "{text}");
            serde_json::from_str::<serde_json::Value>(body).unwrap();
        }
    }
}
