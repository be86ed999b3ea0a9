//! The ejabberd side of the workload: accounts, and the XMPP sessions as the workload's outbox and
//! inboxes. A send is a chat message asking for a XEP-0184 receipt; the partner's receipt is the
//! acknowledgement, as `message:delivered` is Parley's.

use crate::ejabberd::Ejabberd;
use crate::pairs::{Inbox, Outbox, Pair};
use crate::parley::CIPHERTEXT_BYTES;
use crate::xmpp::{self, Incoming, XmppInbox, XmppSender};

/// Every bench account's password; the accounts live only in the bench's temporary instance.
const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct XmppAccount {
    username: String,
    jid: String,
}

pub(crate) async fn register(server: &Ejabberd, username: &str) -> Result<XmppAccount, String> {
    xmpp::register(server.addr(), server.domain(), username, PASSWORD).await?;
    Ok(XmppAccount {
        username: username.to_owned(),
        jid: format!("{username}@{}", server.domain()),
    })
}

pub(crate) async fn connect(server: &Ejabberd, account: &XmppAccount) -> Result<(XmppSender, XmppInbox), String> {
    xmpp::connect(server.addr(), server.domain(), &account.username, PASSWORD).await
}

/// Connects a sender and its partner.
pub(crate) async fn pair(
    server: &Ejabberd,
    sender: &XmppAccount,
    receiver: &XmppAccount,
) -> Result<Pair<XmppOutbox, XmppDrain, XmppReceiver>, String> {
    let (outgoing, sender_inbox) = connect(server, sender).await?;
    let (acks, inbox) = connect(server, receiver).await?;
    let bytes: Vec<u8> = (0..CIPHERTEXT_BYTES).map(|b| (b * 31) as u8).collect();
    Ok(Pair {
        outbox: XmppOutbox {
            sender: outgoing,
            to: receiver.jid.clone(),
            body: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
        },
        sender_inbox: XmppDrain { inbox: sender_inbox },
        inbox: XmppReceiver { inbox, acks },
    })
}

pub(crate) struct XmppOutbox {
    sender: XmppSender,
    to: String,
    body: String,
}

impl Outbox for XmppOutbox {
    async fn send(&mut self, id: u64) -> Result<(), String> {
        self.sender.send(&self.to, id, &self.body).await
    }
}

/// The partner's session: messages in, receipts out on its own stream.
pub(crate) struct XmppReceiver {
    inbox: XmppInbox,
    acks: XmppSender,
}

impl Inbox for XmppReceiver {
    /// Whom to send the receipt to, and for which message.
    type Receipt = (String, u64);

    async fn next(&mut self) -> Result<(u64, (String, u64)), String> {
        loop {
            if let Incoming::Message { from, seq } = self.inbox.next().await? {
                return Ok((seq, (from, seq)));
            }
        }
    }

    async fn acknowledge(&mut self, (to, seq): (String, u64)) -> Result<(), String> {
        self.acks.ack(&to, seq).await
    }
}

/// The sender's session, read only so the receipts sent to it are consumed.
pub(crate) struct XmppDrain {
    inbox: XmppInbox,
}

impl Inbox for XmppDrain {
    type Receipt = ();

    async fn next(&mut self) -> Result<(u64, ()), String> {
        loop {
            if let Incoming::Message { seq, .. } = self.inbox.next().await? {
                return Ok((seq, ()));
            }
        }
    }

    async fn acknowledge(&mut self, (): ()) -> Result<(), String> {
        Ok(())
    }
}
