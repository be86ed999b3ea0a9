//! Answers to requests from other nodes. Every input is untrusted: it is validated here, and errors
//! reach the peer as a coded `Response::Error`, never as a panic or an internal detail.

use libp2p::PeerId;
use protocol::federation::{RemoteDevice, RemoteUser, Request, Response};

use protocol::UserId;

use crate::{Error, Services, users, validate};

pub(crate) fn error(code: &str, message: &str) -> Response {
    Response::Error {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

pub(crate) async fn answer(services: &Services, peer: PeerId, request: Request) -> Response {
    match request {
        Request::ClaimBundle { user_id, device_id } => match services.keys.bundle_for_peer(user_id, device_id).await {
            Ok(bundle) => Response::Bundle(bundle),
            Err(Error::NotFound(_)) => Response::NotFound,
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering ClaimBundle failed");
                error("internal", "the node could not answer")
            }
        },
        Request::ResolveUser { username } => match resolve_user(services, &username) {
            Ok(Some(user)) => Response::User(user),
            Ok(None) => Response::NotFound,
            Err(Error::Invalid { reason, .. }) => error("bad_request", &format!("username: {reason}")),
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering ResolveUser failed");
                error("internal", "the node could not answer")
            }
        },
        Request::FetchUser { user_id } => match fetch_user(services, user_id) {
            Ok(Some(user)) => Response::User(user),
            Ok(None) => Response::NotFound,
            Err(err) => {
                tracing::error!(%peer, error = %err, "answering FetchUser failed");
                error("internal", "the node could not answer")
            }
        },
        Request::Deliver { envelopes } => super::deliveries::accept(services, peer, envelopes).await,
        Request::Submit(submission) => services.accept_submission(peer, submission).await,
        Request::ChangeMessage(change) => services.accept_change(peer, change).await,
        Request::Typing {
            conversation_id,
            user_id,
            display_name,
            typing,
        } => done(
            services
                .presence
                .remote_typing(peer, conversation_id, user_id, &display_name, typing),
        ),
        Request::Presence {
            user_id,
            online,
            status,
        } => done(services.presence.remote_presence(peer, user_id, online, &status)),
        Request::CallAction(action) => services.accept_call_action(peer, action).await,
        Request::CallUpdate(update) => services.accept_call_update(peer, update).await,
        Request::CallSignal(signal) => services.accept_call_signal(peer, *signal),
        _ => error("unsupported", "this node does not support that request"),
    }
}

pub(crate) fn resolve_user(services: &Services, username: &str) -> crate::Result<Option<RemoteUser>> {
    let username = validate::username(username)?;
    match services.users.id_by_username(&username)? {
        Some(id) => fetch_user(services, id),
        None => Ok(None),
    }
}

/// A local user as other nodes see it: profile names and active devices with their identity keys.
fn fetch_user(services: &Services, id: UserId) -> crate::Result<Option<RemoteUser>> {
    if users::get_user(&services.store, id)?.is_none() {
        return Ok(None);
    }
    let profile = services.users.profile(id)?;
    let devices = services.users.public_devices(id)?;
    Ok(Some(RemoteUser {
        user_id: id,
        username: profile.username,
        display_name: profile.display_name,
        devices: devices
            .devices
            .into_iter()
            .map(|device| -> crate::Result<RemoteDevice> {
                Ok(RemoteDevice {
                    device_id: device.id,
                    has_active_keys: device.has_active_keys,
                    identity: crate::keys::published_identity(&services.store, device.id)?,
                })
            })
            .collect::<crate::Result<_>>()?,
    }))
}

/// The answer to a best-effort signal.
fn done(outcome: crate::Result<()>) -> Response {
    match outcome {
        Ok(()) => Response::Done,
        Err(err) => error("refused", &err.to_string()),
    }
}
