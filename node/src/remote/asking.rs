//! Requests a node makes at another node on behalf of its own users (sending, changing messages,
//! calls, typing): the receiver acts only for users whose home is the asking node, and its refusal
//! travels back so the user gets the answer a local refusal would have given.

use libp2p::PeerId;
use protocol::federation::{Request, Response};
use protocol::{DeviceId, UserId};

use super::users::unavailable;
use super::{Remote, homes};
use crate::federation::{Destination, error_response as error};
use crate::storage::Store;
use crate::{Actor, Error, Result};

impl Remote {
    /// Sends a request made for one of this node's users to the node `to` and reads the answer with
    /// `expect` (which hands back, boxed, any answer it does not want); the node's refusal becomes the
    /// error a local refusal would have been.
    pub(crate) async fn ask_for_user<T>(
        &self,
        to: &Destination,
        request: Request,
        expect: impl FnOnce(Response) -> std::result::Result<T, Box<Response>>,
    ) -> Result<T> {
        let answer = self
            .require_network()?
            .request(to.peer, request)
            .await
            .map_err(unavailable)?;
        match answer {
            Response::Error { code, message } => Err(refused_by(to.node.as_str(), &code, message)),
            other => expect(other).map_err(|other| Error::Unavailable(format!("{} answered {other:?}", to.node))),
        }
    }
}

/// A node speaks only for its own users: `peer` must be `user`'s home node.
pub(crate) fn speaks_for(store: &Store, peer: PeerId, user: UserId) -> Result<()> {
    match homes::get(store, user)? {
        Some(home) if home.peer_id == peer => Ok(()),
        _ => Err(Error::forbidden("a node may only speak for its own users")),
    }
}

/// The actor for a request `peer` makes for one of its users' devices; it holds no session here.
pub(crate) fn acting_for(store: &Store, peer: PeerId, user: UserId, device: DeviceId) -> Result<Actor> {
    speaks_for(store, peer, user)?;
    Ok(Actor::without_session(user, device))
}

/// How a refusal reaches the asking node: a stable code and the reason.
pub(crate) fn refusal(err: &Error) -> Response {
    match err {
        Error::Invalid { field, reason } => error("invalid", &format!("{field}: {reason}")),
        Error::NotFound(what) => error("not_found", what),
        Error::Forbidden(why) => error("forbidden", why),
        Error::Conflict(why) => error("conflict", why),
        Error::Storage(_) | Error::Corrupt(_) | Error::Internal(_) => {
            tracing::error!(error = %err, "a request from another node failed");
            error("internal", "the node could not carry out the request; retry later")
        }
        other => error("unavailable", &other.to_string()),
    }
}

/// What can be not found, so a remote "not found" reads as the local one.
const FINDABLE: &[&str] = &[
    "conversation",
    "message",
    "call",
    "call participant",
    "participant",
    "reaction",
    "user",
    "device",
];

/// Turns another node's refusal back into the error a local refusal would have been.
fn refused_by(node: &str, code: &str, message: String) -> Error {
    match code {
        "invalid" => match message.split_once(": ") {
            Some((field, reason)) => Error::invalid(field, reason),
            None => Error::invalid("request", message),
        },
        "not_found" => Error::NotFound(
            FINDABLE
                .iter()
                .find(|what| **what == message)
                .copied()
                .unwrap_or("resource"),
        ),
        "forbidden" => Error::forbidden(message),
        "conflict" => Error::Conflict(message),
        _ => Error::Unavailable(format!("node {node} could not carry out the request: {message}")),
    }
}
