//! Argon2id password hashing, run on the blocking pool because each hash costs tens of milliseconds.
//! At most one hash per core runs at once and the rest queue: each takes 19 MiB of working memory, and
//! a burst of registrations on tokio's blocking pool (up to 512 threads) would otherwise take that
//! times the burst, and CPU from everything else the node does.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::PasswordHashing;
use crate::{Error, Result};

/// Hashes and checks passwords at the node's configured cost.
pub(crate) struct Passwords {
    cost: PasswordHashing,
    /// What an unknown account's login is checked against, made at the configured cost.
    decoy: OnceLock<String>,
    /// One permit per hash allowed to run at once.
    running: tokio::sync::Semaphore,
}

impl Passwords {
    pub(crate) fn new(cost: PasswordHashing) -> Self {
        Self {
            cost,
            decoy: OnceLock::new(),
            running: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)),
        }
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let cost = self.cost;
        self.bounded(move || hash_blocking(&password, cost)).await
    }

    /// Runs one hash or verification on the blocking pool once a permit is free.
    async fn bounded<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|err| Error::Internal(format!("password hashing: {err}")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|err| Error::Internal(err.to_string()))?
    }

    /// Checks a password against a stored hash. With no hash (unknown account) it still does the work
    /// of one verification, so response time does not reveal whether an account exists.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let stored = match stored {
            Some(stored) => stored,
            None => self.decoy().await?,
        };
        self.bounded(move || {
            let parsed =
                PasswordHash::new(&stored).map_err(|err| Error::Corrupt(format!("stored password hash: {err}")))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn decoy(&self) -> Result<String> {
        if let Some(hash) = self.decoy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash("decoy password for unknown accounts".to_owned()).await?;
        Ok(self.decoy.get_or_init(|| hash).clone())
    }
}

fn hash_blocking(password: &str, cost: PasswordHashing) -> Result<String> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|err| Error::Internal(format!("password hashing parameters: {err}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| Error::Internal(format!("hashing password: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let passwords = Passwords::new(PasswordHashing::default());
        let stored = passwords.hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(
            passwords
                .verify("correct horse".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let passwords = Arc::new(Passwords::new(PasswordHashing::MINIMAL));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut hashes = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (passwords, running, most) = (passwords.clone(), running.clone(), most.clone());
            hashes.spawn(async move {
                passwords
                    .bounded(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            });
        }
        while let Some(hash) = hashes.join_next().await {
            hash.unwrap().unwrap();
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let most = most.load(Ordering::SeqCst);
        assert!((1..=cores).contains(&most), "{most} ran at once on {cores} cores");
    }

    #[tokio::test]
    async fn a_hash_keeps_its_cost_when_the_configured_one_changes() {
        let cheap = Passwords::new(PasswordHashing::MINIMAL);
        let stored = cheap.hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{stored}");
        let standard = Passwords::new(PasswordHashing::default());
        assert!(standard.verify("correct horse".into(), Some(stored)).await.unwrap());
    }
}
