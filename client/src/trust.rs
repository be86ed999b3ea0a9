//! Identity keys pinned per peer device (`trust.json`).
//!
//! The first time this device talks to a peer device it takes the identity key the node publishes
//! for it (from a bundle, or `GET /v1/encryption/identity` for an incoming initial message that must
//! match it) and pins it. A later key that differs is refused ([`crate::Error::IdentityChanged`]):
//! device ids are chosen once per profile and this SDK never replaces a device's identity, so a new
//! key for a known device means someone else is speaking for it.

use std::collections::BTreeMap;

use protocol::api::Timestamp;
use protocol::{DeviceId, IdentityPublicKey, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The pinned keys.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Trust {
    devices: BTreeMap<DeviceId, Pin>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Pin {
    user_id: UserId,
    identity_key: IdentityPublicKey,
    pinned_at: Timestamp,
}

/// Whether a key was already known.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The device's pinned key is this one.
    Known,
    /// Nothing was pinned for the device yet.
    New,
}

impl Trust {
    /// Checks `key` against what is pinned for `device`.
    pub(crate) fn check(&self, user: UserId, device: DeviceId, key: &IdentityPublicKey) -> Result<Verdict> {
        match self.devices.get(&device) {
            None => Ok(Verdict::New),
            Some(pin) if pin.user_id == user && pin.identity_key == *key => Ok(Verdict::Known),
            Some(_) => Err(Error::IdentityChanged { device }),
        }
    }

    /// Pins `key` for `device`.
    pub(crate) fn pin(&mut self, user: UserId, device: DeviceId, key: IdentityPublicKey) {
        self.devices.entry(device).or_insert(Pin {
            user_id: user,
            identity_key: key,
            pinned_at: chrono::Utc::now(),
        });
    }

    /// The pinned key of a device.
    pub(crate) fn key_of(&self, device: DeviceId) -> Option<IdentityPublicKey> {
        self.devices.get(&device).map(|pin| pin.identity_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_key_must_not_change() {
        let mut trust = Trust::default();
        let (user, device) = (UserId::random(), DeviceId::random());
        let key = IdentityPublicKey([1; 32]);
        assert_eq!(trust.check(user, device, &key).unwrap(), Verdict::New);
        trust.pin(user, device, key);
        let json = serde_json::to_string(&trust).unwrap();
        let trust: Trust = serde_json::from_str(&json).unwrap();
        assert_eq!(trust.check(user, device, &key).unwrap(), Verdict::Known);
        assert!(matches!(
            trust.check(user, device, &IdentityPublicKey([2; 32])),
            Err(Error::IdentityChanged { .. })
        ));
        assert!(trust.check(UserId::random(), device, &key).is_err());
        assert_eq!(trust.key_of(device), Some(key));
    }
}
