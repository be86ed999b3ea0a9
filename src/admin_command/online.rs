//! The operator API over HTTP, for a running node.

use protocol::api::{
    AccountRole, AdminUser, AdminUserList, AdminUserQuery, AuditLog, AuditQuery, CreateRegistrationTokenRequest,
    CreateUserRequest, CreatedUser, DeniedNodeList, NodeStats, PasswordResetToken, RegistrationToken,
    RegistrationTokenList,
};

use super::Operations;

impl Operations for client::Operator {
    async fn create_user(&self, request: CreateUserRequest) -> anyhow::Result<CreatedUser> {
        Ok(client::Operator::create_user(self, &request).await?)
    }

    async fn users(&self, query: AdminUserQuery) -> anyhow::Result<AdminUserList> {
        let AdminUserQuery { query, limit, cursor } = query;
        Ok(client::Operator::users(self, query.as_deref(), limit, cursor.as_deref()).await?)
    }

    async fn user(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(client::Operator::user(self, user).await?)
    }

    async fn suspend(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(client::Operator::suspend(self, user).await?)
    }

    async fn unsuspend(&self, user: &str) -> anyhow::Result<AdminUser> {
        Ok(client::Operator::unsuspend(self, user).await?)
    }

    async fn delete_user(&self, user: &str) -> anyhow::Result<()> {
        Ok(client::Operator::delete_user(self, user).await?)
    }

    async fn reset_password(&self, user: &str) -> anyhow::Result<PasswordResetToken> {
        Ok(client::Operator::reset_password(self, user).await?)
    }

    async fn set_role(&self, user: &str, role: AccountRole) -> anyhow::Result<AdminUser> {
        Ok(client::Operator::set_role(self, user, role).await?)
    }

    async fn create_registration_token(
        &self,
        request: CreateRegistrationTokenRequest,
    ) -> anyhow::Result<RegistrationToken> {
        Ok(client::Operator::create_registration_token(self, &request).await?)
    }

    async fn registration_tokens(&self) -> anyhow::Result<RegistrationTokenList> {
        Ok(client::Operator::registration_tokens(self).await?)
    }

    async fn revoke_registration_token(&self, token: &str) -> anyhow::Result<()> {
        Ok(client::Operator::revoke_registration_token(self, token).await?)
    }

    async fn stats(&self) -> anyhow::Result<NodeStats> {
        Ok(client::Operator::stats(self).await?)
    }

    async fn denied_nodes(&self) -> anyhow::Result<DeniedNodeList> {
        Ok(client::Operator::denied_nodes(self).await?)
    }

    async fn deny_node(&self, peer_id: &str) -> anyhow::Result<DeniedNodeList> {
        Ok(client::Operator::deny_node(self, peer_id).await?)
    }

    async fn allow_node(&self, peer_id: &str) -> anyhow::Result<DeniedNodeList> {
        Ok(client::Operator::allow_node(self, peer_id).await?)
    }

    async fn audit(&self, query: AuditQuery) -> anyhow::Result<AuditLog> {
        Ok(client::Operator::audit(self, query.limit, query.cursor.as_deref()).await?)
    }

    async fn backup(&self, file: &std::path::Path) -> anyhow::Result<u64> {
        Ok(client::Operator::backup(self, file).await?)
    }
}
