//! The operator API on a stopped node's store, opened by the CLI itself: the local operator acts.

use anyhow::Context;
use node::{Admin, Operator};
use protocol::api::{
    AccountRole, AdminUser, AdminUserList, AdminUserQuery, AuditLog, AuditQuery, CreateRegistrationTokenRequest,
    CreateUserRequest, CreatedUser, DeniedNodeList, NodeStats, PasswordResetToken, RegistrationToken,
    RegistrationTokenList,
};

use super::Operations;

const LOCAL: Operator = Operator::Local;

impl Operations for Admin<'_> {
    async fn create_user(&self, request: CreateUserRequest) -> anyhow::Result<CreatedUser> {
        Ok(Admin::create_user(self, &LOCAL, request).await?)
    }

    async fn users(&self, query: AdminUserQuery) -> anyhow::Result<AdminUserList> {
        Ok(Admin::users(self, &query)?)
    }

    async fn user(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(Admin::user(self, user)?)
    }

    async fn suspend(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(Admin::suspend(self, &LOCAL, user).await?)
    }

    async fn unsuspend(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(Admin::unsuspend(self, &LOCAL, user).await?)
    }

    async fn delete_user(&self, user: &str) -> anyhow::Result<()> {
        Ok(Admin::delete_user(self, &LOCAL, user).await?)
    }

    async fn reset_password(&self, user: &str) -> anyhow::Result<PasswordResetToken> {
        Ok(Admin::reset_password(self, &LOCAL, user).await?)
    }

    async fn set_role(&self, user: &str, role: AccountRole) -> anyhow::Result<AdminUser> {
        Ok(Admin::set_role(self, &LOCAL, user, role).await?)
    }

    async fn create_registration_token(
        &self,
        request: CreateRegistrationTokenRequest,
    ) -> anyhow::Result<RegistrationToken> {
        Ok(Admin::create_registration_token(self, &LOCAL, request).await?)
    }

    async fn registration_tokens(&self) -> anyhow::Result<RegistrationTokenList> {
        Ok(Admin::registration_tokens(self)?)
    }

    async fn revoke_registration_token(&self, token: &str) -> anyhow::Result<()> {
        Ok(Admin::revoke_registration_token(self, &LOCAL, token).await?)
    }

    async fn stats(&self) -> anyhow::Result<NodeStats> {
        Ok(Admin::stats(self)?)
    }

    async fn denied_nodes(&self) -> anyhow::Result<DeniedNodeList> {
        Ok(Admin::denied_nodes(self))
    }

    async fn deny_node(&self, peer_id: &str) -> anyhow::Result<DeniedNodeList> {
        let peer = peer_id.parse().context("that is not a libp2p PeerId")?;
        Ok(Admin::deny_node(self, &LOCAL, peer).await?)
    }

    async fn allow_node(&self, peer_id: &str) -> anyhow::Result<DeniedNodeList> {
        let peer = peer_id.parse().context("that is not a libp2p PeerId")?;
        Ok(Admin::allow_node(self, &LOCAL, peer).await?)
    }

    async fn audit(&self, query: AuditQuery) -> anyhow::Result<AuditLog> {
        Ok(Admin::audit(self, &query)?)
    }

    async fn backup(&self, file: &std::path::Path) -> anyhow::Result<u64> {
        Ok(Admin::backup(self, &LOCAL, file.to_owned()).await?.bytes)
    }
}
