//! All sled access goes through here: the trees are declared in one place, named `key_value`, and their
//! key encodings (big-endian numbers so range scans follow numeric order) live in `storage::keys`.
//! Keeping sled behind this module means the engine can be swapped without touching the services.

mod counts;
mod group_commit;
pub(crate) mod keys;
mod write_set;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};
use counts::Counts;
use group_commit::GroupCommit;
pub(crate) use write_set::WriteSet;

macro_rules! trees {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {
        /// Every tree of the store.
        #[derive(Clone)]
        pub(crate) struct Trees {
            $($(#[$doc])* pub(crate) $name: Tree,)+
            gate: Gate,
        }

        impl Trees {
            fn open(db: &sled::Db) -> sled::Result<Self> {
                let gate = Gate::default();
                Ok(Self {
                    $($name: Tree { tree: db.open_tree(stringify!($name))?, gate: gate.clone() },)+
                    gate,
                })
            }

            /// Every tree, with its name.
            pub(crate) fn all(&self) -> [(&'static str, &Tree); [$(stringify!($name)),+].len()] {
                [$((stringify!($name), &self.$name)),+]
            }

            pub(crate) fn tree(&self, id: TreeId) -> &Tree {
                match id {
                    $(TreeId::$name => &self.$name,)+
                }
            }
        }

        /// Names a tree in a write set and its journal record.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum TreeId {
            $($name,)+
        }

        impl TreeId {
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(TreeId::$name => stringify!($name),)+
                }
            }

            pub(crate) fn named(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(TreeId::$name),)+
                    _ => None,
                }
            }
        }
    };
}

trees! {
    /// write-set id (u64 BE) -> the set's writes, until a flush has made them durable (`write_set`)
    journal,
    /// user id -> `UserRecord`
    userid_user,
    /// lower-case username -> user id
    username_userid,
    /// lower-case email -> user id
    email_userid,
    /// phone number -> user id
    phone_userid,
    /// lower-case display name ++ 0 ++ user id -> () (prefix search)
    displayname_userid,
    /// user id -> `Settings`
    userid_settings,
    /// user id -> `KeyBackup` (opaque, client-encrypted)
    userid_keybackup,
    /// user id ++ contact user id -> `ContactRecord`
    userid_contactid,
    /// user id ++ blocked user id -> `ContactRecord` (the blocker's list)
    userid_blockedid,
    /// device id -> `DeviceRecord`
    deviceid_device,
    /// user id ++ device id -> ()
    userid_deviceid,
    /// session id -> `SessionRecord`
    sessionid_session,
    /// user id ++ session id -> ()
    userid_sessionid,
    /// sha256(reset token) -> `ResetRecord`
    resethash_reset,
    /// user id -> sha256 of its one live reset token
    userid_resethash,
    /// identity key id -> `IdentityKeyRecord`
    identitykeyid_identitykey,
    /// device id -> identity key id of its current key
    deviceid_identitykeyid,
    /// device id ++ key id (u32 BE) -> `SignedPreKeyRecord`
    devicekeyid_signedprekey,
    /// device id ++ key id (u32 BE) -> prekey public bytes
    devicekeyid_onetimeprekey,
    /// conversation id -> `ConversationRecord`
    convid_conversation,
    /// conversation id -> `Activity` (sequence counter; written only by message sends)
    convid_activity,
    /// conversation id ++ user id -> `ParticipantRecord`
    convuser_participant,
    /// user id ++ conversation id -> ()
    userconv_membership,
    /// conversation id -> () for conversations with a message retention
    retention_convid,
    /// invite code -> conversation id
    invitecode_convid,
    /// lower user id ++ higher user id -> DM conversation id
    dmpair_convid,
    /// conversation id ++ sequence (u64 BE) -> `MessageRecord`
    convseq_message,
    /// message id -> conversation id ++ sequence
    messageid_convseq,
    /// conversation id ++ sender id ++ client message id -> message id
    convsenderclient_messageid,
    /// device id ++ conversation id ++ sequence -> `CiphertextRecord`
    deviceconvseq_ciphertext,
    /// device id ++ queue position (u64 BE) -> `QueueEntry` (undelivered to that device)
    devicequeue_pending,
    /// message id ++ user id -> `ReceiptRecord`
    messageuser_receipt,
    /// message id ++ user id ++ emoji -> when
    messageuseremoji_reaction,
    /// broadcast id -> `BroadcastRecord`
    broadcastid_broadcast,
    /// owner user id ++ broadcast id -> ()
    ownerbroadcast_broadcast,
    /// broadcast id ++ user id -> `RecipientRecord`
    broadcastuser_recipient,
    /// webhook id -> `HookRecord`
    webhookid_webhook,
    /// owner user id ++ webhook id -> ()
    userwebhook_webhook,
    /// webhook id ++ position (u64 BE) -> `WebhookDelivery`
    webhookpos_delivery,
    /// user id of another node's user -> `RemoteHome` (where that user lives, its profile and devices)
    remoteuserid_home,
    /// device id of another node's user -> its user id (learnt with the user's device list)
    remotedeviceid_userid,
    /// message id -> `PendingMessage` (sent here into a conversation another node hosts, not yet ordered)
    messageid_pending,
    /// conversation id ++ sender id ++ client message id -> message id of a pending message
    convsenderclient_pending,
    /// user id ++ PeerId bytes -> `NodeName` of a node that looked this node's user up (and keeps a
    /// copy of it, which a rename must reach)
    userpeer_looker,
    /// username given up by a rename -> `NameHold` (held until the nodes that knew it were told)
    username_hold,
    /// device id of another node's user -> the `KeyBundle` last claimed for it, without its one-time
    /// prekey (served, marked stale, while the home node does not answer)
    remotedeviceid_bundle,
    /// destination node (length-prefixed name) ++ position (u64 BE) -> `OutboxEntry` (signed event)
    nodepos_outbox,
    /// message id of a message another node hosts -> the signed `Envelope` it arrived in
    messageid_envelope,
    /// conversation id of a conversation another node hosts -> the signed `Envelope` of its latest snapshot
    convid_envelope,
    /// call id of a call another node hosts -> the signed `Envelope` of the latest report of it
    callid_envelope,
    /// node name -> `NamePin` (the node it was last resolved to, and until when that holds)
    nodename_pin,
    /// call id -> `Call`
    callid_call,
    /// conversation id ++ created millis (BE) ++ call id -> ()
    convtimecall_call,
    /// user id ++ created millis (BE) ++ call id -> ()
    usertimecall_call,
    /// call id ++ user id ++ queue position -> `CallQualityMetric`
    calluserpos_quality,
    /// upload id -> `UploadRecord` (a resumable upload session; its bytes are in `files/upload-<id>.part`)
    uploadid_upload,
    /// user id ++ created millis (BE) ++ upload id -> ()
    usertimeupload_upload,
    /// file id -> `FileRecord` (a stored blob; its bytes are in `files/<id>`)
    fileid_file,
    /// file id ++ conversation id -> when it was shared there (its participants may download it)
    fileconv_share,
    /// registration token -> `TokenRecord`
    regtoken_token,
    /// entry id (u64 BE, increasing) -> `AuditEntry` (one operator action)
    auditid_entry,
    /// PeerId bytes -> () for each node an operator denied at run time
    peerid_denied,
}

/// Held (shared) by every write to the store, and alone by a backup while it reads every tree: the
/// backup then sees the store as it was at one instant, as a crash at that instant would leave it.
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<std::sync::RwLock<()>>);

impl Gate {
    /// For one write, or one transaction over several trees.
    pub(crate) fn pass(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Holds every write still until dropped.
    pub(crate) fn close(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One tree of the store. Reads go straight to sled (through `Deref`); writes pass the store's gate
/// first. A transaction over several trees passes it once (`Trees::gated`) and names the trees with
/// `sled()`.
#[derive(Clone)]
pub(crate) struct Tree {
    tree: sled::Tree,
    gate: Gate,
}

impl std::ops::Deref for Tree {
    type Target = sled::Tree;

    fn deref(&self) -> &sled::Tree {
        &self.tree
    }
}

impl Tree {
    /// The sled tree, for a transaction; its caller holds the gate.
    pub(crate) fn sled(&self) -> &sled::Tree {
        &self.tree
    }

    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<sled::IVec>,
    ) -> sled::Result<Option<sled::IVec>> {
        let _gate = self.gate.pass();
        self.tree.insert(key, value)
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<sled::IVec>> {
        let _gate = self.gate.pass();
        self.tree.remove(key)
    }

    pub(crate) fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<impl AsRef<[u8]>>,
        new: Option<impl Into<sled::IVec>>,
    ) -> sled::Result<std::result::Result<(), sled::CompareAndSwapError>> {
        let _gate = self.gate.pass();
        self.tree.compare_and_swap(key, old, new)
    }

    pub(crate) fn update_and_fetch<V: Into<sled::IVec>>(
        &self,
        key: impl AsRef<[u8]>,
        change: impl FnMut(Option<&[u8]>) -> Option<V>,
    ) -> sled::Result<Option<sled::IVec>> {
        let _gate = self.gate.pass();
        self.tree.update_and_fetch(key, change)
    }

    pub(crate) fn apply_batch(&self, batch: sled::Batch) -> sled::Result<()> {
        let _gate = self.gate.pass();
        self.tree.apply_batch(batch)
    }
}

impl Trees {
    /// Runs `write` (a transaction over several trees) through the gate. Nothing in it may write
    /// through a `Tree` or wait.
    pub(crate) fn gated<T>(&self, write: impl FnOnce() -> T) -> T {
        let _gate = self.gate.pass();
        write()
    }

    /// Holds every write to the store still until dropped (a backup).
    pub(crate) fn hold_writes(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.gate.close()
    }
}

/// Trees older versions kept and this one does not: a journal record may still name one, and an
/// upgrade reads each once before dropping it (`devicemessage_queuepos`: see `messages::upgrade`).
const RETIRED_TREES: [&str; 1] = ["devicemessage_queuepos"];

/// Where [`Store::check`] writes, in sled's default tree (which holds nothing else).
const HEALTH_KEY: &[u8] = b"health-check";

/// The node's embedded database.
#[derive(Clone)]
pub(crate) struct Store {
    db: sled::Db,
    pub(crate) trees: Trees,
    commits: Arc<GroupCommit>,
    /// Totals kept as the store changes.
    pub(crate) counts: Arc<Counts>,
    /// Held while a batch of relayed messages is written: nothing else orders those writes.
    replica_writes: Arc<std::sync::Mutex<()>>,
    /// How long commits take, as their callers wait (see `metrics`).
    pub(crate) commit_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl Store {
    /// Opens the store under `dir`, sled keeping at most `cache_bytes` of its pages in memory.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|err| match err {
                // sled says so only in its message.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    Error::InUse(dir.display().to_string())
                }
                other => Error::Storage(other),
            })?;
        let trees = Trees::open(&db)?;
        let commits = GroupCommit::new(db.clone(), trees.journal.sled().clone());
        let store = Self {
            db,
            trees,
            commits,
            counts: Arc::default(),
            replica_writes: Arc::default(),
            commit_seconds: crate::metrics::latency(),
        };
        let replayed = write_set::replay(&store)?;
        if replayed > 0 {
            tracing::info!(replayed, "completed the writes a stop cut short");
        }
        Ok(store)
    }

    /// A write set's journal record may go once a flush after this has finished.
    fn journaled(&self, id: u64) {
        self.commits.journaled(id);
    }

    pub(crate) fn replica_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.replica_writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes every write so far durable. Called before acknowledging anything a client relies on.
    /// Concurrent commits share flushes (`group_commit`).
    ///
    /// sled 0.34's `flush_async` can lose its wake-up when several flushes are in flight at once
    /// (sled issues #1241 and #1308) and hang forever, so the blocking flush runs on the blocking pool.
    pub(crate) async fn commit(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let committed = self.commits.commit().await;
        self.commit_seconds.observe(started.elapsed().as_secs_f64());
        committed
    }

    /// A read-write round trip for health checks, one small write and a read: once a write to its log
    /// has failed sled refuses every later one, so a store that can no longer write shows here. Not
    /// `Db::checksum`, which reads every page of the store under a lock that holds up all writes
    /// meanwhile: at ten million messages one `/health` stopped the node for good.
    pub(crate) fn check(&self) -> Result<()> {
        self.db.insert(HEALTH_KEY, &[1])?;
        match self.db.get(HEALTH_KEY)? {
            Some(_) => Ok(()),
            None => Err(Error::Corrupt(
                "the health check's key was not there once written".into(),
            )),
        }
    }

    /// A unique, increasing number, for keys that must sort by arrival.
    pub(crate) fn next_id(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }

    /// A retired tree (see [`RETIRED_TREES`]), if the store still has it.
    pub(crate) fn retired_tree(&self, name: &str) -> Result<Option<sled::Tree>> {
        debug_assert!(RETIRED_TREES.contains(&name));
        match self.db.tree_names().iter().any(|held| held == name.as_bytes()) {
            true => Ok(Some(self.db.open_tree(name)?)),
            false => Ok(None),
        }
    }

    /// Drops a retired tree once its upgrade is durable.
    pub(crate) fn drop_retired_tree(&self, name: &str) -> Result<()> {
        debug_assert!(RETIRED_TREES.contains(&name));
        self.db.drop_tree(name)?;
        Ok(())
    }

    /// sled itself, for tests that write a store as an older version left it.
    #[cfg(test)]
    pub(crate) fn sled_db(&self) -> &sled::Db {
        &self.db
    }

    pub(crate) fn flush_blocking(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

/// Encodes a record with field names, so records stay readable when fields are added.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("records serialise infallibly")
}

/// Decodes a record written by `encode`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes).map_err(|err| Error::Corrupt(err.to_string()))
}

/// Length of every secret file: the token secret and the node key are 32 bytes.
pub(crate) const SECRET_LEN: usize = 32;

/// Reads a 32-byte secret file, or creates it with `generate`, readable by the owner only. A new
/// secret is written to a temporary file, flushed, and renamed into place (the directory flushed
/// too), so a crash leaves either no secret or a whole one. A file of another length is refused with
/// what to do: a short secret would let anyone forge tokens, and guessing a replacement would
/// silently end every session or change the node's identity.
pub(crate) fn read_or_create_secret(path: &Path, generate: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) if bytes.len() == SECRET_LEN => Ok(bytes),
        Ok(bytes) => Err(Error::Corrupt(format!(
            "{} holds {} bytes, not {SECRET_LEN}: it is damaged (perhaps a crash while it was first written). \
             Restore it from a backup; if this node never served anyone, delete it and start again \
             (a new one ends every session, or gives the node a new identity)",
            path.display(),
            bytes.len()
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let bytes = generate();
            write_secret(path, &bytes)?;
            Ok(bytes)
        }
        Err(err) => Err(Error::Internal(format!("reading {}: {err}", path.display()))),
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    write_whole(path, bytes, &format!("secret:{name}"))
}

/// Writes a file so that a crash at any moment leaves either no file or the whole of it: the bytes go
/// to `<path>.partial` (owner-only), are flushed, and the file is renamed into place and its directory
/// flushed. `crash_label` names the crash points between the steps (`<label>:created`, `:written`,
/// `:renamed`). A `.partial` left by a crash is only ever overwritten or swept, never read.
pub(crate) fn write_whole(path: &Path, bytes: &[u8], crash_label: &str) -> Result<()> {
    let failed = |what: &str, err: std::io::Error| Error::Internal(format!("{what} {}: {err}", path.display()));
    let partial = path.with_extension("partial");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(|err| failed("creating", err))?;
    crate::crash::point(&format!("{crash_label}:created"));
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| failed("writing", err))?;
    crate::crash::point(&format!("{crash_label}:written"));
    fs::rename(&partial, path).map_err(|err| failed("renaming into", err))?;
    crate::crash::point(&format!("{crash_label}:renamed"));
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|err| failed("flushing the directory of", err))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_created_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.secret");
        let made = read_or_create_secret(&path, || vec![7; SECRET_LEN]).unwrap();
        assert_eq!(made, vec![7; SECRET_LEN]);
        assert!(
            !path.with_extension("partial").exists(),
            "the temporary file was renamed"
        );
        let again = read_or_create_secret(&path, || unreachable!("it exists")).unwrap();
        assert_eq!(again, made);
    }

    #[test]
    fn a_damaged_secret_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.secret");
        for damaged in [Vec::new(), vec![1; 5], vec![1; SECRET_LEN + 1]] {
            fs::write(&path, &damaged).unwrap();
            let err = read_or_create_secret(&path, || vec![7; SECRET_LEN]).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(&format!("holds {} bytes", damaged.len())), "{message}");
            assert!(message.contains("Restore it from a backup"), "{message}");
        }
    }

    #[test]
    fn the_health_check_writes_reads_back_and_leaves_the_data_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        store.check().unwrap();
        store.check().unwrap();
        assert!(
            store
                .trees
                .all()
                .into_iter()
                .all(|(_, tree)| tree.iter().next().is_none()),
            "nothing a backup or the services read was written"
        );
    }

    /// sled is patched to split a node appended to unevenly (patches/sled/PATCHES.md): trees appended
    /// at many points, written at random, emptied from the front, must read back whole after reopening.
    #[test]
    fn appended_random_and_removed_keys_read_back_after_reopening() {
        use std::collections::BTreeMap;
        let dir = tempfile::tempdir().unwrap();
        let mut expected = BTreeMap::new();
        {
            let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
            let tree = &store.trees.convseq_message;
            let mut random = 0x9e37_79b9_7f4a_7c15u64;
            for n in 0..20_000u64 {
                // Appended at the end of one of seven prefixes, as sequence numbers are.
                let appended = keys::id_seq(&[(n % 7) as u8; 16], n);
                // And a random key, as idempotency keys are.
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                let scattered = random.to_be_bytes().to_vec();
                for key in [appended, scattered] {
                    tree.insert(&key, &n.to_be_bytes()[..]).unwrap();
                    expected.insert(key, n.to_be_bytes().to_vec());
                }
                // The oldest of a queue leave as new ones come.
                if n >= 1_000 && n % 2 == 0 {
                    let old = keys::id_seq(&[((n - 1_000) % 7) as u8; 16], n - 1_000);
                    tree.remove(&old).unwrap();
                    expected.remove(&old);
                }
            }
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), crate::DEFAULT_STORE_CACHE_BYTES).unwrap();
        let stored: Vec<(Vec<u8>, Vec<u8>)> = store
            .trees
            .convseq_message
            .iter()
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())).unwrap())
            .collect();
        assert_eq!(stored, expected.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_partial_file_left_by_a_crash_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        fs::write(path.with_extension("partial"), b"half").unwrap();
        let made = read_or_create_secret(&path, || vec![9; SECRET_LEN]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), made);
    }
}
