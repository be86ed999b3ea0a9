//! The operator API of a node (`/v1/admin`), for tools that manage a node: `parley admin` uses it
//! against a running node. The token is an operator account's access token, or the local operator
//! token the node writes to its data directory.

use protocol::api::{
    AccountRole, AdminUser, AdminUserList, AuditLog, CreateRegistrationTokenRequest, CreateUserRequest, CreatedUser,
    DeniedNodeList, NodeStats, PasswordResetToken, RegistrationToken, RegistrationTokenList, SetRoleRequest,
};
use reqwest::Method;

use crate::error::Result;
use crate::http::{Http, Server};

/// A node's operator API, authenticated.
#[derive(Clone)]
pub struct Operator {
    http: Http,
    token: String,
}

impl Operator {
    /// The operator API of the node at `server`, authenticated by `token`.
    pub fn new(server: impl Into<Server>, token: impl Into<String>) -> Result<Self> {
        Ok(Self {
            http: Http::new(&server.into())?,
            token: token.into(),
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn crate::http::ErasedBody>,
    ) -> Result<T> {
        self.http
            .call(method, &format!("/admin{path}"), query, body, Some(&self.token))
            .await
    }

    /// Creates an account whatever the registration mode.
    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<CreatedUser> {
        self.call(Method::POST, "/users", &[], Some(request)).await
    }

    /// A page of accounts whose username starts with `query` (all when `None`).
    pub async fn users(&self, query: Option<&str>, limit: Option<u32>, cursor: Option<&str>) -> Result<AdminUserList> {
        let mut params = Vec::new();
        if let Some(query) = query {
            params.push(("query", query.to_owned()));
        }
        if let Some(limit) = limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_owned()));
        }
        self.call(Method::GET, "/users", &params, None).await
    }

    /// One account, by id or username.
    pub async fn user(&self, user: &str) -> Result<AdminUser> {
        self.call(Method::GET, &user_path(user, ""), &[], None).await
    }

    /// Suspends an account: its sessions end and its logins are refused.
    pub async fn suspend(&self, user: &str) -> Result<AdminUser> {
        self.call(Method::POST, &user_path(user, "/suspend"), &[], None).await
    }

    /// Lets a suspended account in again.
    pub async fn unsuspend(&self, user: &str) -> Result<AdminUser> {
        self.call(Method::POST, &user_path(user, "/unsuspend"), &[], None).await
    }

    /// Gives an account a role.
    pub async fn set_role(&self, user: &str, role: AccountRole) -> Result<AdminUser> {
        let body = SetRoleRequest { role };
        self.call(Method::POST, &user_path(user, "/role"), &[], Some(&body))
            .await
    }

    /// Deletes an account and everything it owns on the node.
    pub async fn delete_user(&self, user: &str) -> Result<()> {
        self.call(Method::DELETE, &user_path(user, ""), &[], None).await
    }

    /// Issues a password-reset token for an account.
    pub async fn reset_password(&self, user: &str) -> Result<PasswordResetToken> {
        self.call(Method::POST, &user_path(user, "/password-reset"), &[], None)
            .await
    }

    /// Makes a registration token.
    pub async fn create_registration_token(
        &self,
        request: &CreateRegistrationTokenRequest,
    ) -> Result<RegistrationToken> {
        self.call(Method::POST, "/registration-tokens", &[], Some(request))
            .await
    }

    /// Every registration token.
    pub async fn registration_tokens(&self) -> Result<RegistrationTokenList> {
        self.call(Method::GET, "/registration-tokens", &[], None).await
    }

    /// Revokes a registration token.
    pub async fn revoke_registration_token(&self, token: &str) -> Result<()> {
        let path = format!("/registration-tokens/{}", segment(token));
        self.call(Method::DELETE, &path, &[], None).await
    }

    /// What the node stores and holds open.
    pub async fn stats(&self) -> Result<NodeStats> {
        self.call(Method::GET, "/stats", &[], None).await
    }

    /// The nodes whose traffic the node refuses.
    pub async fn denied_nodes(&self) -> Result<DeniedNodeList> {
        self.call(Method::GET, "/federation/denied", &[], None).await
    }

    /// Refuses a node's traffic (by PeerId).
    pub async fn deny_node(&self, peer_id: &str) -> Result<DeniedNodeList> {
        let path = format!("/federation/denied/{}", segment(peer_id));
        self.call(Method::PUT, &path, &[], None).await
    }

    /// Accepts a denied node's traffic again.
    pub async fn allow_node(&self, peer_id: &str) -> Result<DeniedNodeList> {
        let path = format!("/federation/denied/{}", segment(peer_id));
        self.call(Method::DELETE, &path, &[], None).await
    }

    /// A page of the audit log, newest first.
    pub async fn audit(&self, limit: Option<u32>, cursor: Option<&str>) -> Result<AuditLog> {
        let mut params = Vec::new();
        if let Some(limit) = limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_owned()));
        }
        self.call(Method::GET, "/audit", &params, None).await
    }
}

impl Operator {
    /// Saves a backup of the node into a new file at `out`; its size in bytes.
    pub async fn backup(&self, out: &std::path::Path) -> Result<u64> {
        self.http.download("/admin/backup", &self.token, out).await
    }
}

fn user_path(user: &str, rest: &str) -> String {
    format!("/users/{}{rest}", segment(user))
}

/// A path segment, percent-encoded so a name cannot reach another route.
fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
