use serde::{Deserialize, Serialize};

use super::{Timestamp, UserProfile};

/// `POST /v1/users/me/contacts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddContactRequest {
    /// The user to add, by id or by handle `username@node-name`.
    pub contact_user_id: super::UserRef,
}

/// A user in the caller's contact or block list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    /// Their public profile.
    #[serde(flatten)]
    pub profile: UserProfile,
    /// When they were added (or blocked).
    pub added_at: Timestamp,
}

/// `GET /v1/users/me/contacts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactList {
    /// The contacts.
    pub contacts: Vec<Contact>,
}

/// `GET /v1/users/me/contacts/blocked`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockedList {
    /// The blocked users.
    pub blocked: Vec<Contact>,
}
