//! Accounts as others and their owners see them: profiles, settings, search and devices.

pub(crate) mod records;
mod rename;

pub(crate) use rename::{check_not_held, remember_looker};

use std::sync::Arc;

use chrono::Utc;
use protocol::api::{
    DeviceList, KeyBackup, Me, PublicDevice, PublicDeviceList, Settings, UpdateProfileRequest, UpdateSettingsRequest,
    UserList, UserProfile, UserSearchQuery,
};
use protocol::webhooks::WebhookEvent;
use protocol::{DeviceId, UserId};

use self::records::{DeviceRecord, UserRecord, devices_of, get_device, get_user, put_device};
use crate::auth::Auth;
use crate::outbox::Outbox;
use crate::realtime::Hub;
use crate::remote::{Remote, ResolvedUser, homes};
use crate::storage::{Store, decode, encode, keys};
use crate::webhooks::Webhooks;
use crate::{Actor, Error, Result, validate};

/// The users service.
pub struct Users {
    store: Store,
    auth: Arc<Auth>,
    outbox: Arc<Outbox>,
    webhooks: Arc<Webhooks>,
    hub: Arc<Hub>,
    remote: Arc<Remote>,
}

impl Users {
    pub(crate) fn new(
        store: Store,
        auth: Arc<Auth>,
        outbox: Arc<Outbox>,
        webhooks: Arc<Webhooks>,
        hub: Arc<Hub>,
        remote: Arc<Remote>,
    ) -> Self {
        Self {
            store,
            auth,
            outbox,
            webhooks,
            hub,
            remote,
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

    /// A user's public profile, fetched from its home node when it lives elsewhere.
    pub async fn profile(&self, id: UserId) -> Result<UserProfile> {
        if let Some(user) = get_user(&self.store, id)? {
            return Ok(user.profile(&self.hub));
        }
        let known = self.remote.user(id).await?.ok_or(Error::NotFound("user"))?;
        Ok(known.home.profile(id, known.stale))
    }

    /// Changes the fields present in the request.
    pub async fn update_me(&self, actor: &Actor, request: UpdateProfileRequest) -> Result<Me> {
        let mut user = self.load(actor.user_id)?;
        let old_display = keys::display_name(&user.display_name, user.id);
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
            .insert(keys::display_name(&user.display_name, user.id), &[])?;
        self.store.commit().await?;
        let data = || {
            serde_json::json!({
                "user_id": user.id,
                "display_name": user.display_name,
                "avatar_url": user.avatar_url,
                "status": user.status,
                "bio": user.bio,
                "updated_at": user.updated_at,
            })
        };
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

    /// Deletes an account: its sessions end, its devices, keys and their copies of messages go, it
    /// leaves every conversation, and its username, email and phone become free. Messages it sent stay
    /// with their conversations. Its files are the files service's (see `Services::erase_account`).
    pub(crate) async fn delete(&self, id: UserId) -> Result<()> {
        let user = self.load(id)?;
        self.auth.revoke_sessions_where(user.id, |_| true).await?;
        for device in devices_of(&self.store, user.id)? {
            crate::keys::records::purge_device(&self.store, device.id)?;
            crate::messages::forget_device(&self.store, device.id)?;
            self.store.trees.deviceid_device.remove(device.id.as_bytes())?;
            self.store
                .trees
                .userid_deviceid
                .remove(keys::join(&[user.id.as_bytes(), device.id.as_bytes()]))?;
        }
        crate::conversations::records::forget_user(&self.store, user.id)?;
        crate::contacts::forget_user(&self.store, user.id)?;
        rename::forget_lookers(&self.store, user.id)?;
        let t = &self.store.trees;
        t.username_userid.remove(user.username.as_bytes())?;
        t.email_userid.remove(user.email.as_bytes())?;
        if let Some(phone) = &user.phone_number {
            t.phone_userid.remove(phone.as_bytes())?;
        }
        t.displayname_userid
            .remove(keys::display_name(&user.display_name, user.id))?;
        t.userid_settings.remove(user.id.as_bytes())?;
        t.userid_keybackup.remove(user.id.as_bytes())?;
        if let Some(reset) = t.userid_resethash.remove(user.id.as_bytes())? {
            t.resethash_reset.remove(reset)?;
        }
        t.userid_user.remove(user.id.as_bytes())?;
        self.store.commit().await?;
        tracing::info!(user = %user.id, "account deleted");
        Ok(())
    }

    /// The caller's key backup, for the caller alone.
    pub fn key_backup(&self, actor: &Actor) -> Result<Option<KeyBackup>> {
        self::records::key_backup(&self.store, actor.user_id)
    }

    /// The public half of a user's key backup: the one key per account that clients of the chats-axum
    /// dialect encrypt to. It is public by nature; the backup's private halves stay with the owner.
    /// Only this node's users have one here.
    pub fn account_public_key(&self, user: UserId) -> Result<String> {
        self::records::key_backup(&self.store, user)?
            .map(|backup| backup.public_key)
            .ok_or(Error::NotFound("public key"))
    }

    /// Replaces the caller's key backup.
    pub async fn set_key_backup(&self, actor: &Actor, backup: KeyBackup) -> Result<()> {
        self::records::check_key_backup(&backup)?;
        self.store
            .trees
            .userid_keybackup
            .insert(actor.user_id.as_bytes(), encode(&backup))?;
        self.store.commit().await?;
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

    /// Searches users: by prefix of username or display name on this node, or, for a query of the form
    /// `username@node-name`, exactly that user wherever it lives.
    pub async fn search(&self, query: UserSearchQuery) -> Result<UserList> {
        let text = validate::text("query", &query.query, 1, 64)?;
        let limit = validate::limit(query.limit, 20, 50)?;
        if text.contains('@') {
            match self.remote.resolve_handle(&text).await {
                Ok(found) => {
                    let id = found.user.user_id;
                    // A remote user was just looked up: the copy is as fresh as it gets, or the home
                    // node did not answer and asking it again would only wait as long again.
                    let profile = match homes::get(&self.store, id)? {
                        Some(home) if !found.local => home.profile(id, found.stale),
                        _ => self.profile(id).await?,
                    };
                    return Ok(UserList { users: vec![profile] });
                }
                Err(Error::NotFound(_)) => return Ok(UserList { users: Vec::new() }),
                // Not a handle after all: searched as text, as a display name may hold an `@`.
                Err(Error::Invalid { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        self.search_here(&text, limit)
    }

    /// Resolves `username@node-name` (or a bare local username) to the user and its active devices.
    pub async fn resolve_handle(&self, handle: &str) -> Result<ResolvedUser> {
        self.remote.resolve_handle(handle).await
    }

    /// Users whose username or display name starts with the query, usernames first.
    fn search_here(&self, text: &str, limit: usize) -> Result<UserList> {
        let needle = text.to_lowercase();
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
        let mut devices: Vec<_> = devices_of(&self.store, actor.user_id)?
            .into_iter()
            .map(DeviceRecord::view)
            .collect();
        devices.sort_by_key(|d| d.created_at);
        Ok(DeviceList { devices })
    }

    /// A user's active devices, which a sender must encrypt for; fetched from its home node when it
    /// lives elsewhere.
    pub async fn public_devices(&self, user: UserId) -> Result<PublicDeviceList> {
        if get_user(&self.store, user)?.is_none() {
            let known = self.remote.user_with_devices(user).await?;
            return Ok(PublicDeviceList {
                user_id: user,
                stale: known.stale,
                devices: known
                    .user
                    .devices
                    .iter()
                    .map(|device| PublicDevice {
                        id: device.device_id,
                        has_active_keys: device.has_active_keys,
                    })
                    .collect(),
            });
        }
        let mut devices = Vec::new();
        for device in devices_of(&self.store, user)?.into_iter().filter(|d| d.active) {
            devices.push(PublicDevice {
                id: device.id,
                has_active_keys: crate::keys::records::has_active_keys(&self.store, device.id)?,
            });
        }
        Ok(PublicDeviceList {
            user_id: user,
            devices,
            stale: false,
        })
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
        crate::keys::records::purge_device(&self.store, id)?;
        self.auth
            .revoke_sessions_where(actor.user_id, |s| s.device_id == id)
            .await?;
        Ok(())
    }
}
