//! Registration tokens, after Synapse's: on a node that registers by invitation, each new account
//! spends one use of a token an operator made, with an optional use count and expiry.

use chrono::Utc;
use protocol::api::{CreateRegistrationTokenRequest, RegistrationToken, RegistrationTokenList, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Admin, Operator};
use crate::auth::tokens;
use crate::storage::{Store, decode, encode};
use crate::{Error, Result};

/// Longest token an operator may choose.
const MAX_TOKEN_LEN: usize = 64;
/// Tokens a node keeps; revoke spent ones to make more.
const MAX_TOKENS: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    uses_allowed: Option<u32>,
    completed: u32,
    expires_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl TokenRecord {
    /// Why a registration may not use it now, if it may not.
    fn refusal(&self, now: Timestamp) -> Option<&'static str> {
        if self.expires_at.is_some_and(|at| at <= now) {
            Some("registration_token has expired")
        } else if self.uses_allowed.is_some_and(|allowed| self.completed >= allowed) {
            Some("registration_token has been used up")
        } else {
            None
        }
    }

    fn view(&self, token: String, now: Timestamp) -> RegistrationToken {
        RegistrationToken {
            token,
            uses_allowed: self.uses_allowed,
            completed: self.completed,
            expires_at: self.expires_at,
            created_at: self.created_at,
            valid: self.refusal(now).is_none(),
        }
    }
}

/// Spends one use of `token` for a registration. The caller holds the accounts lock, so two
/// registrations never both take a token's last use, and commits with the account it creates.
pub(crate) fn spend(store: &Store, token: &str) -> Result<()> {
    let tree = &store.trees.regtoken_token;
    loop {
        let Some(bytes) = tree.get(token.as_bytes())? else {
            return Err(Error::forbidden("registration_token is not valid on this node"));
        };
        let mut record: TokenRecord = decode(&bytes)?;
        if let Some(refusal) = record.refusal(Utc::now()) {
            return Err(Error::forbidden(refusal));
        }
        record.completed += 1;
        // A compare-and-swap, so a token revoked meanwhile is not written back.
        if tree
            .compare_and_swap(token.as_bytes(), Some(bytes), Some(encode(&record)))?
            .is_ok()
        {
            return Ok(());
        }
    }
}

fn check_token(token: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-');
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !token.chars().all(allowed) {
        return Err(Error::invalid(
            "token",
            format!("must be 1 to {MAX_TOKEN_LEN} letters, digits, '.', '_', '~' or '-'"),
        ));
    }
    Ok(())
}

impl Admin<'_> {
    /// Makes a registration token.
    pub async fn create_registration_token(
        &self,
        operator: &Operator,
        request: CreateRegistrationTokenRequest,
    ) -> Result<RegistrationToken> {
        let token = match request.token {
            Some(token) => {
                check_token(&token)?;
                token
            }
            None => tokens::opaque(),
        };
        if request.uses_allowed == Some(0) {
            return Err(Error::invalid("uses_allowed", "must be at least 1"));
        }
        let now = Utc::now();
        if request.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::invalid("expires_at", "must be in the future"));
        }
        let tree = &self.services.store.trees.regtoken_token;
        if tree.len() >= MAX_TOKENS {
            return Err(Error::Conflict(format!(
                "this node keeps at most {MAX_TOKENS} registration tokens; revoke some first"
            )));
        }
        let record = TokenRecord {
            uses_allowed: request.uses_allowed,
            completed: 0,
            expires_at: request.expires_at,
            created_at: now,
        };
        let created = tree.compare_and_swap(token.as_bytes(), None::<&[u8]>, Some(encode(&record)))?;
        if created.is_err() {
            return Err(Error::Conflict("that registration token already exists".into()));
        }
        self.record(operator, "create-registration-token", &format!("token:{token}"))
            .await?;
        Ok(record.view(token, now))
    }

    /// Every registration token, newest first.
    pub fn registration_tokens(&self) -> Result<RegistrationTokenList> {
        let now = Utc::now();
        let mut tokens = Vec::new();
        for item in self.services.store.trees.regtoken_token.iter() {
            let (key, value) = item?;
            let record: TokenRecord = decode(&value)?;
            tokens.push(record.view(String::from_utf8_lossy(&key).into_owned(), now));
        }
        tokens.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.token.cmp(&b.token)));
        Ok(RegistrationTokenList { tokens })
    }

    /// Deletes a registration token: no registration may use it any more.
    pub async fn revoke_registration_token(&self, operator: &Operator, token: &str) -> Result<()> {
        if self
            .services
            .store
            .trees
            .regtoken_token
            .remove(token.as_bytes())?
            .is_none()
        {
            return Err(Error::NotFound("registration token"));
        }
        self.record(operator, "revoke-registration-token", &format!("token:{token}"))
            .await
    }
}
