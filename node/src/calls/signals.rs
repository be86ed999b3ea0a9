//! WebRTC signaling: `call:offer`, `call:answer` and `call:ice` are relayed untouched, only between
//! users in a live call, to a user's connections or one named device. The checks are split so the
//! sending node and, across nodes, the recipient's home node each check what they know.

use chrono::Utc;
use protocol::api::CallParticipantStatus;
use protocol::ws::{CallSignal, CallSignalRequest, ServerFrame, SignalKind};
use protocol::{CallId, DeviceId, UserId};

use super::{Calls, MAX_SIGNAL_BYTES};
use crate::{Error, Result, contacts, users};

impl Calls {
    /// Checks a signal against the call as this node knows it: small enough, the call live, and both
    /// users in it.
    pub(crate) fn check_signal(&self, from: UserId, call: CallId, to: UserId, data: &str) -> Result<()> {
        if data.len() > MAX_SIGNAL_BYTES {
            return Err(Error::invalid(
                "data",
                format!("must be at most {MAX_SIGNAL_BYTES} bytes"),
            ));
        }
        let call = self.load(call)?;
        Self::open(&call)?;
        let in_call = |user: UserId| {
            call.participants
                .iter()
                .any(|p| p.user_id == user && p.status != CallParticipantStatus::Left)
        };
        if !in_call(from) {
            return Err(Error::forbidden("you are not in this call"));
        }
        if !in_call(to) {
            return Err(Error::invalid("to_id", "is not in this call"));
        }
        Ok(())
    }

    /// Pushes a checked signal to a local user's connections (or one named device), unless they
    /// blocked the sender.
    pub(crate) fn deliver_signal(&self, signal: CallSignal, to_device: Option<DeviceId>) -> Result<()> {
        let (from, to) = (signal.from_id, signal.to_id);
        contacts::ensure_not_blocked_by(&self.store, to, from)?;
        let frame = match signal.signal_type {
            SignalKind::Offer => ServerFrame::CallOffer(signal),
            SignalKind::Answer => ServerFrame::CallAnswer(signal),
            SignalKind::Ice => ServerFrame::CallIce(signal),
        };
        match to_device {
            Some(device) => match users::records::get_device(&self.store, device)? {
                Some(record) if record.user_id == to => self.hub.send_to_device(to, device, &frame),
                _ => return Err(Error::invalid("to_device_id", "is not a device of to_id")),
            },
            None => self.hub.send_to_user(to, &frame),
        }
        Ok(())
    }
}

/// The frame a signal becomes, stamped now.
pub(crate) fn signal_of(
    from: UserId,
    from_device: DeviceId,
    kind: SignalKind,
    request: CallSignalRequest,
) -> CallSignal {
    CallSignal {
        timestamp: Utc::now(),
        user_id: from,
        call_id: request.call_id,
        from_id: from,
        from_device_id: from_device,
        to_id: request.to_id,
        signal_type: kind,
        data: request.data,
    }
}
