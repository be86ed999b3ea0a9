//! Live connections. The hub maps users and devices to the bounded queues of their WebSocket
//! connections. It never blocks a sender: a connection whose queue is full is dropped, and its client
//! reconnects and resumes from the store, so one slow client never stalls delivery to others.

mod parked;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use protocol::ws::ServerFrame;
use protocol::{ConversationId, DeviceId, SessionId, UserId};
use tokio::sync::mpsc;

pub(crate) use self::parked::DeviceFrame;
use self::parked::Parked;
use crate::{Error, Result};

struct Connection {
    id: u64,
    device: DeviceId,
    session: SessionId,
    tx: mpsc::Sender<Arc<ServerFrame>>,
}

/// The registry of live connections.
pub struct Hub {
    /// A std mutex: every critical section is a few map operations and never awaits.
    users: Mutex<HashMap<UserId, Vec<Connection>>>,
    next_id: AtomicU64,
    max_per_user: usize,
    buffer: usize,
    /// Frames of messages not yet durable.
    parked: Parked,
}

/// One registered connection; dropping it unregisters.
pub struct Subscription {
    hub: Arc<Hub>,
    user: UserId,
    id: u64,
    /// Frames for this connection. It ends when the hub drops the connection (revoked or too slow).
    /// Shared, not owned: a channel's slots are allocated 32 at a time when it is made, and 32 whole
    /// frames (280 bytes each) were half of an idle socket's memory.
    pub frames: mpsc::Receiver<Arc<ServerFrame>>,
    /// Whether this connection brought the user online.
    pub first: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.user, |c| c.id == self.id);
    }
}

impl Hub {
    pub(crate) fn new(max_per_user: usize, buffer: usize) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_per_user,
            buffer,
            parked: Parked::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Connection>>> {
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection for a device of a user.
    pub fn subscribe(self: &Arc<Self>, user: UserId, device: DeviceId, session: SessionId) -> Result<Subscription> {
        let (tx, frames) = mpsc::channel(self.buffer);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut users = self.lock();
        let connections = users.entry(user).or_default();
        if connections.len() >= self.max_per_user {
            return Err(Error::LimitReached("too many live connections for this user"));
        }
        let first = connections.is_empty();
        connections.push(Connection {
            id,
            device,
            session,
            tx,
        });
        Ok(Subscription {
            hub: self.clone(),
            user,
            id,
            frames,
            first,
        })
    }

    fn remove(&self, user: UserId, matches: impl Fn(&Connection) -> bool) {
        let mut users = self.lock();
        if let Some(connections) = users.get_mut(&user) {
            connections.retain(|c| !matches(c));
            if connections.is_empty() {
                users.remove(&user);
            }
        }
    }

    /// Whether the user has any live connection.
    pub fn is_online(&self, user: UserId) -> bool {
        self.lock().contains_key(&user)
    }

    /// Closes every connection of a session (logout, revocation).
    pub(crate) fn disconnect_session(&self, user: UserId, session: SessionId) {
        self.remove(user, |c| c.session == session);
    }

    /// Sends a frame prepared while its cause was being stored.
    pub(crate) fn push(&self, push: &Push) {
        match push {
            Push::Device(user, device, frame) => self.send_to_device(*user, *device, frame),
            Push::User(user, frame) => self.send_to_user(*user, frame),
            Push::Release { conversation, seq } => {
                for (user, device, frame) in self.parked.take_through(*conversation, *seq) {
                    self.send_to_device(user, device, &frame);
                }
            }
        }
    }

    /// Holds the frames of a stored message until its flush; see [`Push::Release`].
    pub(crate) fn park(&self, conversation: ConversationId, seq: u64, frames: Vec<DeviceFrame>) {
        self.parked.park(conversation, seq, frames);
    }

    /// Queues a frame for every connection of one device.
    pub(crate) fn send_to_device(&self, user: UserId, device: DeviceId, frame: &ServerFrame) {
        self.send(user, |c| c.device == device, frame);
    }

    /// Queues a frame for every connection of a user.
    pub(crate) fn send_to_user(&self, user: UserId, frame: &ServerFrame) {
        self.send(user, |_| true, frame);
    }

    fn send(&self, user: UserId, matches: impl Fn(&Connection) -> bool, frame: &ServerFrame) {
        let mut users = self.lock();
        let Some(connections) = users.get_mut(&user) else {
            return;
        };
        let frame = Arc::new(frame.clone());
        connections.retain(|c| {
            if !matches(c) {
                return true;
            }
            match c.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!(%user, connection = c.id, "dropping a connection that is not keeping up");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        if connections.is_empty() {
            users.remove(&user);
        }
    }

    /// Live connections in all.
    pub fn connection_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

/// What to send once a change is durable: a frame for one device or for every device of a user, or the
/// release of the frames parked for a conversation's new messages.
pub(crate) enum Push {
    Device(UserId, DeviceId, ServerFrame),
    User(UserId, ServerFrame),
    /// The frames parked for a conversation's messages through `seq`, now durable.
    Release {
        conversation: ConversationId,
        seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (UserId, DeviceId, SessionId) {
        (UserId::random(), DeviceId::random(), SessionId::random())
    }

    #[test]
    fn connections_are_capped_per_user() {
        let hub = Arc::new(Hub::new(2, 4));
        let (user, device, session) = ids();
        let first = hub.subscribe(user, device, session).unwrap();
        assert!(first.first);
        let second = hub.subscribe(user, device, session).unwrap();
        assert!(!second.first);
        assert!(hub.subscribe(user, device, session).is_err());
        drop(first);
        assert!(hub.subscribe(user, device, session).is_ok());
    }

    #[test]
    fn a_full_connection_is_dropped_without_blocking_others() {
        let hub = Arc::new(Hub::new(10, 1));
        let (user, device, session) = ids();
        let mut slow = hub.subscribe(user, device, session).unwrap();
        let mut fast = hub.subscribe(user, DeviceId::random(), session).unwrap();
        hub.send_to_user(user, &ServerFrame::Pong);
        assert!(fast.frames.try_recv().is_ok());
        hub.send_to_user(user, &ServerFrame::Pong);
        assert!(fast.frames.try_recv().is_ok(), "the fast connection still receives");
        assert!(slow.frames.try_recv().is_ok());
        assert!(slow.frames.try_recv().is_err(), "the slow connection was cut off");
        assert_eq!(hub.connection_count(), 1);
    }

    #[test]
    fn revoking_a_session_closes_its_connections() {
        let hub = Arc::new(Hub::new(10, 4));
        let (user, device, session) = ids();
        let mut sub = hub.subscribe(user, device, session).unwrap();
        hub.disconnect_session(user, session);
        assert!(matches!(
            sub.frames.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(!hub.is_online(user));
    }
}
