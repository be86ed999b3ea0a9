//! The private halves of this device's prekeys (`prekeys.mpk`).
//!
//! The node serves the public halves in bundles; initial messages name the prekeys they used by id,
//! and the device answers with the secrets kept here. A one-time prekey secret is deleted as soon as
//! a session is made from it.

use std::collections::BTreeMap;

use protocol::api::MAX_ONE_TIME_PREKEYS;
use protocol::crypto::{IdentityKeyPair, OneTimePreKeyId, OneTimePreKeyPair, SignedPreKeyId, SignedPreKeyPair};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Signed prekeys kept for initial messages that were built from an older one (the node keeps 5 too).
const KEPT_SIGNED: usize = 5;
/// One-time prekey secrets kept at most. The node hands keys out lowest id first and holds at most
/// `MAX_ONE_TIME_PREKEYS`, so secrets beyond twice that are for keys claimed long ago whose initial
/// message never came.
const KEPT_ONE_TIME: usize = 2 * MAX_ONE_TIME_PREKEYS;

/// Every prekey secret of the device.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct PreKeys {
    /// Oldest first; the last one is the active signed prekey.
    signed: Vec<SignedPreKeyPair>,
    /// By id.
    one_time: BTreeMap<u32, OneTimePreKeyPair>,
    /// The id the next generated one-time prekey takes.
    next_one_time: u32,
}

impl PreKeys {
    /// The active signed prekey, if one was made.
    pub(crate) fn current_signed(&self) -> Option<&SignedPreKeyPair> {
        self.signed.last()
    }

    /// A signed prekey by id.
    pub(crate) fn signed(&self, id: SignedPreKeyId) -> Option<&SignedPreKeyPair> {
        self.signed.iter().find(|key| key.id() == id)
    }

    /// Makes a new signed prekey with the next id; it becomes the active one.
    pub(crate) fn new_signed(&mut self, identity: &IdentityKeyPair) -> &SignedPreKeyPair {
        let id = self
            .signed
            .iter()
            .map(|k| k.id().0)
            .max()
            .map_or(1, |id| id.wrapping_add(1).max(1));
        self.signed
            .push(SignedPreKeyPair::generate(identity, SignedPreKeyId(id)));
        if self.signed.len() > KEPT_SIGNED {
            self.signed.remove(0);
        }
        let last = self.signed.len() - 1;
        &self.signed[last]
    }

    /// A one-time prekey by id.
    pub(crate) fn one_time(&self, id: OneTimePreKeyId) -> Option<&OneTimePreKeyPair> {
        self.one_time.get(&id.0)
    }

    /// Forgets a one-time prekey once a session was made from it.
    pub(crate) fn remove_one_time(&mut self, id: OneTimePreKeyId) -> bool {
        self.one_time.remove(&id.0).is_some()
    }

    /// Makes `count` one-time prekeys with fresh ids and keeps their secrets; returns them for upload.
    pub(crate) fn new_one_time(&mut self, count: u32) -> Result<Vec<OneTimePreKeyPair>> {
        let first = self.next_one_time.max(1);
        let batch = OneTimePreKeyPair::generate_batch(OneTimePreKeyId(first), count)?;
        self.next_one_time = first + count;
        for key in &batch {
            self.one_time.insert(key.id().0, key.clone());
        }
        while self.one_time.len() > KEPT_ONE_TIME {
            self.one_time.pop_first();
        }
        Ok(batch)
    }

    /// How many one-time prekey secrets are held.
    #[cfg(test)]
    pub(crate) fn one_time_len(&self) -> usize {
        self.one_time.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_increasing_and_old_keys_are_trimmed() {
        let identity = IdentityKeyPair::generate();
        let mut keys = PreKeys::default();
        assert_eq!(keys.new_signed(&identity).id(), SignedPreKeyId(1));
        for _ in 0..6 {
            keys.new_signed(&identity);
        }
        assert_eq!(keys.current_signed().unwrap().id(), SignedPreKeyId(7));
        assert!(keys.signed(SignedPreKeyId(2)).is_none());
        assert!(keys.signed(SignedPreKeyId(3)).is_some());

        let batch = keys.new_one_time(3).unwrap();
        assert_eq!(batch.iter().map(|k| k.id().0).collect::<Vec<_>>(), vec![1, 2, 3]);
        let batch = keys.new_one_time(2).unwrap();
        assert_eq!(batch[0].id(), OneTimePreKeyId(4));
        assert!(keys.remove_one_time(OneTimePreKeyId(2)));
        assert!(!keys.remove_one_time(OneTimePreKeyId(2)));
        assert_eq!(keys.one_time_len(), 4);

        let packed = rmp_serde::to_vec_named(&keys).unwrap();
        let loaded: PreKeys = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(
            loaded.one_time(OneTimePreKeyId(4)).unwrap().public_key(),
            batch[0].public_key()
        );
        assert_eq!(loaded.next_one_time, 6);
    }
}
