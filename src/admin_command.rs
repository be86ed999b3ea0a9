//! `parley admin`: the operator's CLI. Against a running node it calls the operator API, as the local
//! operator (the token the node wrote to its data dir) or as an operator account (`--token`); against
//! a stopped node it opens the data dir's store itself. Answers print as JSON.

mod offline;
mod online;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use node::{Config, Services};
use protocol::api::{AccountRole, AdminUserQuery, AuditQuery, CreateRegistrationTokenRequest, CreateUserRequest};
use serde_json::{Value, json};

use crate::node_command::NODE_URL_FILE;

#[derive(Args, Debug)]
pub(crate) struct AdminArgs {
    /// The node's data directory: opened directly when the node is stopped; when it runs, the
    /// operator token and URL the node wrote there are used.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// The running node's API (default: the URL it wrote to its data dir, else http://127.0.0.1:8080).
    #[arg(long, env = "PARLEY_URL")]
    url: Option<String>,

    /// A PEM file of certificate authorities to trust besides the system's, for a node serving
    /// HTTPS with a self-signed certificate.
    #[arg(long, env = "PARLEY_CA_FILE")]
    ca_file: Option<PathBuf>,

    /// An operator account's access token: act as that account on the node at `--url`, from any
    /// machine, instead of as the local operator.
    #[arg(
        long,
        env = "PARLEY_OPERATOR_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    token: Option<String>,

    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Create an account, whatever the registration mode. Without --password, prints a reset token
    /// the user sets a password with.
    CreateUser {
        /// The username.
        username: String,
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// Its password (at least 8 characters).
        #[arg(long, env = "PARLEY_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Its display name.
        #[arg(long)]
        display_name: Option<String>,
        /// Make it an operator.
        #[arg(long)]
        operator: bool,
    },
    /// List accounts (with devices and last activity), or those whose username starts with --query.
    Users {
        /// A username prefix.
        #[arg(long)]
        query: Option<String>,
        /// Accounts per page (at most 100).
        #[arg(long)]
        limit: Option<u32>,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one account, by username or id.
    User {
        /// Username or id.
        user: String,
    },
    /// Suspend an account: its sessions end, its sockets close, its logins are refused.
    Suspend {
        /// Username or id.
        user: String,
    },
    /// Let a suspended account log in again.
    Unsuspend {
        /// Username or id.
        user: String,
    },
    /// Delete an account with its devices, keys, message copies and files.
    DeleteUser {
        /// Username or id.
        user: String,
    },
    /// Issue a password-reset token for an account (its sessions end); prints the token.
    ResetPassword {
        /// Username or id.
        user: String,
    },
    /// Make an account an operator, or an ordinary account again.
    SetRole {
        /// Username or id.
        user: String,
        /// The new role.
        role: RoleArg,
    },
    /// Registration tokens, for nodes started with `--registration token`.
    #[command(subcommand)]
    RegistrationToken(TokenAction),
    /// What the node stores and holds open.
    Stats,
    /// The other nodes whose traffic is refused.
    DeniedNodes,
    /// Refuse another node's traffic from now on (by PeerId).
    DenyNode {
        /// The node's PeerId.
        peer_id: String,
    },
    /// Accept a denied node's traffic again.
    AllowNode {
        /// The node's PeerId.
        peer_id: String,
    },
    /// Save a consistent backup of the node (store, keys, files) to a new file; writes wait while it
    /// is taken. Keep it private: it holds the node's keys.
    Backup {
        /// Where to write it (must not exist).
        file: PathBuf,
    },
    /// Restore a backup into the data dir, which must hold no node (run with the node stopped).
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Operator actions, newest first.
    Audit {
        /// Entries per page (at most 200).
        #[arg(long)]
        limit: Option<u32>,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Make a token; prints it.
    Create {
        /// The token (random when absent).
        #[arg(long, allow_hyphen_values = true)]
        token: Option<String>,
        /// How many accounts it may register (unlimited when absent).
        #[arg(long)]
        uses: Option<u32>,
        /// Seconds until it expires (never when absent).
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Every token, with its uses.
    List,
    /// Revoke a token.
    Revoke {
        /// The token. Generated tokens may begin with `-`, which is taken as the token, not a flag.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RoleArg {
    User,
    Operator,
}

pub(crate) fn run(args: AdminArgs) -> anyhow::Result<()> {
    if let Action::Restore { file } = &args.action {
        // Into a data dir with no node: nothing to talk to, nothing to open.
        let restored = node::restore(file, &args.data_dir)
            .with_context(|| format!("restoring {} into {}", file.display(), args.data_dir.display()))?;
        return print(&Value::String(format!(
            "restored {} keys and {} files into {}",
            restored.keys,
            restored.files,
            args.data_dir.display()
        )));
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let output = runtime.block_on(async {
        match connect(&args)? {
            Target::Online(operator) => perform(&operator, args.action).await,
            Target::Offline(services) => {
                let output = perform(&services.admin(), args.action).await;
                services.flush().context("flushing the store")?;
                output
            }
        }
    })?;
    print(&output)
}

/// A line as it is, anything else as pretty JSON.
fn print(output: &Value) -> anyhow::Result<()> {
    let text = match output {
        Value::String(line) => line.clone(),
        value => serde_json::to_string_pretty(value)?,
    };
    use std::io::Write;
    match writeln!(std::io::stdout(), "{text}") {
        // A reader that stopped early (`| head`) has what it wanted.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

enum Target {
    Online(client::Operator),
    Offline(Box<Services>),
}

/// The running node's API when it runs (its store is locked), else its store.
fn connect(args: &AdminArgs) -> anyhow::Result<Target> {
    let url = || {
        let server = client::Server::new(args.url.clone().unwrap_or_else(|| recorded_url(&args.data_dir)));
        match &args.ca_file {
            Some(ca_file) => server.trusting(ca_file),
            None => server,
        }
    };
    if let Some(token) = &args.token {
        return Ok(Target::Online(client::Operator::new(url(), token.clone())?));
    }
    if !args.data_dir.join("db").is_dir() {
        bail!(
            "{} holds no node's store: name the data dir with --data-dir (or PARLEY_DATA_DIR), or an \
             operator account's token with --token",
            args.data_dir.display()
        );
    }
    match Services::open(Config::new(&args.data_dir)) {
        Ok(services) => Ok(Target::Offline(Box::new(services))),
        Err(node::Error::InUse(_)) => {
            let path = args.data_dir.join(node::OPERATOR_TOKEN_FILE);
            let token = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "the node is running, but its operator token could not be read from {}",
                    path.display()
                )
            })?;
            Ok(Target::Online(client::Operator::new(url(), token.trim().to_owned())?))
        }
        Err(err) => Err(err).with_context(|| format!("opening the data dir {}", args.data_dir.display())),
    }
}

fn recorded_url(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(NODE_URL_FILE))
        .map(|url| url.trim().to_owned())
        .unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned())
}

async fn perform(ops: &impl Operations, action: Action) -> anyhow::Result<Value> {
    Ok(match action {
        Action::CreateUser {
            username,
            email,
            password,
            display_name,
            operator,
        } => {
            let request = CreateUserRequest {
                username,
                email,
                password,
                display_name,
                role: if operator {
                    AccountRole::Operator
                } else {
                    AccountRole::User
                },
            };
            json!(ops.create_user(request).await?)
        }
        Action::Users { query, limit, cursor } => json!(ops.users(AdminUserQuery { query, limit, cursor }).await?),
        Action::User { user } => json!(ops.user(&user).await?),
        Action::Suspend { user } => json!(ops.suspend(&user).await?),
        Action::Unsuspend { user } => json!(ops.unsuspend(&user).await?),
        Action::DeleteUser { user } => {
            ops.delete_user(&user).await?;
            Value::String(format!("deleted {user}"))
        }
        Action::ResetPassword { user } => json!(ops.reset_password(&user).await?),
        Action::SetRole { user, role } => {
            let role = match role {
                RoleArg::User => AccountRole::User,
                RoleArg::Operator => AccountRole::Operator,
            };
            json!(ops.set_role(&user, role).await?)
        }
        Action::RegistrationToken(TokenAction::Create {
            token,
            uses,
            expires_in,
        }) => {
            let expires_at = expires_in
                .map(|seconds| {
                    i64::try_from(seconds)
                        .ok()
                        .and_then(chrono::TimeDelta::try_seconds)
                        .and_then(|delta| Utc::now().checked_add_signed(delta))
                        .context("--expires-in is too far away")
                })
                .transpose()?;
            let request = CreateRegistrationTokenRequest {
                token,
                uses_allowed: uses,
                expires_at,
            };
            json!(ops.create_registration_token(request).await?)
        }
        Action::RegistrationToken(TokenAction::List) => json!(ops.registration_tokens().await?),
        Action::RegistrationToken(TokenAction::Revoke { token }) => {
            ops.revoke_registration_token(&token).await?;
            Value::String(format!("revoked {token}"))
        }
        Action::Stats => json!(ops.stats().await?),
        Action::DeniedNodes => json!(ops.denied_nodes().await?),
        Action::DenyNode { peer_id } => json!(ops.deny_node(&peer_id).await?),
        Action::AllowNode { peer_id } => json!(ops.allow_node(&peer_id).await?),
        Action::Audit { limit, cursor } => json!(ops.audit(AuditQuery { limit, cursor }).await?),
        Action::Backup { file } => {
            let bytes = ops.backup(&file).await?;
            Value::String(format!("wrote {} ({bytes} bytes)", file.display()))
        }
        Action::Restore { .. } => unreachable!("restored before connecting"),
    })
}

/// The operator API, whether over HTTP or on the opened store.
trait Operations {
    async fn create_user(&self, request: CreateUserRequest) -> anyhow::Result<protocol::api::CreatedUser>;
    async fn users(&self, query: AdminUserQuery) -> anyhow::Result<protocol::api::AdminUserList>;
    async fn user(&self, user: &str) -> anyhow::Result<protocol::api::AdminUser>;
    async fn suspend(&self, user: &str) -> anyhow::Result<protocol::api::AdminUser>;
    async fn unsuspend(&self, user: &str) -> anyhow::Result<protocol::api::AdminUser>;
    async fn delete_user(&self, user: &str) -> anyhow::Result<()>;
    async fn reset_password(&self, user: &str) -> anyhow::Result<protocol::api::PasswordResetToken>;
    async fn set_role(&self, user: &str, role: AccountRole) -> anyhow::Result<protocol::api::AdminUser>;
    async fn create_registration_token(
        &self,
        request: CreateRegistrationTokenRequest,
    ) -> anyhow::Result<protocol::api::RegistrationToken>;
    async fn registration_tokens(&self) -> anyhow::Result<protocol::api::RegistrationTokenList>;
    async fn revoke_registration_token(&self, token: &str) -> anyhow::Result<()>;
    async fn stats(&self) -> anyhow::Result<protocol::api::NodeStats>;
    async fn denied_nodes(&self) -> anyhow::Result<protocol::api::DeniedNodeList>;
    async fn deny_node(&self, peer_id: &str) -> anyhow::Result<protocol::api::DeniedNodeList>;
    async fn allow_node(&self, peer_id: &str) -> anyhow::Result<protocol::api::DeniedNodeList>;
    async fn audit(&self, query: AuditQuery) -> anyhow::Result<protocol::api::AuditLog>;
    /// Writes a backup to a new file; its size.
    async fn backup(&self, file: &Path) -> anyhow::Result<u64>;
}
