//! The login's tokens: every authenticated request carries the access token, and an expired one is
//! refreshed once (through `account.json`, shared with every other holder of the profile) before the
//! request is retried.

use protocol::api::{RefreshRequest, TokenPair};
use reqwest::Method;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::Client;
use crate::error::{Error, Result};
use crate::http::ErasedBody;
use crate::profile::{ACCOUNT, AccountFile, Tokens};

impl Client {
    fn access_token(&self) -> Result<Zeroizing<String>> {
        let tokens = self
            .inner
            .tokens
            .read()
            .map_err(|_| Error::profile("token lock poisoned"))?;
        Ok(Zeroizing::new(tokens.access_token.clone()))
    }

    /// An authenticated request; an expired access token is refreshed once and the request retried.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn ErasedBody>,
    ) -> Result<T> {
        let token = self.access_token()?;
        match self
            .inner
            .http
            .call(method.clone(), path, query, body, Some(&token))
            .await
        {
            Err(err) if err.is_status(401) => {
                self.refresh(&token).await?;
                let token = self.access_token()?;
                self.inner.http.call(method, path, query, body, Some(&token)).await
            }
            other => other,
        }
    }

    /// Exchanges the refresh token for a new pair, unless another holder of the profile (a clone or
    /// another process) already did: refresh tokens are single use, and presenting a spent one makes
    /// the node revoke the session.
    pub(crate) async fn refresh(&self, used: &str) -> Result<()> {
        let _guard = self.inner.profile.lock_account().await?;
        let mut account: AccountFile = self
            .inner
            .profile
            .read_json(ACCOUNT)?
            .ok_or_else(|| Error::profile("account.json disappeared"))?;
        let stored = account
            .tokens
            .clone()
            .ok_or_else(|| Error::profile("signed out; log in again"))?;
        if stored.access_token != used {
            *self
                .inner
                .tokens
                .write()
                .map_err(|_| Error::profile("token lock poisoned"))? = stored;
            return Ok(());
        }
        let request = RefreshRequest {
            session_id: stored.session_id,
            refresh_token: stored.refresh_token.clone(),
        };
        let pair: TokenPair = self
            .inner
            .http
            .call(Method::POST, "/auth/refresh", &[], Some(&request), None)
            .await?;
        let tokens = Tokens {
            session_id: stored.session_id,
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.clone(),
        };
        account.tokens = Some(tokens.clone());
        self.inner.profile.write_json(ACCOUNT, &account)?;
        *self
            .inner
            .tokens
            .write()
            .map_err(|_| Error::profile("token lock poisoned"))? = tokens;
        Ok(())
    }

    pub(crate) fn websocket_connector(&self) -> Option<tokio_tungstenite::Connector> {
        self.inner.http.websocket_connector()
    }

    pub(crate) async fn websocket_url(&self) -> Result<(String, Zeroizing<String>)> {
        let token = self.access_token()?;
        Ok((self.inner.http.ws_url(&token), token))
    }
}
