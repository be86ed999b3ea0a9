//! The sessions with one peer device (`sessions/<device-id>.mpk`) and how a message picks one.
//!
//! A device usually shares one session with each peer device, but two devices that start sessions
//! with each other at the same moment end up with two (one started by each side). A record therefore
//! keeps a few sessions, newest or most recently used first: the first one encrypts, and an incoming
//! message is tried against each (a failed attempt leaves a session unchanged). The session that
//! decrypts is moved to the front, so both sides settle on the same one.

use protocol::crypto::{IdentityKeyPair, MessageHeader, OneTimePreKeyId, Session};
use protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::prekeys::PreKeys;

/// Sessions kept per peer device: the current one and a few older ones for late messages.
const KEPT_SESSIONS: usize = 8;

/// This device's sessions with one peer device.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// The peer's user.
    pub(crate) user_id: UserId,
    /// The peer device.
    pub(crate) device_id: DeviceId,
    /// Most recently used first; the first one encrypts.
    sessions: Vec<Session>,
}

/// What decrypting one message did.
pub(crate) struct Decrypted {
    /// The message's content.
    pub(crate) plaintext: Vec<u8>,
    /// The one-time prekey a new session was made from, whose secret must now be deleted.
    pub(crate) used_one_time: Option<OneTimePreKeyId>,
}

impl SessionRecord {
    /// An empty record for a peer device.
    pub(crate) fn new(user_id: UserId, device_id: DeviceId) -> Self {
        Self {
            user_id,
            device_id,
            sessions: Vec::new(),
        }
    }

    /// The file holding a peer device's record, relative to the profile.
    pub(crate) fn file_name(device: DeviceId) -> String {
        format!("{}/{device}.mpk", crate::profile::SESSIONS)
    }

    /// Whether no session is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session that encrypts, if any.
    pub(crate) fn current_mut(&mut self) -> Option<&mut Session> {
        self.sessions.first_mut()
    }

    /// Makes `session` the current one, keeping a bounded number of older ones.
    pub(crate) fn add(&mut self, session: Session) {
        self.sessions.insert(0, session);
        self.sessions.truncate(KEPT_SESSIONS);
    }

    fn promote(&mut self, index: usize) {
        if index > 0 {
            let session = self.sessions.remove(index);
            self.sessions.insert(0, session);
        }
    }

    /// Decrypts a message from this peer device. An initial message (its header carries X3DH fields)
    /// goes to the session it started, or starts a new one from this device's prekeys; any other
    /// message is tried against each session in turn. The caller must have checked the initiator's
    /// identity key of an initial message against the one published for the sender.
    pub(crate) fn decrypt(
        &mut self,
        identity: &IdentityKeyPair,
        prekeys: &PreKeys,
        header: &[u8],
        ciphertext: &[u8],
    ) -> Result<Option<Decrypted>> {
        let decoded = MessageHeader::decode(header)?;
        if let Some(prekey) = decoded.prekey {
            if let Some(index) = self.sessions.iter().position(|s| s.started_by(&prekey)) {
                let plaintext = self.sessions[index].decrypt(header, ciphertext)?;
                self.promote(index);
                return Ok(Some(Decrypted {
                    plaintext,
                    used_one_time: None,
                }));
            }
            let signed = prekeys.signed(prekey.signed_prekey_id).ok_or(Error::UnknownPreKey {
                kind: "signed",
                id: prekey.signed_prekey_id.0,
            })?;
            let one_time = match prekey.one_time_prekey_id {
                Some(id) => Some(prekeys.one_time(id).ok_or(Error::UnknownPreKey {
                    kind: "one-time",
                    id: id.0,
                })?),
                None => None,
            };
            let (session, plaintext) = Session::respond(identity, signed, one_time, header, ciphertext)?;
            self.add(session);
            return Ok(Some(Decrypted {
                plaintext,
                used_one_time: prekey.one_time_prekey_id,
            }));
        }
        let mut first_error = None;
        for index in 0..self.sessions.len() {
            match self.sessions[index].decrypt(header, ciphertext) {
                Ok(plaintext) => {
                    self.promote(index);
                    return Ok(Some(Decrypted {
                        plaintext,
                        used_one_time: None,
                    }));
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err.into()),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::api::{BundleSignedPreKey, KeyBundle, OneTimePreKey};

    use super::*;

    struct Device {
        user: UserId,
        id: DeviceId,
        identity: IdentityKeyPair,
        prekeys: PreKeys,
    }

    impl Device {
        fn new() -> Self {
            let identity = IdentityKeyPair::generate();
            let mut prekeys = PreKeys::default();
            prekeys.new_signed(&identity);
            prekeys.new_one_time(5).unwrap();
            Self {
                user: UserId::random(),
                id: DeviceId::random(),
                identity,
                prekeys,
            }
        }

        fn bundle(&self, one_time: u32) -> KeyBundle {
            let signed = self.prekeys.current_signed().unwrap();
            let one_time = self.prekeys.one_time(OneTimePreKeyId(one_time)).unwrap();
            KeyBundle {
                user_id: self.user,
                device_id: self.id,
                identity_key: self.identity.public_key(),
                signed_prekey: BundleSignedPreKey {
                    key_id: signed.id().0,
                    public_key: signed.public_key(),
                    signature: signed.signature(),
                },
                one_time_prekey: Some(OneTimePreKey {
                    key_id: one_time.id().0,
                    public_key: one_time.public_key(),
                }),
                stale: false,
            }
        }

        fn receive(&mut self, record: &mut SessionRecord, message: &protocol::crypto::EncryptedMessage) -> Vec<u8> {
            let decrypted = record
                .decrypt(&self.identity, &self.prekeys, &message.header, &message.ciphertext)
                .unwrap()
                .unwrap();
            if let Some(id) = decrypted.used_one_time {
                assert!(self.prekeys.remove_one_time(id));
            }
            decrypted.plaintext
        }
    }

    #[test]
    fn simultaneous_initiators_converge_on_one_session() {
        let mut ann = Device::new();
        let mut bob = Device::new();
        let mut ann_has = SessionRecord::new(bob.user, bob.id);
        let mut bob_has = SessionRecord::new(ann.user, ann.id);
        // Both start a session before hearing from the other.
        ann_has.add(Session::initiate(&ann.identity, &bob.bundle(1)).unwrap());
        bob_has.add(Session::initiate(&bob.identity, &ann.bundle(1)).unwrap());
        let from_ann = ann_has.current_mut().unwrap().encrypt(b"hi bob").unwrap();
        let from_bob = bob_has.current_mut().unwrap().encrypt(b"hi ann").unwrap();
        assert_eq!(bob.receive(&mut bob_has, &from_ann), b"hi bob");
        assert_eq!(ann.receive(&mut ann_has, &from_bob), b"hi ann");
        // A one-time prekey is used once: its secret is gone.
        assert!(bob.prekeys.one_time(OneTimePreKeyId(1)).is_none());
        // Each now answers on the session the other started, and both still decrypt.
        for round in 0..3 {
            let text = format!("ann {round}");
            let message = ann_has.current_mut().unwrap().encrypt(text.as_bytes()).unwrap();
            assert_eq!(bob.receive(&mut bob_has, &message), text.as_bytes());
            let text = format!("bob {round}");
            let message = bob_has.current_mut().unwrap().encrypt(text.as_bytes()).unwrap();
            assert_eq!(ann.receive(&mut ann_has, &message), text.as_bytes());
        }
    }

    #[test]
    fn repeated_initial_messages_reuse_their_session() {
        let ann = Device::new();
        let mut bob = Device::new();
        let mut ann_has = SessionRecord::new(bob.user, bob.id);
        let mut bob_has = SessionRecord::new(ann.user, ann.id);
        ann_has.add(Session::initiate(&ann.identity, &bob.bundle(2)).unwrap());
        for n in 0..3 {
            let text = format!("unanswered {n}");
            let message = ann_has.current_mut().unwrap().encrypt(text.as_bytes()).unwrap();
            assert!(MessageHeader::decode(&message.header).unwrap().prekey.is_some());
            assert_eq!(bob.receive(&mut bob_has, &message), text.as_bytes());
        }
        assert_eq!(bob_has.sessions.len(), 1);
        // Replaying the records through MessagePack keeps them working.
        let packed = rmp_serde::to_vec_named(&bob_has).unwrap();
        let mut bob_has: SessionRecord = rmp_serde::from_slice(&packed).unwrap();
        let message = bob_has.current_mut().unwrap().encrypt(b"reply").unwrap();
        assert!(MessageHeader::decode(&message.header).unwrap().prekey.is_none());
        let decrypted = ann_has
            .decrypt(&ann.identity, &ann.prekeys, &message.header, &message.ciphertext)
            .unwrap()
            .unwrap();
        assert_eq!(decrypted.plaintext, b"reply");
    }

    #[test]
    fn an_unknown_prekey_is_reported() {
        let ann = Device::new();
        let mut bob = Device::new();
        let bundle = bob.bundle(3);
        bob.prekeys.remove_one_time(OneTimePreKeyId(3));
        let mut session = Session::initiate(&ann.identity, &bundle).unwrap();
        let message = session.encrypt(b"x").unwrap();
        let mut record = SessionRecord::new(ann.user, ann.id);
        let err = record
            .decrypt(&bob.identity, &bob.prekeys, &message.header, &message.ciphertext)
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::UnknownPreKey {
                    kind: "one-time",
                    id: 3
                }
            ),
            "{err}"
        );
        // A message of no known session decrypts nowhere.
        let mut empty = SessionRecord::new(ann.user, ann.id);
        let later = session.encrypt(b"y").unwrap();
        let mut header = MessageHeader::decode(&later.header).unwrap();
        header.prekey = None;
        assert!(
            empty
                .decrypt(&bob.identity, &bob.prekeys, &header.encode(), &later.ciphertext)
                .unwrap()
                .is_none()
        );
    }
}
