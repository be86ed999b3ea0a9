//! New accounts: the checks and writes registration and operators share.

use chrono::Utc;
use protocol::UserId;
use protocol::api::{AccountRole, KeyBackup};
use sled::Transactional;

use crate::storage::{Store, encode, keys};
use crate::users::records::UserRecord;
use crate::{Error, Result, validate};

/// A new account's unique and shown fields, validated.
pub(super) struct NewAccount {
    email: String,
    username: String,
    phone: Option<String>,
    display_name: String,
}

impl NewAccount {
    pub(super) fn checked(
        email: &str,
        username: &str,
        phone: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<Self> {
        let email = validate::email(email)?;
        let username = validate::username(username)?;
        let phone = phone
            .filter(|p| !p.trim().is_empty())
            .map(validate::phone)
            .transpose()?;
        let display_name = match validate::optional_text("display_name", display_name, 64)? {
            Some(name) => name,
            None => username.clone(),
        };
        Ok(Self {
            email,
            username,
            phone,
            display_name,
        })
    }

    /// Refuses an email, username or phone number another account holds. The caller holds the
    /// accounts lock until it has inserted the account.
    pub(super) fn check_free(&self, store: &Store) -> Result<()> {
        let t = &store.trees;
        if t.email_userid.contains_key(self.email.as_bytes())? {
            return Err(Error::Conflict("email is already registered".into()));
        }
        if t.username_userid.contains_key(self.username.as_bytes())? {
            return Err(Error::Conflict("username is already taken".into()));
        }
        crate::users::check_not_held(store, &self.username, None)?;
        if let Some(phone) = &self.phone
            && t.phone_userid.contains_key(phone.as_bytes())?
        {
            return Err(Error::Conflict("phone_number is already registered".into()));
        }
        Ok(())
    }

    pub(super) fn insert(
        self,
        store: &Store,
        password_hash: String,
        role: AccountRole,
        backup: Option<&KeyBackup>,
    ) -> Result<UserRecord> {
        let now = Utc::now();
        let user = UserRecord {
            id: UserId::random(),
            email: self.email,
            username: self.username,
            phone_number: self.phone,
            display_name: self.display_name,
            avatar_url: None,
            status: None,
            bio: None,
            location: None,
            last_seen: None,
            password_hash,
            created_at: now,
            updated_at: now,
            role,
            suspended_at: None,
        };
        let backup = backup.map(encode);
        let t = &store.trees;
        t.gated(|| {
            (
                t.userid_user.sled(),
                t.username_userid.sled(),
                t.email_userid.sled(),
                t.phone_userid.sled(),
                t.displayname_userid.sled(),
                t.userid_keybackup.sled(),
            )
                .transaction(|(by_id, by_name, by_email, by_phone, by_display, backups)| {
                    by_id.insert(user.id.as_bytes(), encode(&user))?;
                    if let Some(backup) = &backup {
                        backups.insert(user.id.as_bytes(), backup.as_slice())?;
                    }
                    by_name.insert(user.username.as_bytes(), user.id.as_bytes())?;
                    by_email.insert(user.email.as_bytes(), user.id.as_bytes())?;
                    if let Some(phone) = &user.phone_number {
                        by_phone.insert(phone.as_bytes(), user.id.as_bytes())?;
                    }
                    by_display.insert(keys::display_name(&user.display_name, user.id), &[])?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<Error>>(())
                })
        })?;
        Ok(user)
    }
}
