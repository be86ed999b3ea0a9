//! Seeds of the federation targets: requests and responses between nodes, and DHT name records.

use ed25519_dalek::SigningKey;
use parley_fuzz::records::{self, NAME};
use protocol::federation::{self, Envelope, Event, NodeName, Request, Response, SignedNodeRecord};

use crate::{Seed, from_json};

const MESSAGE_JSON: &str = r#"{"id":"$MESSAGE","conversation_id":"$CONVERSATION","sender_id":"$USER",
    "sender_device_id":"$DEVICE","client_message_id":"c1","sequence_number":7,"message_type":"text",
    "is_deleted":false,"is_edited":false,"ciphertext":"AAEC","header":"AQID","recipient_device_id":"$DEVICE",
    "encrypted":true,"body":null,"created_at":"$AT","updated_at":null,"reply_to":null,"mentions":["$OTHER"],
    "forwarded_from":null,"reactions":[{"emoji":"👍","count":1,"user_ids":["$OTHER"]}]}"#;

const CALL_JSON: &str = r#"{"id":"$CALL","conversation_id":"$CONVERSATION","type":"VIDEO","status":"RINGING",
    "initiator_id":"$USER","created_at":"$AT","started_at":null,"ended_at":null,"duration":0,"end_reason":null,
    "ended_by":null,"participants":[{"user_id":"$OTHER","status":"INVITED","audio_muted":false,
    "video_muted":true,"joined_at":null,"left_at":null}]}"#;

fn events() -> Vec<Event> {
    let conversation = r#"{"Conversation":{"conversation_id":"$CONVERSATION","kind":"GROUP","subject":"s",
        "description":null,"creator_id":"$USER","created_at":"$AT","updated_at":"$AT",
        "settings":{"is_private":false,"allow_invites":true,"message_retention_days":null,
        "message_retention_seconds":3600},"members":[{"user_id":"$USER","username":"ann",
        "display_name":"Ann","node":"node-a","peer_id":[0,36,8,1,18,32],"role":"owner","joined_at":"$AT"}]}}"#;
    let message = r#"{"Message":{"message_id":"$MESSAGE","conversation_id":"$CONVERSATION","seq":3,
        "sender_id":"$USER","sender_device_id":"$DEVICE","client_message_id":"c1","message_type":"image",
        "created_at":"$AT","reply_to":null,"mentions":[],"forwarded_from":null,"copies":[{"user_id":"$OTHER",
        "device_id":"$DEVICE","ciphertext":"AAEC","header":"AQID"}],"body":null}}"#;
    let receipt = r#"{"Receipt":{"conversation_id":"$CONVERSATION","message_id":"$MESSAGE","user_id":"$OTHER",
        "read":true,"at":"$AT"}}"#;
    let edited = r#"{"Changed":{"conversation_id":"$CONVERSATION","message_id":"$MESSAGE","by":"$USER",
        "at":"$AT","change":{"Edited":{"copies":[],"body":"fixed"}}}}"#;
    let reaction = r#"{"Changed":{"conversation_id":"$CONVERSATION","message_id":"$MESSAGE","by":"$USER",
        "at":"$AT","change":{"Reaction":{"emoji":"🎉","added":true}}}}"#;
    let call =
        format!(r#"{{"Call":{{"call":{CALL_JSON},"event":{{"Ringing":{{"caller":"$USER","users":["$OTHER"]}}}}}}}}"#);
    [conversation, message, receipt, edited, reaction, &call]
        .into_iter()
        .map(from_json)
        .collect()
}

fn seal(event: &Event) -> Envelope {
    Envelope::seal(event, &SigningKey::from_bytes(&[3; 32])).expect("a small event seals")
}

pub(crate) fn requests() -> Vec<Seed> {
    let templates = [
        (
            "hello",
            r#"{"Hello":{"version":1,"name":"node-a","agent":"parley/0.1.0"}}"#,
        ),
        ("resolve_user", r#"{"ResolveUser":{"username":"ann"}}"#),
        (
            "claim_bundle",
            r#"{"ClaimBundle":{"user_id":"$USER","device_id":"$DEVICE"}}"#,
        ),
        ("fetch_user", r#"{"FetchUser":{"user_id":"$USER"}}"#),
        (
            "submit",
            r#"{"Submit":{"conversation_id":"$CONVERSATION","sender_id":"$USER","sender_device_id":"$DEVICE",
            "client_message_id":"c1","message_type":"text","copies":[{"device_id":"$DEVICE","ciphertext":"AAEC",
            "header":"AQID"}],"body":null,"reply_to":"$MESSAGE","mentions":["$OTHER"],"forwarded_from":null}}"#,
        ),
        (
            "change_message",
            r#"{"ChangeMessage":{"user_id":"$USER","device_id":"$DEVICE","message_id":"$MESSAGE",
            "change":{"Edit":{"copies":[{"device_id":"$DEVICE","ciphertext":"AAEC","header":null}],"body":null}}}}"#,
        ),
        (
            "call_action_create",
            r#"{"CallAction":{"user_id":"$USER","device_id":"$DEVICE","action":{"Create":
            {"conversation_id":"$CONVERSATION","type":"AUDIO","initiator_id":null}}}}"#,
        ),
        (
            "call_action_quality",
            r#"{"CallAction":{"user_id":"$USER","device_id":"$DEVICE","action":{"Quality":{"call_id":"$CALL",
            "packet_loss":0.5,"jitter":1.25,"latency":30.0,"bitrate":64000,"frame_rate":29.97,"resolution":"640x480"}}}}"#,
        ),
        (
            "call_signal",
            r#"{"CallSignal":{"call_id":"$CALL","from_id":"$USER","from_device_id":"$DEVICE","to_id":"$OTHER",
            "to_device_id":null,"kind":"offer","data":"v=0"}}"#,
        ),
        (
            "typing",
            r#"{"Typing":{"conversation_id":"$CONVERSATION","user_id":"$USER","display_name":"Ann","typing":true}}"#,
        ),
        (
            "presence",
            r#"{"Presence":{"user_id":"$USER","online":true,"status":"away"}}"#,
        ),
    ];
    let mut requests: Vec<(String, Request)> = templates
        .into_iter()
        .map(|(name, template)| (name.to_owned(), from_json(template)))
        .collect();
    let events = events();
    requests.push((
        "deliver".to_owned(),
        Request::Deliver {
            envelopes: events.iter().map(seal).collect(),
        },
    ));
    requests.push(("call_update".to_owned(), Request::CallUpdate(seal(&events[5]))));
    requests
        .into_iter()
        .map(|(name, request)| {
            let bytes = federation::encode_request(&request).expect("a seed request encodes");
            federation::decode_request(&bytes).expect("a seed request decodes");
            (format!("{name}.msgpack"), bytes)
        })
        .collect()
}

pub(crate) fn responses() -> Vec<Seed> {
    let submitted = format!(r#"{{"Submitted":{MESSAGE_JSON}}}"#);
    let call = format!(r#"{{"Call":{CALL_JSON}}}"#);
    let templates = [
        (
            "node_info",
            r#"{"NodeInfo":{"version":1,"name":"node-b","agent":"parley/0.1.0"}}"#,
        ),
        (
            "user",
            r#"{"User":{"user_id":"$USER","username":"ann","display_name":"Ann","devices":[{"device_id":"$DEVICE",
            "has_active_keys":true,"identity":{"id":"$SESSION","user_id":"$USER","device_id":"$DEVICE",
            "public_key":"$KEY","is_active":true,"created_at":"$AT"}}]}}"#,
        ),
        (
            "bundle",
            r#"{"Bundle":{"user_id":"$USER","device_id":"$DEVICE","identity_key":"$KEY","signed_prekey":{"key_id":1,
            "public_key":"$KEY","signature":"$SIG"},"one_time_prekey":{"key_id":100,"public_key":"$KEY"}}}"#,
        ),
        ("accepted", r#"{"Accepted":{"applied":2,"rejected":["bad signature"]}}"#),
        ("submitted", &submitted),
        ("not_found", r#""NotFound""#),
        ("error", r#"{"Error":{"code":"busy","message":"try later"}}"#),
        ("call", &call),
        (
            "call_quality",
            r#"{"CallQuality":{"call_id":"$CALL","user_id":"$USER","latency":12.5,"bitrate":1}}"#,
        ),
        ("done", r#""Done""#),
    ];
    templates
        .into_iter()
        .map(|(name, template)| {
            let response: Response = from_json(template);
            let bytes = federation::encode_response(&response).expect("a seed response encodes");
            federation::decode_response(&bytes).expect("a seed response decodes");
            (format!("{name}.msgpack"), bytes)
        })
        .collect()
}

pub(crate) fn node_records() -> Vec<Seed> {
    let key = records::key();
    let quic = "/ip4/127.0.0.1/udp/4433/quic-v1";
    let mut expired = records::record(&key, &[quic]);
    expired.expires_at = records::NOW;
    let mut renamed = records::record(&key, &[quic]);
    renamed.name = NodeName::new("node-d").expect("a valid name");
    let crowded: Vec<String> = (0..17)
        .map(|port| format!("/ip4/10.0.0.1/udp/{port}/quic-v1"))
        .collect();
    let crowded: Vec<&str> = crowded.iter().map(String::as_str).collect();
    let seeds = [
        ("one_address", records::record(&key, &[quic])),
        (
            "two_addresses",
            records::record(&key, &[quic, "/ip6/::1/udp/4433/quic-v1"]),
        ),
        ("no_address", records::record(&key, &[])),
        ("expired", expired),
        ("other_name", renamed),
        ("too_many_addresses", records::record(&key, &crowded)),
    ];
    let name = NodeName::new(NAME).expect("a valid name");
    seeds
        .into_iter()
        .map(|(label, record)| {
            let bytes = record
                .sign(&key)
                .and_then(|signed| signed.encode())
                .expect("a seed record encodes");
            SignedNodeRecord::decode(&bytes).expect("a seed record decodes");
            if label == "one_address" {
                let verified = SignedNodeRecord::decode(&bytes).and_then(|signed| signed.verify(&name, records::NOW));
                verified.expect("the plain seed record verifies");
            }
            (format!("{label}.msgpack"), bytes)
        })
        .collect()
}
