//! End-to-end encryption as a client does it, with the real `protocol::crypto`: each simulated device
//! publishes an identity key, a signed prekey and one-time prekeys on its node; a sender claims a
//! recipient device's bundle once (through its own node, which asks the recipient's home node), starts
//! an X3DH session and encrypts every copy with the Double Ratchet; the recipient answers the first
//! message with its prekeys and decrypts the rest. Each direction between two devices has its own
//! session, so concurrent first messages in both directions never collide.

use std::collections::HashMap;
use std::sync::Mutex;

use node::Actor;
use protocol::api::{
    DeviceKeyQuery, MAX_ONE_TIME_PREKEYS, MAX_ONE_TIME_PREKEYS_PER_UPLOAD, UploadIdentityKeyRequest,
    UploadOneTimePreKeysRequest,
};
use protocol::crypto::{
    IdentityKeyPair, MessageHeader, OneTimePreKeyId, OneTimePreKeyPair, Session, SignedPreKeyId, SignedPreKeyPair,
};
use protocol::{DeviceId, UserId};

use super::cluster::Cluster;

/// One simulated device's keys and sessions.
pub(crate) struct DeviceKeys {
    identity: IdentityKeyPair,
    signed: SignedPreKeyPair,
    one_time: Mutex<HashMap<OneTimePreKeyId, OneTimePreKeyPair>>,
    /// Sessions this device started, by recipient device; a tokio mutex, held while a bundle is fetched
    /// so one sender's messages are encrypted in the order it sends them.
    outgoing: tokio::sync::Mutex<HashMap<DeviceId, Session>>,
    /// Sessions other devices started with this one, by sender device.
    incoming: Mutex<HashMap<DeviceId, Session>>,
}

impl DeviceKeys {
    /// Fresh keys with a one-time prekey for each of `peers` devices that may start a session with it,
    /// as many as a node holds (the rest start X3DH without one).
    pub(crate) fn generate(peers: usize) -> Result<Self, String> {
        let identity = IdentityKeyPair::generate();
        let signed = SignedPreKeyPair::generate(&identity, SignedPreKeyId(1));
        let one_time = u32::try_from(peers.clamp(1, MAX_ONE_TIME_PREKEYS)).unwrap_or(1);
        let batch = OneTimePreKeyPair::generate_batch(OneTimePreKeyId(1), one_time)
            .map_err(|err| format!("one-time prekeys: {err}"))?;
        Ok(Self {
            identity,
            signed,
            one_time: Mutex::new(batch.into_iter().map(|key| (key.id(), key)).collect()),
            outgoing: tokio::sync::Mutex::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
        })
    }

    /// Publishes the device's public keys on its node, as `POST /v1/encryption/...` does.
    pub(crate) async fn publish(&self, cluster: &Cluster, node: usize, actor: Actor) -> Result<(), String> {
        let identity = UploadIdentityKeyRequest {
            user_id: None,
            device_id: None,
            public_key: self.identity.public_key(),
        };
        let signed = self.signed.to_upload();
        let one_time = self.one_time_uploads();
        cluster
            .on_node(node, move |services| async move {
                services.keys.upload_identity(&actor, identity).await?;
                services.keys.upload_signed_prekey(&actor, signed).await?;
                for batch in one_time {
                    services.keys.upload_one_time_prekeys(&actor, batch).await?;
                }
                Ok::<_, node::Error>(())
            })
            .await
            .ok_or_else(|| format!("node {node} is down"))?
            .map_err(|err| format!("publishing keys: {err}"))
    }

    /// The one-time prekeys' public halves, in as many uploads as the node's per-request limit needs.
    fn one_time_uploads(&self) -> Vec<UploadOneTimePreKeysRequest> {
        let keys: Vec<OneTimePreKeyPair> = lock(&self.one_time).values().cloned().collect();
        keys.chunks(MAX_ONE_TIME_PREKEYS_PER_UPLOAD)
            .map(OneTimePreKeyPair::upload_request)
            .collect()
    }

    /// Encrypts `plaintext` for each recipient device, claiming a bundle first for devices this one has
    /// no session with yet. Fails (and encrypts nothing) when a bundle cannot be had now.
    pub(crate) async fn encrypt(
        &self,
        cluster: &Cluster,
        node: usize,
        actor: Actor,
        recipients: &[(UserId, DeviceId)],
        plaintext: &[u8],
    ) -> Result<Vec<(DeviceId, Vec<u8>, Vec<u8>)>, String> {
        let mut sessions = self.outgoing.lock().await;
        for (user, device) in recipients {
            if sessions.contains_key(device) {
                continue;
            }
            let query = DeviceKeyQuery {
                user_id: Some(*user),
                device_id: Some(*device),
                key_id: None,
            };
            let bundle = cluster
                .on_node(node, move |services| async move {
                    services.keys.bundle(&actor, &query).await
                })
                .await
                .ok_or_else(|| format!("node {node} is down"))?
                .map_err(|err| format!("claiming a key bundle: {err}"))?;
            let session = Session::initiate(&self.identity, &bundle).map_err(|err| format!("X3DH: {err}"))?;
            sessions.insert(*device, session);
        }
        recipients
            .iter()
            .map(|(_, device)| {
                let session = sessions
                    .get_mut(device)
                    .ok_or_else(|| "a session vanished while encrypting".to_owned())?;
                let sealed = session.encrypt(plaintext).map_err(|err| format!("encrypting: {err}"))?;
                Ok((*device, sealed.header, sealed.ciphertext))
            })
            .collect()
    }

    /// Decrypts a copy from `sender`'s device: with the session it started, or by answering its first
    /// message with this device's prekeys.
    pub(crate) fn decrypt(&self, sender: DeviceId, header: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        let mut incoming = lock(&self.incoming);
        let decoded = MessageHeader::decode(header).map_err(|err| format!("header: {err}"))?;
        if let Some(session) = incoming.get_mut(&sender) {
            let ours = decoded.prekey.as_ref().is_none_or(|prekey| session.started_by(prekey));
            if ours {
                return session
                    .decrypt(header, ciphertext)
                    .map_err(|err| format!("decrypting: {err}"));
            }
        }
        let prekey = decoded
            .prekey
            .ok_or("a message for a session this device does not have")?;
        let one_time = prekey
            .one_time_prekey_id
            .and_then(|id| lock(&self.one_time).get(&id).cloned());
        let (session, plaintext) =
            Session::respond(&self.identity, &self.signed, one_time.as_ref(), header, ciphertext)
                .map_err(|err| format!("answering X3DH: {err}"))?;
        // A one-time prekey serves one session: forget it once that session exists.
        if let Some(used) = one_time {
            lock(&self.one_time).remove(&used.id());
        }
        incoming.insert(sender, session);
        Ok(plaintext)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_popular_device_publishes_what_a_node_holds_in_uploads_a_node_takes() {
        let keys = DeviceKeys::generate(5_000).expect("keys");
        let uploads = keys.one_time_uploads();
        assert_eq!(
            uploads.iter().map(|upload| upload.keys.len()).sum::<usize>(),
            MAX_ONE_TIME_PREKEYS
        );
        assert!(
            uploads
                .iter()
                .all(|upload| upload.keys.len() <= MAX_ONE_TIME_PREKEYS_PER_UPLOAD)
        );
    }

    #[test]
    fn a_device_in_no_conversation_still_has_a_one_time_prekey() {
        let keys = DeviceKeys::generate(0).expect("keys");
        let uploads = keys.one_time_uploads();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].keys.len(), 1);
    }
}
