//! Seeds of the JSON targets: WebSocket client frames and REST request bodies.

use parley_fuzz::{json, rest};

use crate::{Seed, fill};

pub(crate) fn ws_client_frames() -> Vec<Seed> {
    let frames = [
        (
            "auth",
            r#"{"type":"auth","token":"Bearer abc.def.ghi","since":{"$CONVERSATION":4}}"#,
        ),
        (
            "send",
            r#"{"type":"message:send","conversation_id":"$CONVERSATION","client_message_id":"c1","message_type":"text",
            "ciphertexts":[{"recipient_device_id":"$DEVICE","ciphertext":"AAEC","header":"AQID"}],"reply_to":"$MESSAGE",
            "mentions":["$OTHER"]}"#,
        ),
        (
            "send_clear",
            r#"{"type":"message:send","conversation_id":"$CONVERSATION","client_message_id":"c2","body":"hi"}"#,
        ),
        (
            "send_bad_id",
            r#"{"type":"message:send","conversation_id":"$CONVERSATION","client_message_id":" c3 ","body":7}"#,
        ),
        ("delivered", r#"{"type":"message:delivered","message_id":"$MESSAGE"}"#),
        ("read", r#"{"type":"message:read","message_id":"$MESSAGE"}"#),
        (
            "typing_started",
            r#"{"type":"typing:started","conversation_id":"$CONVERSATION"}"#,
        ),
        (
            "typing_stopped",
            r#"{"type":"typing:stopped","conversation_id":"$CONVERSATION"}"#,
        ),
        ("online", r#"{"type":"presence:online","status":"away"}"#),
        ("offline", r#"{"type":"presence:offline"}"#),
        ("ping", r#"{"type":"ping"}"#),
        (
            "offer",
            r#"{"type":"call:offer","call_id":"$CALL","to_id":"$OTHER","data":"v=0"}"#,
        ),
        (
            "answer",
            r#"{"type":"call:answer","call_id":"$CALL","to_id":"$OTHER","to_device_id":"$DEVICE","data":"v=0"}"#,
        ),
        (
            "ice",
            r#"{"type":"call:ice","call_id":"$CALL","to_id":"$OTHER","data":"candidate:1 1 udp 1 10.0.0.1 9 typ host"}"#,
        ),
    ];
    frames
        .into_iter()
        .map(|(name, template)| {
            let text = fill(template);
            if name != "send_bad_id" {
                json::parse::<protocol::ws::ClientFrame>(text.as_bytes())
                    .unwrap_or_else(|err| panic!("seed frame {name} does not parse: {err}"));
            }
            (format!("{name}.json"), text.into_bytes())
        })
        .collect()
}

pub(crate) fn rest_bodies() -> Vec<Seed> {
    let bodies = [
        (
            "RegisterRequest",
            r#"{"email":"ann@example.org","username":"ann","password":"correct horse battery","device_id":"$DEVICE",
            "display_name":"Ann","device_type":"cli","key_backup":{"private_key_by_master_key":"a",
            "private_key_by_recovery_key":"b","public_key":"c","salt":"d"}}"#,
        ),
        (
            "LoginRequest",
            r#"{"identity":"ann","password":"correct horse battery","device_id":"$DEVICE"}"#,
        ),
        ("RefreshRequest", r#"{"session_id":"$SESSION","refresh_token":"r"}"#),
        ("LogoutRequest", r#"{"session_id":"$SESSION"}"#),
        ("ForgotPasswordRequest", r#"{"identity":"ann@example.org"}"#),
        (
            "ResetPasswordRequest",
            r#"{"reset_token":"t","new_password":"another long one"}"#,
        ),
        ("CreateBroadcastRequest", r#"{"name":"news","description":"d"}"#),
        ("UpdateBroadcastRequest", r#"{"name":"news"}"#),
        ("AddRecipientRequest", r#"{"user_id":"$USER"}"#),
        ("BulkRecipientsRequest", r#"{"user_ids":["$USER","$OTHER"]}"#),
        (
            "BroadcastMessageRequest",
            r#"{"ciphertexts":[{"recipient_device_id":"$DEVICE","ciphertext":"AAEC"}],"client_message_id":"b1"}"#,
        ),
        (
            "CreateCallRequest",
            r#"{"conversation_id":"$CONVERSATION","type":"VIDEO"}"#,
        ),
        ("AddCallParticipantRequest", r#"{"user_id":"$OTHER"}"#),
        ("CallParticipantStatusRequest", r#"{"status":"JOINED"}"#),
        ("CallMuteRequest", r#"{"audio_muted":true}"#),
        ("EndCallRequest", r#"{"reason":"NETWORK_ERROR"}"#),
        ("AddContactRequest", r#"{"contact_user_id":"bob@node-b"}"#),
        (
            "CreateConversationRequest",
            r#"{"type":"GROUP","subject":"s","participants":["$OTHER","bob@node-b"],
            "settings":{"allow_invites":true,"message_retention_days":7}}"#,
        ),
        ("MuteRequest", r#"{"until":"$AT"}"#),
        ("ReadUpToRequest", r#"{"message_id":"$MESSAGE"}"#),
        (
            "UpdateConversationRequest",
            r#"{"subject":"t","avatar_url":"https://example.org/a.png"}"#,
        ),
        ("AddParticipantRequest", r#"{"user_id":"$OTHER","role":"admin"}"#),
        ("ChangeRoleRequest", r#"{"role":"owner"}"#),
        (
            "CreateUploadRequest",
            r#"{"file_name":"a.txt","file_size":3,"content_type":"text/plain","sha256":"00","conversation_id":"$CONVERSATION"}"#,
        ),
        ("UploadProgressRequest", r#"{"uploaded_bytes":1024}"#),
        ("ShareFileRequest", r#"{"conversation_id":"$CONVERSATION"}"#),
        (
            "UploadIdentityKeyRequest",
            r#"{"device_id":"$DEVICE","public_key":"$KEY"}"#,
        ),
        (
            "RotateSignedPreKeyRequest",
            r#"{"key":{"key_id":2,"public_key":"$KEY","signature":"$SIG"}}"#,
        ),
        (
            "UploadOneTimePreKeysRequest",
            r#"{"keys":[{"key_id":100,"public_key":"$KEY"}]}"#,
        ),
        (
            "SendMessageRequest",
            r#"{"conversation_id":"$CONVERSATION","ciphertexts":[{"recipient_device_id":"$DEVICE","ciphertext":"AAEC",
            "header":"AQID"}],"message_type":"file","client_message_id":"c1","reply_to":"$MESSAGE","mentions":["$OTHER"]}"#,
        ),
        (
            "ForwardMessageRequest",
            r#"{"conversation_id":"$CONVERSATION","body":"fwd","client_message_id":"f1"}"#,
        ),
        ("ReactRequest", r#"{"emoji":"👍"}"#),
        ("EditMessageRequest", r#"{"body":"edited"}"#),
        (
            "UpdateProfileRequest",
            r#"{"display_name":"Ann","bio":"hi","status":"away"}"#,
        ),
        (
            "UpdateSettingsRequest",
            r#"{"notifications_enabled":false,"theme":"dark","language":"en"}"#,
        ),
        (
            "CreateWebhookRequest",
            r#"{"url":"https://example.org/hook","events":["message.created","user.updated"],"secret":"0123456789abcdef"}"#,
        ),
        (
            "KeyBackup",
            r#"{"private_key_by_master_key":"a","private_key_by_recovery_key":"b","public_key":"c","salt":"d"}"#,
        ),
        ("UpdateSettings", r#"{"is_private":true,"message_retention_seconds":0}"#),
        (
            "SignedPreKeyUpload",
            r#"{"device_id":"$DEVICE","key_id":3,"public_key":"$KEY","signature":"$SIG"}"#,
        ),
        (
            "CallQualityMetric",
            r#"{"call_id":"$CALL","timestamp":"$AT","packet_loss":0.02,"jitter":3.5,"latency":41.0,"bitrate":96000,
            "frame_rate":30,"resolution":"1280x720","audio_level":-12.25}"#,
        ),
    ];
    assert_eq!(bodies.len(), rest::BODIES.len(), "one seed per request body");
    bodies
        .into_iter()
        .map(|(name, template)| {
            let pick = rest::pick(name).unwrap_or_else(|| panic!("{name} is not in the body table"));
            let mut bytes = vec![pick];
            bytes.extend_from_slice(fill(template).as_bytes());
            assert!(rest::check(&bytes), "seed body {name} does not parse");
            (format!("{name}.bin"), bytes)
        })
        .collect()
}
