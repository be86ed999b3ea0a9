//! How a planned message is named on the wire, so a recipient (engine 1's listeners, the driver's SDK
//! clients) knows which one a copy is and can check what it decrypted: `client_message_id` is
//! `sim-<index>` (which also makes a retried send idempotent), and the plaintext starts `sim-<index>:`.

use protocol::ClientMessageId;

/// The `client_message_id` of planned message `index` (`None` would be a bug: the name is short and valid).
pub(crate) fn client_message_id(index: usize) -> Option<ClientMessageId> {
    ClientMessageId::new(format!("sim-{index}")).ok()
}

/// Which planned message a `client_message_id` names.
pub(crate) fn message_index(id: &ClientMessageId) -> Option<usize> {
    id.as_str().strip_prefix("sim-")?.parse().ok()
}

/// The plaintext of planned message `index`: its name, then filler up to `size` bytes.
pub(crate) fn plaintext(index: usize, size: usize) -> Vec<u8> {
    let mut text = format!("sim-{index}:").into_bytes();
    let filler = (index % 251) as u8;
    text.resize(size.max(text.len()), filler);
    text
}

/// Whether `text` is the plaintext planned message `index` was sent with.
pub(crate) fn is_plaintext_of(index: usize, text: &[u8]) -> bool {
    text.starts_with(format!("sim-{index}:").as_bytes())
}
