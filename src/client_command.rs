//! The client commands: `parley account register|login|show`, `parley send`, `parley listen` and
//! `parley conversations`. Each runs as one device whose keys, sessions and history live in a profile
//! directory (`--profile`, `PARLEY_PROFILE`, default `./parley-profile`); `--json` prints one JSON
//! object per line for scripts.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use client::{Client, Event, Registration, StoredMessage};
use protocol::api::ConversationKind;
use protocol::{ConversationId, UserId};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub(crate) enum ClientCommand {
    /// Create an account or sign in as a device; its keys are kept in the profile directory.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Send an end-to-end encrypted text to a user (the DM is created if needed).
    Send(SendArgs),
    /// Print this device's messages, decrypted, as they arrive (first the ones it missed).
    Listen(ListenArgs),
    /// List this account's conversations.
    Conversations(ProfileArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum AccountCommand {
    /// Create an account with this profile as its first device.
    Register(RegisterArgs),
    /// Sign in to an existing account with this profile as a device (a new one for a new profile).
    Login(LoginArgs),
    /// Show the profile's account and device.
    Show(ProfileArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ProfileArgs {
    /// Profile directory: this device's keys, sessions and message history (created if missing).
    #[arg(long, env = "PARLEY_PROFILE", default_value = "./parley-profile")]
    profile: PathBuf,

    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// The node to talk to.
#[derive(Args, Debug)]
pub(crate) struct ServerArgs {
    /// The node's base URL (`http://` or `https://`).
    #[arg(long, env = "PARLEY_SERVER")]
    server: String,
    /// A PEM file of certificate authorities to trust besides the system's, for a node with a
    /// self-signed certificate; kept in the profile for later commands.
    #[arg(long, env = "PARLEY_CA_FILE")]
    ca_file: Option<PathBuf>,
}

impl ServerArgs {
    fn server(&self) -> client::Server {
        let server = client::Server::new(self.server.clone());
        match &self.ca_file {
            Some(ca_file) => server.trusting(ca_file),
            None => server,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    common: ProfileArgs,
    #[command(flatten)]
    server: ServerArgs,
    /// The new username.
    #[arg(long)]
    username: String,
    /// The account's email address.
    #[arg(long)]
    email: String,
    /// The account's password (at least 8 characters).
    #[arg(long, env = "PARLEY_PASSWORD", hide_env_values = true)]
    password: String,
    /// A display name shown to others.
    #[arg(long)]
    display_name: Option<String>,
    /// A label for this device.
    #[arg(long)]
    device_name: Option<String>,
    /// The invitation a node that registers by token only asks for (its operator hands them out).
    #[arg(
        long,
        env = "PARLEY_REGISTRATION_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    registration_token: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    common: ProfileArgs,
    #[command(flatten)]
    server: ServerArgs,
    /// Username, email or phone number of the account.
    #[arg(long, alias = "identity")]
    username: String,
    /// The account's password.
    #[arg(long, env = "PARLEY_PASSWORD", hide_env_values = true)]
    password: String,
}

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    common: ProfileArgs,
    /// The recipient's username, `username@node-name` for a user of another node, or the id of a
    /// conversation (a group) this account takes part in.
    username: String,
    /// The text to send.
    text: String,
    /// Send it in the clear instead of end-to-end encrypted, readable by the node: for conversations
    /// with users of apps that do not encrypt (the node's other API dialects).
    #[arg(long)]
    in_the_clear: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    common: ProfileArgs,
    /// Exit after this many messages (default: run until Ctrl-C).
    #[arg(long)]
    count: Option<usize>,
}

pub(crate) fn run(command: ClientCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        match command {
            ClientCommand::Account(AccountCommand::Register(args)) => register(args).await,
            ClientCommand::Account(AccountCommand::Login(args)) => login(args).await,
            ClientCommand::Account(AccountCommand::Show(args)) => show(args),
            ClientCommand::Send(args) => send(args).await,
            ClientCommand::Listen(args) => listen(args).await,
            ClientCommand::Conversations(args) => conversations(args).await,
        }
    })
}

fn open(common: &ProfileArgs) -> anyhow::Result<Client> {
    Client::open(&common.profile).with_context(|| format!("opening the profile {}", common.profile.display()))
}

async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let mut registration = Registration::new(args.username, args.email, args.password);
    registration.display_name = args.display_name;
    registration.device_name = args.device_name;
    registration.registration_token = args.registration_token;
    let client = Client::register(&args.common.profile, args.server.server(), registration)
        .await
        .context("registering")?;
    print_account(&client, args.common.json, "registered");
    Ok(())
}

async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let client = Client::login(
        &args.common.profile,
        args.server.server(),
        &args.username,
        &args.password,
    )
    .await
    .context("logging in")?;
    print_account(&client, args.common.json, "logged in");
    Ok(())
}

fn show(args: ProfileArgs) -> anyhow::Result<()> {
    let client = open(&args)?;
    print_account(&client, args.json, "profile of");
    Ok(())
}

fn print_account(client: &Client, as_json: bool, what: &str) {
    if as_json {
        println!(
            "{}",
            json!({
                "event": "account",
                "server": client.server(),
                "user_id": client.user_id(),
                "username": client.username(),
                "device_id": client.device_id(),
                "identity_key": client.identity_key().to_base64(),
                "profile": client.profile_dir(),
            })
        );
    } else {
        println!(
            "{what} {} on {} (user {}, device {}; profile {})",
            client.username(),
            client.server(),
            client.user_id(),
            client.device_id(),
            client.profile_dir().display()
        );
    }
}

async fn send(args: SendArgs) -> anyhow::Result<()> {
    let client = open(&args.common)?;
    let (conversation, to) = match args.username.parse::<ConversationId>() {
        Ok(id) if client.conversations().await?.iter().any(|c| c.id == id) => (id, "the conversation".to_owned()),
        _ => {
            let peer = client.find_user(&args.username).await?;
            let dm = client.open_dm(peer.id).await.context("opening the DM")?;
            (dm.id, peer.username)
        }
    };
    let sent = if args.in_the_clear {
        eprintln!("warning: sending in the clear; this message is NOT end-to-end encrypted");
        client.send_in_clear(conversation, &args.text).await
    } else {
        client.send(conversation, args.text.as_bytes()).await
    };
    let sent = sent.context("sending")?;
    let message = &sent.message;
    if args.common.json {
        println!(
            "{}",
            json!({
                "event": "sent",
                "conversation_id": message.conversation_id,
                "message_id": message.message_id,
                "sequence_number": message.sequence_number,
                // Sequence number 0: kept by this node for a conversation host that is unreachable now.
                "pending": message.sequence_number == 0,
                "recipient_devices": sent.recipients.len(),
                "skipped_devices": sent.skipped.len(),
                "encrypted": message.encrypted,
            })
        );
    } else if message.sequence_number == 0 {
        println!("queued for {to}: the conversation's host is unreachable now; your node sends it when it is back");
    } else if !message.encrypted {
        println!("sent #{} to {to}, in the clear", message.sequence_number);
    } else {
        println!(
            "sent #{} to {to} ({} device(s){})",
            message.sequence_number,
            sent.recipients.len(),
            if sent.skipped.is_empty() {
                String::new()
            } else {
                format!(", {} without keys skipped", sent.skipped.len())
            }
        );
    }
    Ok(())
}

/// Usernames of the senders seen so far, filled from each new conversation's participants.
struct Names {
    client: Client,
    known: HashMap<UserId, String>,
}

impl Names {
    async fn of(&mut self, conversation: ConversationId, user: UserId) -> Option<String> {
        if !self.known.contains_key(&user)
            && let Ok(participants) = self.client.participants(conversation).await
        {
            for participant in participants {
                if let Some(name) = participant.username {
                    self.known.insert(participant.user_id, name);
                }
            }
        }
        self.known.get(&user).cloned()
    }
}

async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let client = open(&args.common)?;
    let mut names = Names {
        client: client.clone(),
        known: HashMap::from([(client.user_id(), client.username().to_owned())]),
    };
    let mut listener = client.listen();
    let mut printed = 0;
    if args.count == Some(0) {
        return Ok(());
    }
    loop {
        let event = tokio::select! {
            event = listener.next() => event,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Some(event) = event else { break };
        match event {
            Event::Message(message) => {
                let sender = names.of(message.conversation_id, message.sender_id).await;
                print_message(&message, sender.as_deref(), args.common.json);
                printed += 1;
                if args.count.is_some_and(|count| printed >= count) {
                    break;
                }
            }
            Event::Synced { replayed } => {
                if args.common.json {
                    println!("{}", json!({ "event": "synced", "replayed": replayed }));
                } else {
                    eprintln!("(up to date; {replayed} replayed)");
                }
            }
            Event::Rejected {
                message_id,
                conversation_id,
                sender_device_id,
                error,
            } => {
                if args.common.json {
                    println!(
                        "{}",
                        json!({ "event": "rejected", "message_id": message_id, "conversation_id": conversation_id,
                                "sender_device_id": sender_device_id, "error": error.to_string() })
                    );
                } else {
                    eprintln!("could not decrypt message {message_id} from device {sender_device_id}: {error}");
                }
            }
            Event::Disconnected { error, retry_in } => {
                eprintln!("disconnected ({error}); retrying in {retry_in:?}");
            }
            Event::Stopped { error } => {
                return Err(anyhow::Error::new(error).context("listening stopped"));
            }
            _ => {}
        }
    }
    listener.close().await;
    Ok(())
}

fn print_message(message: &StoredMessage, sender: Option<&str>, as_json: bool) {
    if as_json {
        let mut line = json!({
            "event": "message",
            "conversation_id": message.conversation_id,
            "message_id": message.message_id,
            "sequence_number": message.sequence_number,
            "sender_id": message.sender_id,
            "sender_username": sender,
            "sender_device_id": message.sender_device_id,
            "message_type": message.message_type,
            "created_at": message.created_at,
            "encrypted": message.encrypted,
        });
        match message.text() {
            Some(text) => line["text"] = json!(text),
            None => line["plaintext_base64"] = json!(message.plaintext),
        }
        println!("{line}");
    } else {
        let who = sender.map_or_else(|| message.sender_id.to_string(), str::to_owned);
        let body = message
            .text()
            .map_or_else(|| format!("<{} bytes>", message.plaintext.len()), str::to_owned);
        // A message in the clear could be read by the node; its reader should know.
        let warning = if message.encrypted {
            ""
        } else {
            " [NOT end-to-end encrypted]"
        };
        println!(
            "[{}] #{} {who}:{warning} {body}",
            short(&message.conversation_id.to_string()),
            message.sequence_number
        );
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

async fn conversations(args: ProfileArgs) -> anyhow::Result<()> {
    let client = open(&args)?;
    for conversation in client.conversations().await? {
        let others: Vec<String> = client
            .participants(conversation.id)
            .await?
            .into_iter()
            .filter(|p| p.user_id != client.user_id())
            .map(|p| p.username.unwrap_or_else(|| p.user_id.to_string()))
            .collect();
        if args.json {
            println!(
                "{}",
                json!({
                    "event": "conversation",
                    "id": conversation.id,
                    "type": conversation.kind,
                    "subject": conversation.subject,
                    "participants": others,
                    "last_sequence": conversation.last_sequence,
                })
            );
        } else {
            let title = match conversation.kind {
                ConversationKind::Dm => format!("DM with {}", others.join(", ")),
                _ => format!(
                    "{} (with {})",
                    conversation.subject.as_deref().unwrap_or("group"),
                    others.join(", ")
                ),
            };
            println!("{}  {title}  (last #{})", conversation.id, conversation.last_sequence);
        }
    }
    Ok(())
}
