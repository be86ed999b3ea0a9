//! The local message history (`messages/<conversation>.jsonl`): every message this device sent or
//! decrypted, one JSON object per line, appended and synced. It doubles as the record of which
//! messages were already received, so a message replayed by the node is acknowledged, not decrypted
//! twice (its message key is gone after the first time).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use protocol::api::Timestamp;
use protocol::{Base64Bytes, ClientMessageId, ConversationId, DeviceId, MessageId, MessageType, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::profile::{MESSAGES, private_options};

/// A message as this device keeps it: its metadata and its decrypted content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its place in the conversation (gap-free, from 1).
    pub sequence_number: u64,
    /// Who sent it.
    pub sender_id: UserId,
    /// From which device.
    pub sender_device_id: DeviceId,
    /// The sender's idempotency key.
    pub client_message_id: ClientMessageId,
    /// `text`, `image`, …
    pub message_type: MessageType,
    /// When the node stored it.
    pub created_at: Timestamp,
    /// Whether this device sent it.
    pub outgoing: bool,
    /// False for a message its sender sent in the clear (a client of another API dialect): the node,
    /// and anyone with its data, could read it.
    #[serde(default = "protocol::api::yes")]
    pub encrypted: bool,
    /// The decrypted content (base64 in the file).
    pub plaintext: Base64Bytes,
}

impl StoredMessage {
    /// The content as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.plaintext.0).ok()
    }
}

/// Shows the metadata and only the length of the content, which stays out of logs.
impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("message_id", &self.message_id)
            .field("conversation_id", &self.conversation_id)
            .field("sequence_number", &self.sequence_number)
            .field("sender_id", &self.sender_id)
            .field("sender_device_id", &self.sender_device_id)
            .field("outgoing", &self.outgoing)
            .field("plaintext_len", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

/// The message logs of a profile, with an in-memory index of the message ids in each.
pub(crate) struct History {
    dir: PathBuf,
    /// Per conversation: the file length the index was built from, and the ids in it. Another process
    /// may append to the same file, so the index is rebuilt whenever the length changed.
    index: Mutex<HashMap<ConversationId, (u64, HashSet<MessageId>)>>,
}

impl History {
    pub(crate) fn new(profile_dir: &std::path::Path) -> Self {
        Self {
            dir: profile_dir.join(MESSAGES),
            index: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, conversation: ConversationId) -> PathBuf {
        self.dir.join(format!("{conversation}.jsonl"))
    }

    /// Every message kept for a conversation, in the order they were stored.
    pub(crate) fn read(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        let path = self.file(conversation);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io(path, err)),
        };
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            // A torn last line (a crash mid-append) is not a message.
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect())
    }

    /// Whether the message is already in the conversation's log.
    pub(crate) fn contains(&self, conversation: ConversationId, message: MessageId) -> Result<bool> {
        let path = self.file(conversation);
        let len = match fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == ErrorKind::NotFound => 0,
            Err(err) => return Err(Error::io(path, err)),
        };
        let mut index = self
            .index
            .lock()
            .map_err(|_| Error::profile("history index poisoned"))?;
        let fresh = index.get(&conversation).is_some_and(|(known, _)| *known == len);
        if !fresh {
            let ids = self.read(conversation)?.into_iter().map(|m| m.message_id).collect();
            index.insert(conversation, (len, ids));
        }
        Ok(index.get(&conversation).is_some_and(|(_, ids)| ids.contains(&message)))
    }

    /// Appends a message to its conversation's log and syncs it to disk.
    pub(crate) fn append(&self, message: &StoredMessage) -> Result<()> {
        let path = self.file(message.conversation_id);
        let mut line =
            serde_json::to_vec(message).map_err(|err| Error::profile(format!("cannot encode a message: {err}")))?;
        line.push(b'\n');
        let mut file = private_options()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|err| Error::io(&path, err))?;
        let len = file.metadata().map_err(|err| Error::io(&path, err))?.len();
        if len > 0 && !ends_with_newline(&mut file, len).map_err(|err| Error::io(&path, err))? {
            // Close a torn line so this record starts on its own.
            line.insert(0, b'\n');
        }
        file.write_all(&line).map_err(|err| Error::io(&path, err))?;
        file.sync_data().map_err(|err| Error::io(&path, err))?;
        let new_len = len + line.len() as u64;
        let mut index = self
            .index
            .lock()
            .map_err(|_| Error::profile("history index poisoned"))?;
        if let Some((known, ids)) = index.get_mut(&message.conversation_id)
            && *known == len
        {
            *known = new_len;
            ids.insert(message.message_id);
        }
        Ok(())
    }
}

fn ends_with_newline(file: &mut File, len: u64) -> std::io::Result<bool> {
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(conversation: ConversationId, seq: u64) -> StoredMessage {
        StoredMessage {
            message_id: MessageId::random(),
            conversation_id: conversation,
            sequence_number: seq,
            sender_id: UserId::random(),
            sender_device_id: DeviceId::random(),
            client_message_id: ClientMessageId::new(format!("c{seq}")).unwrap(),
            message_type: MessageType::Text,
            created_at: chrono::Utc::now(),
            outgoing: false,
            encrypted: true,
            plaintext: Base64Bytes(format!("hello {seq}").into_bytes()),
        }
    }

    #[test]
    fn messages_append_dedupe_and_survive_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(MESSAGES)).unwrap();
        let history = History::new(dir.path());
        let conversation = ConversationId::random();
        let first = message(conversation, 1);
        assert!(!history.contains(conversation, first.message_id).unwrap());
        history.append(&first).unwrap();
        assert!(history.contains(conversation, first.message_id).unwrap());

        // A crash mid-append leaves half a line; the next append starts a fresh one.
        let path = history.file(conversation);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"message_id\":").unwrap();
        let second = message(conversation, 2);
        history.append(&second).unwrap();

        let reopened = History::new(dir.path());
        let stored = reopened.read(conversation).unwrap();
        assert_eq!(stored, vec![first.clone(), second.clone()]);
        assert!(reopened.contains(conversation, second.message_id).unwrap());
        assert_eq!(stored[1].text(), Some("hello 2"));
        assert!(!format!("{:?}", stored[1]).contains("hello"));
    }
}
