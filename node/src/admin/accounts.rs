//! Accounts as operators manage them: create, list, suspend, delete, reset passwords, grant roles.

use chrono::Utc;
use protocol::UserId;
use protocol::api::{
    AccountRole, AdminUser, AdminUserList, AdminUserQuery, CreateUserRequest, CreatedUser, PasswordResetToken,
};

use super::{Admin, Operator};
use crate::auth::sessions;
use crate::auth::tokens;
use crate::storage::{decode, encode};
use crate::users::records::{UserRecord, devices_of, get_user};
use crate::{Error, Result, validate};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

impl Admin<'_> {
    /// Makes an account whatever the registration mode. Without a password, the answer carries a reset
    /// token the user sets one with.
    pub async fn create_user(&self, operator: &Operator, request: CreateUserRequest) -> Result<CreatedUser> {
        let password = request.password.clone().unwrap_or_else(tokens::opaque);
        let user = self.services.auth.create_account(&request, password).await?;
        let reset_token = match request.password {
            Some(_) => None,
            None => Some(self.services.auth.issue_reset_token(user.id).await?.0),
        };
        self.record(operator, "create-user", &target(&user)).await?;
        Ok(CreatedUser {
            user: self.view(user)?,
            reset_token,
        })
    }

    /// Accounts in username order, those whose username starts with `query` when one is given.
    pub fn users(&self, query: &AdminUserQuery) -> Result<AdminUserList> {
        let limit = validate::limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
        let prefix = validate::optional_text("query", query.query.as_deref(), 64)?
            .unwrap_or_default()
            .to_lowercase();
        let start = match &query.cursor {
            Some(cursor) => {
                let mut after = validate::text("cursor", cursor, 1, 64)?.into_bytes();
                after.push(0);
                after
            }
            None => prefix.clone().into_bytes(),
        };
        let store = &self.services.store;
        let mut users = Vec::new();
        let mut more = false;
        for item in store.trees.username_userid.range(start..) {
            let (name, id) = item?;
            if !name.starts_with(prefix.as_bytes()) {
                break;
            }
            if users.len() == limit {
                more = true;
                break;
            }
            let id = UserId::from_slice(&id).ok_or_else(|| Error::Corrupt("username index".into()))?;
            if let Some(user) = get_user(store, id)? {
                users.push(self.view(user)?);
            }
        }
        let next_cursor = more.then(|| users.last().map(|user| user.username.clone())).flatten();
        Ok(AdminUserList { users, next_cursor })
    }

    /// One account, named by id or username.
    pub fn user(&self, user: &str) -> Result<AdminUser> {
        self.view(self.find(user)?)
    }

    /// Ends the account's sessions (closing its sockets) and refuses its logins until unsuspended.
    /// Its data stays; other nodes are told nothing.
    pub async fn suspend(&self, operator: &Operator, user: &str) -> Result<AdminUser> {
        let user = {
            let _guard = self.services.auth.accounts_lock().await;
            let user = self.update(user, |user| {
                user.suspended_at.get_or_insert_with(Utc::now);
            })?;
            self.services.auth.revoke_sessions_where(user.id, |_| true).await?;
            user
        };
        self.record(operator, "suspend", &target(&user)).await?;
        self.view(user)
    }

    /// Lets a suspended account log in again.
    pub async fn unsuspend(&self, operator: &Operator, user: &str) -> Result<AdminUser> {
        let user = self.update(user, |user| user.suspended_at = None)?;
        self.record(operator, "unsuspend", &target(&user)).await?;
        self.view(user)
    }

    /// Gives the account a role.
    pub async fn set_role(&self, operator: &Operator, user: &str, role: AccountRole) -> Result<AdminUser> {
        let user = self.update(user, |user| user.role = role)?;
        let action = match role {
            AccountRole::Operator => "grant-operator",
            AccountRole::User => "revoke-operator",
        };
        self.record(operator, action, &target(&user)).await?;
        self.view(user)
    }

    /// Deletes the account and everything it owns here: sessions, devices, keys, their message
    /// copies and queues, and its files.
    pub async fn delete_user(&self, operator: &Operator, user: &str) -> Result<()> {
        let user = self.find(user)?;
        self.services.erase_account(user.id).await?;
        self.record(operator, "delete-user", &target(&user)).await
    }

    /// Issues a password-reset token for the account and ends its sessions.
    pub async fn reset_password(&self, operator: &Operator, user: &str) -> Result<PasswordResetToken> {
        let user = self.find(user)?;
        let (reset_token, expires_at) = self.services.auth.issue_reset_token(user.id).await?;
        self.services.auth.revoke_sessions_where(user.id, |_| true).await?;
        self.record(operator, "reset-password", &target(&user)).await?;
        Ok(PasswordResetToken {
            reset_token,
            expires_at,
        })
    }

    fn find(&self, user: &str) -> Result<UserRecord> {
        let store = &self.services.store;
        let id = match user.parse::<UserId>() {
            Ok(id) => Some(id),
            Err(_) => store
                .trees
                .username_userid
                .get(user.trim().to_lowercase().as_bytes())?
                .and_then(|id| UserId::from_slice(&id)),
        };
        match id {
            Some(id) => get_user(store, id)?.ok_or(Error::NotFound("user")),
            None => Err(Error::NotFound("user")),
        }
    }

    /// Changes a stored account with a compare-and-swap, so a concurrent profile edit is kept.
    fn update(&self, user: &str, change: impl Fn(&mut UserRecord)) -> Result<UserRecord> {
        let id = self.find(user)?.id;
        let tree = &self.services.store.trees.userid_user;
        loop {
            let bytes = tree.get(id.as_bytes())?.ok_or(Error::NotFound("user"))?;
            let mut record: UserRecord = decode(&bytes)?;
            change(&mut record);
            record.updated_at = Utc::now();
            if tree
                .compare_and_swap(id.as_bytes(), Some(bytes), Some(encode(&record)))?
                .is_ok()
            {
                return Ok(record);
            }
        }
    }

    fn view(&self, user: UserRecord) -> Result<AdminUser> {
        let store = &self.services.store;
        let mut devices: Vec<_> = devices_of(store, user.id)?.into_iter().map(|d| d.view()).collect();
        devices.sort_by_key(|device| device.created_at);
        let last_active = sessions::of_user(store, user.id)?
            .into_iter()
            .map(|session| session.last_active)
            .chain(devices.iter().filter_map(|device| device.last_active))
            .chain(user.last_seen)
            .max();
        Ok(AdminUser {
            id: user.id,
            username: user.username,
            email: user.email,
            display_name: user.display_name,
            role: user.role,
            suspended_at: user.suspended_at,
            last_active,
            devices,
            created_at: user.created_at,
        })
    }
}

fn target(user: &UserRecord) -> String {
    format!("user:{}", user.username)
}
