//! Access tokens are HS256 JWTs signed with a secret kept in the data dir; refresh and reset tokens are
//! random strings of which only a SHA-256 hash is stored, so a copy of the database cannot be replayed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use protocol::{DeviceId, SessionId, UserId};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

const SECRET_FILE: &str = "token.secret";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: UserId,
    pub(crate) sid: SessionId,
    pub(crate) did: DeviceId,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
}

/// Tokens whose signature was checked, remembered so a client's every request does not check its
/// token again (3 % of the node's CPU time under the messaging benchmark of docs/PERFORMANCE.md).
/// Bounded: emptied when full.
const VERIFIED_CAPACITY: usize = 4096;

pub(crate) struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: Mutex<HashMap<Box<str>, Claims>>,
}

impl Tokens {
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self> {
        let secret = crate::storage::read_or_create_secret(&dir.join(SECRET_FILE), || random_bytes(32))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            verified: Mutex::default(),
        })
    }

    pub(crate) fn issue(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|err| Error::Internal(format!("signing token: {err}")))
    }

    /// The claims of a token signed with this node's secret and not yet expired. The session it names
    /// may since have ended: callers check that in the store.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.verified().get(token) {
            // As the full check below: expired once `exp` has passed (no leeway).
            if claims.exp >= now {
                return Ok(claims.clone());
            }
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Error::Unauthorized("access token expired"),
                _ => Error::Unauthorized("invalid access token"),
            })?;
        let mut verified = self.verified();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh opaque token: 32 random bytes, URL-safe base64.
pub(crate) fn opaque() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_offset: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: UserId::random(),
            sid: SessionId::random(),
            did: DeviceId::random(),
            iat: now,
            exp: now + exp_offset,
        }
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::load_or_create(dir.path()).unwrap();
        let fresh = tokens.issue(&claims(60)).unwrap();
        assert!(tokens.verify(&fresh).is_ok());
        let stale = tokens.issue(&claims(-1)).unwrap();
        assert!(matches!(
            tokens.verify(&stale),
            Err(Error::Unauthorized("access token expired"))
        ));
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::load_or_create(dir.path()).unwrap();
        let token = tokens.issue(&claims(1)).unwrap();
        assert!(tokens.verify(&token).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(matches!(
            tokens.verify(&token),
            Err(Error::Unauthorized("access token expired"))
        ));
    }

    #[test]
    fn a_token_from_another_node_is_refused() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let token = Tokens::load_or_create(a.path()).unwrap().issue(&claims(60)).unwrap();
        assert!(Tokens::load_or_create(b.path()).unwrap().verify(&token).is_err());
    }

    #[test]
    fn opaque_tokens_differ_and_digest_stably() {
        assert_ne!(opaque(), opaque());
        assert_eq!(digest("x"), digest("x"));
    }
}
