//! Accounts as others and their owners see them: profiles, settings, search and devices.

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    Device, DeviceList, Me, PublicDevice, PublicDeviceList, Settings, Timestamp, UpdateProfileRequest,
    UpdateSettingsRequest, UserList, UserProfile, UserSearchQuery,
};
use protocol::webhooks::WebhookEvent;
use protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::realtime::Hub;
use crate::storage::{Store, decode, encode, keys};
use crate::webhooks::Webhooks;
use crate::{Actor, Error, Result, validate};

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
        }
    }

    fn me(&self) -> Me {
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
}

pub(crate) fn get_user(store: &Store, id: UserId) -> Result<Option<UserRecord>> {
    store
        .trees
        .userid_user
        .get(id.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
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

/// The display-name index key: lower-cased name, a 0 separator, the user id.
pub(crate) fn display_key(display_name: &str, user: UserId) -> Vec<u8> {
    keys::join(&[display_name.to_lowercase().as_bytes(), &[0], user.as_bytes()])
}

/// The users service.
pub struct Users {
    store: Store,
    auth: Arc<Auth>,
    webhooks: Arc<Webhooks>,
    hub: Arc<Hub>,
}

impl Users {
    pub(crate) fn new(store: Store, auth: Arc<Auth>, webhooks: Arc<Webhooks>, hub: Arc<Hub>) -> Self {
        Self {
            store,
            auth,
            webhooks,
            hub,
        }
    }

    /// Records when the user's last connection closed, for `last_seen`.
    pub fn went_offline(&self, user: UserId) -> Result<()> {
        let tree = &self.store.trees.userid_user;
        let Some(bytes) = tree.get(user.as_bytes())? else {
            return Ok(());
        };
        let mut record: UserRecord = decode(&bytes)?;
        record.last_seen = Some(Utc::now());
        // A compare-and-swap, so a concurrent profile edit is never overwritten by this stamp.
        let _ = tree.compare_and_swap(user.as_bytes(), Some(bytes), Some(encode(&record)))?;
        Ok(())
    }

    fn load(&self, id: UserId) -> Result<UserRecord> {
        get_user(&self.store, id)?.ok_or(Error::NotFound("user"))
    }

    /// The caller's own account.
    pub fn me(&self, actor: &Actor) -> Result<Me> {
        Ok(self.load(actor.user_id)?.me())
    }

    /// Another user's public profile.
    pub fn profile(&self, id: UserId) -> Result<UserProfile> {
        Ok(self.load(id)?.profile(&self.hub))
    }

    /// Changes the fields present in the request.
    pub async fn update_me(&self, actor: &Actor, request: UpdateProfileRequest) -> Result<Me> {
        let mut user = self.load(actor.user_id)?;
        let old_display = display_key(&user.display_name, user.id);
        if let Some(name) = &request.display_name {
            user.display_name = validate::text("display_name", name, 1, 64)?;
        }
        if request.avatar_url.is_some() {
            user.avatar_url = validate::url("avatar_url", request.avatar_url.as_deref())?;
        }
        if request.bio.is_some() {
            user.bio = validate::optional_text("bio", request.bio.as_deref(), 500)?;
        }
        if request.status.is_some() {
            user.status = validate::optional_text("status", request.status.as_deref(), 140)?;
        }
        if request.location.is_some() {
            user.location = validate::optional_text("location", request.location.as_deref(), 100)?;
        }
        user.updated_at = Utc::now();
        let t = &self.store.trees;
        t.userid_user.insert(user.id.as_bytes(), encode(&user))?;
        t.displayname_userid.remove(old_display)?;
        t.displayname_userid
            .insert(display_key(&user.display_name, user.id), &[])?;
        self.store.commit().await?;
        let data = serde_json::json!({
            "user_id": user.id,
            "display_name": user.display_name,
            "avatar_url": user.avatar_url,
            "status": user.status,
            "bio": user.bio,
            "updated_at": user.updated_at,
        });
        self.webhooks.emit([user.id], WebhookEvent::UserUpdated, data);
        Ok(user.me())
    }

    /// Points the caller's avatar at a stored picture; returns the profile and the previous URL.
    pub async fn set_avatar(&self, actor: &Actor, url: String) -> Result<(Me, Option<String>)> {
        let mut user = self.load(actor.user_id)?;
        let previous = user.avatar_url.replace(url);
        user.updated_at = Utc::now();
        self.store.trees.userid_user.insert(user.id.as_bytes(), encode(&user))?;
        self.store.commit().await?;
        Ok((user.me(), previous))
    }

    /// Deletes the account: its sessions end, its devices and keys go, it leaves every conversation,
    /// and its username, email and phone become free. Messages it sent stay with their conversations.
    pub async fn delete_me(&self, actor: &Actor) -> Result<()> {
        let user = self.load(actor.user_id)?;
        self.auth.revoke_sessions_where(user.id, |_| true).await?;
        for device in devices_of(&self.store, user.id)? {
            crate::keys::purge_device(&self.store, device.id)?;
            self.store.trees.deviceid_device.remove(device.id.as_bytes())?;
            self.store
                .trees
                .userid_deviceid
                .remove(keys::join(&[user.id.as_bytes(), device.id.as_bytes()]))?;
        }
        crate::conversations::forget_user(&self.store, user.id)?;
        crate::contacts::forget_user(&self.store, user.id)?;
        let t = &self.store.trees;
        t.username_userid.remove(user.username.as_bytes())?;
        t.email_userid.remove(user.email.as_bytes())?;
        if let Some(phone) = &user.phone_number {
            t.phone_userid.remove(phone.as_bytes())?;
        }
        t.displayname_userid.remove(display_key(&user.display_name, user.id))?;
        t.userid_settings.remove(user.id.as_bytes())?;
        if let Some(reset) = t.userid_resethash.remove(user.id.as_bytes())? {
            t.resethash_reset.remove(reset)?;
        }
        t.userid_user.remove(user.id.as_bytes())?;
        self.store.commit().await?;
        tracing::info!(user = %user.id, "account deleted");
        Ok(())
    }

    /// The caller's settings (defaults until first changed).
    pub fn settings(&self, actor: &Actor) -> Result<Settings> {
        match self.store.trees.userid_settings.get(actor.user_id.as_bytes())? {
            Some(bytes) => decode(&bytes),
            None => Ok(Settings::default()),
        }
    }

    /// Changes the settings present in the request.
    pub async fn update_settings(&self, actor: &Actor, request: UpdateSettingsRequest) -> Result<Settings> {
        let mut settings = self.settings(actor)?;
        if let Some(enabled) = request.notifications_enabled {
            settings.notifications_enabled = enabled;
        }
        if let Some(theme) = request.theme {
            let theme = theme.trim().to_lowercase();
            if !matches!(theme.as_str(), "light" | "dark" | "system") {
                return Err(Error::invalid("theme", "must be one of light, dark, system"));
            }
            settings.theme = theme;
        }
        if let Some(language) = request.language {
            let language = validate::text("language", &language, 2, 16)?;
            if !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(Error::invalid("language", "must be a language tag such as en or pt-BR"));
            }
            settings.language = language;
        }
        self.store
            .trees
            .userid_settings
            .insert(actor.user_id.as_bytes(), encode(&settings))?;
        self.store.commit().await?;
        Ok(settings)
    }

    /// Users whose username or display name starts with the query, usernames first.
    pub fn search(&self, query: UserSearchQuery) -> Result<UserList> {
        let needle = validate::text("query", &query.query, 1, 64)?.to_lowercase();
        let limit = validate::limit(query.limit, 20, 50)?;
        let t = &self.store.trees;
        let mut ids: Vec<UserId> = Vec::new();
        for entry in t.username_userid.scan_prefix(needle.as_bytes()) {
            if ids.len() >= limit {
                break;
            }
            let (_, id) = entry?;
            ids.extend(UserId::from_slice(&id));
        }
        for entry in t.displayname_userid.scan_prefix(needle.as_bytes()) {
            if ids.len() >= limit {
                break;
            }
            let (key, _) = entry?;
            let Some(id) = key.len().checked_sub(16).and_then(|at| keys::id_at(&key, at)) else {
                continue;
            };
            let id = UserId::from_bytes(id);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = get_user(&self.store, id)? {
                users.push(user.profile(&self.hub));
            }
        }
        Ok(UserList { users })
    }

    /// The caller's devices.
    pub fn devices(&self, actor: &Actor) -> Result<DeviceList> {
        let mut devices: Vec<Device> = devices_of(&self.store, actor.user_id)?
            .into_iter()
            .map(|d| Device {
                id: d.id,
                device_name: d.name,
                device_type: d.kind,
                last_active: d.last_active,
                is_active: d.active,
                created_at: d.created_at,
            })
            .collect();
        devices.sort_by_key(|d| d.created_at);
        Ok(DeviceList { devices })
    }

    /// The account with this username, if any (federation's `ResolveUser`).
    pub fn id_by_username(&self, username: &str) -> Result<Option<UserId>> {
        let lower = username.trim().to_lowercase();
        let id = self.store.trees.username_userid.get(lower.as_bytes())?;
        Ok(id.and_then(|bytes| UserId::from_slice(&bytes)))
    }

    /// A user's active devices, which a sender must encrypt for.
    pub fn public_devices(&self, user: UserId) -> Result<PublicDeviceList> {
        self.load(user)?;
        let mut devices = Vec::new();
        for device in devices_of(&self.store, user)?.into_iter().filter(|d| d.active) {
            devices.push(PublicDevice {
                id: device.id,
                has_active_keys: crate::keys::has_active_keys(&self.store, device.id)?,
            });
        }
        Ok(PublicDeviceList { user_id: user, devices })
    }

    /// Deactivates one of the caller's devices: its sessions end and its keys are deleted, so nobody
    /// can start a new encrypted session with it. Logging in on it again reactivates it.
    pub async fn deactivate_device(&self, actor: &Actor, id: DeviceId) -> Result<()> {
        let mut device = match get_device(&self.store, id)? {
            Some(device) if device.user_id == actor.user_id => device,
            _ => return Err(Error::NotFound("device")),
        };
        device.active = false;
        put_device(&self.store, &device)?;
        crate::keys::purge_device(&self.store, id)?;
        self.auth
            .revoke_sessions_where(actor.user_id, |s| s.device_id == id)
            .await?;
        Ok(())
    }
}
