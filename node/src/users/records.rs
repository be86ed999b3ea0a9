//! Stored accounts and devices, and the lookups every domain makes on them. Kept apart from the
//! `Users` service so that the services below it (auth, keys, contacts) can read accounts without
//! depending on it.

use protocol::api::{AccountRole, Device, KeyBackup, Me, Timestamp, UserProfile};
use protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::realtime::Hub;
use crate::storage::{Store, decode, encode, keys};
use crate::{Error, Result, validate};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub(crate) id: UserId,
    pub(crate) email: String,
    pub(crate) username: String,
    pub(crate) phone_number: Option<String>,
    pub(crate) display_name: String,
    pub(crate) avatar_url: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) bio: Option<String>,
    #[serde(default)]
    pub(crate) location: Option<String>,
    #[serde(default)]
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) password_hash: String,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
    #[serde(default)]
    pub(crate) role: AccountRole,
    /// Set while an operator has the account suspended: its logins are refused.
    #[serde(default)]
    pub(crate) suspended_at: Option<Timestamp>,
}

impl UserRecord {
    /// The public profile; `hub` tells whether the user is online now.
    pub(crate) fn profile(&self, hub: &Hub) -> UserProfile {
        let is_online = hub.is_online(self.id);
        UserProfile {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            status: self.status.clone(),
            bio: self.bio.clone(),
            location: self.location.clone(),
            last_seen: if is_online { None } else { self.last_seen },
            is_online,
            created_at: self.created_at,
            stale: false,
        }
    }

    pub(crate) fn me(&self) -> Me {
        Me {
            id: self.id,
            email: self.email.clone(),
            username: self.username.clone(),
            phone_number: self.phone_number.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            status: self.status.clone(),
            bio: self.bio.clone(),
            location: self.location.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    pub(crate) id: DeviceId,
    pub(crate) user_id: UserId,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) active: bool,
    pub(crate) created_at: Timestamp,
    pub(crate) last_active: Option<Timestamp>,
}

impl DeviceRecord {
    /// A device registering now, active.
    pub(crate) fn new(id: DeviceId, user_id: UserId, name: String, kind: String, now: Timestamp) -> Self {
        Self {
            id,
            user_id,
            name,
            kind,
            active: true,
            created_at: now,
            last_active: Some(now),
        }
    }

    /// The device as its owner (and operators) see it.
    pub(crate) fn view(self) -> Device {
        Device {
            id: self.id,
            device_name: self.name,
            device_type: self.kind,
            last_active: self.last_active,
            is_active: self.active,
            created_at: self.created_at,
        }
    }
}

pub(crate) fn get_user(store: &Store, id: UserId) -> Result<Option<UserRecord>> {
    store
        .trees
        .userid_user
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
}

/// Whether a user lives on this node, without reading their record: asked for every member of a
/// conversation on every send.
pub(crate) fn is_local(store: &Store, id: UserId) -> Result<bool> {
    Ok(store.trees.userid_user.contains_key(id.as_bytes())?)
}

/// Whether a device belongs to this node, without reading its record: asked for every copy of a
/// message on every send.
pub(crate) fn is_local_device(store: &Store, id: DeviceId) -> Result<bool> {
    Ok(store.trees.deviceid_device.contains_key(id.as_bytes())?)
}

pub(crate) fn get_device(store: &Store, id: DeviceId) -> Result<Option<DeviceRecord>> {
    store
        .trees
        .deviceid_device
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
}

pub(crate) fn put_device(store: &Store, device: &DeviceRecord) -> Result<()> {
    store
        .trees
        .deviceid_device
        .insert(device.id.as_bytes(), encode(device))?;
    store
        .trees
        .userid_deviceid
        .insert(keys::join(&[device.user_id.as_bytes(), device.id.as_bytes()]), &[])?;
    Ok(())
}

/// Every device a user has registered, active or not.
pub(crate) fn devices_of(store: &Store, user: UserId) -> Result<Vec<DeviceRecord>> {
    let mut devices = Vec::new();
    for entry in store.trees.userid_deviceid.scan_prefix(user.as_bytes()) {
        let (key, _) = entry?;
        let Some(id) = keys::id_at(&key, 16).map(DeviceId::from_bytes) else {
            continue;
        };
        if let Some(device) = get_device(store, id)? {
            devices.push(device);
        }
    }
    Ok(devices)
}

/// Finds an account by email, username or phone number.
pub(crate) fn find_by_identity(store: &Store, identity: &str) -> Result<Option<UserRecord>> {
    let lower = identity.trim().to_lowercase();
    let t = &store.trees;
    let id = match t.email_userid.get(lower.as_bytes())? {
        Some(id) => Some(id),
        None => match t.username_userid.get(lower.as_bytes())? {
            Some(id) => Some(id),
            // Phone numbers are stored normalised (E.164), so normalise the identity the same way.
            None => match validate::phone(&lower) {
                Ok(phone) => t.phone_userid.get(phone.as_bytes())?,
                Err(_) => None,
            },
        },
    };
    match id.and_then(|bytes| UserId::from_slice(&bytes)) {
        Some(id) => get_user(store, id),
        None => Ok(None),
    }
}

/// Largest field of a key backup, in characters (as JSON Schema's `maxLength` counts).
const MAX_KEY_BACKUP_FIELD: usize = 16 * 1024;

/// A key backup's fields are opaque to the node, but bounded.
pub(crate) fn check_key_backup(backup: &KeyBackup) -> Result<()> {
    for (field, value) in [
        (
            "key_backup.private_key_by_master_key",
            &backup.private_key_by_master_key,
        ),
        (
            "key_backup.private_key_by_recovery_key",
            &backup.private_key_by_recovery_key,
        ),
        ("key_backup.public_key", &backup.public_key),
        ("key_backup.salt", &backup.salt),
    ] {
        if value.is_empty() || value.chars().count() > MAX_KEY_BACKUP_FIELD {
            return Err(Error::invalid(
                field,
                format!("must be 1 to {MAX_KEY_BACKUP_FIELD} characters"),
            ));
        }
    }
    Ok(())
}

/// The user's key backup, if one was stored.
pub(crate) fn key_backup(store: &Store, user: UserId) -> Result<Option<KeyBackup>> {
    store
        .trees
        .userid_keybackup
        .get(user.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}
