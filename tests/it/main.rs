//! End-to-end tests: real nodes on 127.0.0.1 with temp data dirs, driven over HTTP and WebSocket.

mod auth;
mod avatars;
mod broadcasts;
mod calls;
mod contacts;
mod conversation_extras;
mod conversations;
mod durability;
mod e2ee;
mod federated_calls;
mod federated_messaging;
mod federation;
mod federation_faults;
mod files;
mod health;
mod keys;
mod limits;
mod messages;
mod openapi;
mod rich_messages;
mod simulate;
mod support;
mod users;
mod webhooks;
mod webrtc;
mod websocket;
