//! What a node's operators do to it: make and manage accounts, hand out registration tokens, watch
//! its numbers and refuse other nodes. An operator is an account with the operator role, or whoever
//! can read the node's data directory (the `parley admin` CLI on the node's machine: it presents the
//! token the node writes there at start, or opens a stopped node's store itself). Every action is
//! logged and kept in the store with who did it.

mod accounts;
mod audit;
mod backup;
mod denied_nodes;
mod local;
pub(crate) mod registration_tokens;
mod stats;

use std::fmt;

use protocol::UserId;
use protocol::api::AccountRole;

pub use self::backup::{BackupSummary, restore};
pub(crate) use self::denied_nodes::load as load_denied_nodes;
pub(crate) use self::local::LocalOperatorKey;
pub use self::local::OPERATOR_TOKEN_FILE;
use crate::users::records::get_user;
use crate::{Actor, Error, Result, Services};

/// Who performs an operator action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// The CLI on the node's machine, which proved it can read the data directory.
    Local,
    /// An account with the operator role.
    User {
        /// The account.
        id: UserId,
        /// Its username when it acted, for the audit log.
        username: String,
    },
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::User { username, .. } => write!(f, "user:{username}"),
        }
    }
}

/// The operator API over a node's services; `Services::admin` hands one out.
pub struct Admin<'a> {
    services: &'a Services,
}

impl<'a> Admin<'a> {
    pub(crate) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// The operator behind an authenticated request; everyone else is refused.
    pub fn operator(&self, actor: &Actor) -> Result<Operator> {
        match get_user(&self.services.store, actor.user_id)? {
            Some(user) if user.role == AccountRole::Operator && user.suspended_at.is_none() => Ok(Operator::User {
                id: user.id,
                username: user.username,
            }),
            _ => Err(Error::forbidden("only the node's operators may do this")),
        }
    }

    /// Whether `token` is the one the node wrote to its data directory at start.
    pub fn is_local_operator(&self, token: &str) -> bool {
        self.services.operator_key.matches(token)
    }

    /// Logs an operator action and keeps it in the audit log.
    async fn record(&self, operator: &Operator, action: &str, target: &str) -> Result<()> {
        tracing::info!(%operator, action, target, "operator action");
        audit::append(&self.services.store, operator, action, target)?;
        self.services.store.commit().await
    }
}
