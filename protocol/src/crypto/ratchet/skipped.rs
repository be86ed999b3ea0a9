//! The store of skipped message keys (`MKSKIPPED`), bounded and oldest-first.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::keys::MessageKey;
use crate::crypto::dh::DhPublicKey;

/// A message key kept for a message that has not arrived yet.
#[derive(Clone, Serialize, Deserialize)]
struct SkippedKey {
    ratchet_key: DhPublicKey,
    message_number: u32,
    key: MessageKey,
}

/// Skipped keys in the order they were skipped. When the bound is reached the oldest key is
/// dropped: its message, if it ever comes, is refused as expired. A plain list rather than a map
/// keeps eviction order and persists in any serde format; at the default bound a linear scan is a
/// few microseconds, and it only happens for messages that are not next in their chain.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct SkippedKeys(VecDeque<SkippedKey>);

impl SkippedKeys {
    pub(super) fn find(&self, ratchet_key: &DhPublicKey, message_number: u32) -> Option<&MessageKey> {
        self.position(ratchet_key, message_number)
            .map(|index| &self.0[index].key)
    }

    pub(super) fn remove(&mut self, ratchet_key: &DhPublicKey, message_number: u32) {
        if let Some(index) = self.position(ratchet_key, message_number) {
            self.0.remove(index);
        }
    }

    pub(super) fn insert(&mut self, ratchet_key: DhPublicKey, message_number: u32, key: MessageKey, bound: usize) {
        self.0.push_back(SkippedKey {
            ratchet_key,
            message_number,
            key,
        });
        while self.0.len() > bound {
            self.0.pop_front();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    fn position(&self, ratchet_key: &DhPublicKey, message_number: u32) -> Option<usize> {
        self.0
            .iter()
            .position(|k| k.message_number == message_number && k.ratchet_key == *ratchet_key)
    }
}
