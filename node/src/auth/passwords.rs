//! Argon2id password hashing, run on the blocking pool because each hash costs tens of milliseconds.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::{Error, Result};

pub(crate) async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|err| Error::Internal(err.to_string()))?
}

fn hash_blocking(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| Error::Internal(format!("hashing password: {err}")))
}

/// Checks a password against a stored hash. With no hash (unknown account) it still does the work of
/// one verification, so response time does not reveal whether an account exists.
pub(crate) async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = match stored {
            Some(stored) => stored,
            None => decoy_hash()?.to_owned(),
        };
        let parsed =
            PasswordHash::new(&stored).map_err(|err| Error::Corrupt(format!("stored password hash: {err}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|err| Error::Internal(err.to_string()))?
}

fn decoy_hash() -> Result<&'static str> {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DECOY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("decoy password for unknown accounts")?;
    Ok(DECOY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
