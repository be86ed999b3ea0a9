//! Every `*Request` body of `protocol::api`, then the other `protocol::api` types the gateway reads as
//! bodies, in a fixed order: the `rest_json_bodies` target picks one by its first input byte, and the
//! seed corpus writes that byte for the body it holds.

use protocol::api;

use crate::json::parse_and_round_trip;

/// A request body's type name and its check (parse, and round trip what parses), true if it parsed.
pub type Body = (&'static str, fn(&[u8]) -> bool);

macro_rules! bodies {
    ($($name:ident),* $(,)?) => {
        /// The request bodies; append new ones at the end, so the seeds' first bytes keep their meaning.
        pub const BODIES: &[Body] = &[$((stringify!($name), |bytes| {
            parse_and_round_trip::<api::$name>(bytes).is_some()
        })),*];
    };
}

bodies!(
    RegisterRequest,
    LoginRequest,
    RefreshRequest,
    LogoutRequest,
    ForgotPasswordRequest,
    ResetPasswordRequest,
    CreateBroadcastRequest,
    UpdateBroadcastRequest,
    AddRecipientRequest,
    BulkRecipientsRequest,
    BroadcastMessageRequest,
    CreateCallRequest,
    AddCallParticipantRequest,
    CallParticipantStatusRequest,
    CallMuteRequest,
    EndCallRequest,
    AddContactRequest,
    CreateConversationRequest,
    MuteRequest,
    ReadUpToRequest,
    UpdateConversationRequest,
    AddParticipantRequest,
    ChangeRoleRequest,
    CreateUploadRequest,
    UploadProgressRequest,
    ShareFileRequest,
    UploadIdentityKeyRequest,
    RotateSignedPreKeyRequest,
    UploadOneTimePreKeysRequest,
    SendMessageRequest,
    ForwardMessageRequest,
    ReactRequest,
    EditMessageRequest,
    UpdateProfileRequest,
    UpdateSettingsRequest,
    CreateWebhookRequest,
    KeyBackup,
    UpdateSettings,
    SignedPreKeyUpload,
    CallQualityMetric,
);

/// Checks `bytes[1..]` as the body that `bytes[0]` picks; true if it parsed.
pub fn check(bytes: &[u8]) -> bool {
    let Some((&pick, body)) = bytes.split_first() else {
        return false;
    };
    let (_, check) = BODIES[usize::from(pick) % BODIES.len()];
    check(body)
}

/// The first byte that picks the body called `name`.
pub fn pick(name: &str) -> Option<u8> {
    BODIES
        .iter()
        .position(|(body, _)| *body == name)
        .and_then(|index| u8::try_from(index).ok())
}
