//! Invite links: an owner or admin creates one (regenerating revokes the old one), anyone with it may
//! preview the conversation and join as a member.

use protocol::ConversationId;
use protocol::api::{ConversationKind, InviteLink, InvitePreview, InviteRef, Role};

use super::Conversations;
use super::members::{Change, membership_frame};
use super::records::{ConversationRecord, get, link, put, require_participant};
use crate::auth::tokens;
use crate::{Actor, Error, Result, validate};

fn code_of(reference: &InviteRef) -> Result<String> {
    let text = validate::text("link", &reference.link, 1, 200)?;
    let code = text.rsplit('/').next().unwrap_or_default().to_owned();
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::invalid("link", "is not an invite link"));
    }
    Ok(code)
}

impl Conversations {
    /// Forgets a conversation's invite code, so the old link stops working.
    pub(super) fn drop_invite(&self, record: &mut ConversationRecord) -> Result<()> {
        if let Some(code) = record.invite_code.take() {
            self.store.trees.invitecode_convid.remove(code.as_bytes())?;
        }
        Ok(())
    }

    /// Creates a fresh invite link (owners and admins, while invites are allowed); the old one stops working.
    pub async fn regenerate_invite(&self, actor: &Actor, id: ConversationId) -> Result<InviteLink> {
        let _guard = self.locks.lock(id).await;
        let (mut record, me) = require_participant(&self.store, id, actor.user_id)?;
        if record.kind == ConversationKind::Dm {
            return Err(Error::forbidden("a DM has no invite link"));
        }
        if me.role < Role::Admin {
            return Err(Error::forbidden("only owners and admins manage invite links"));
        }
        if !record.settings.allow_invites {
            return Err(Error::Conflict("invites are turned off for this conversation".into()));
        }
        self.drop_invite(&mut record)?;
        let code = tokens::opaque();
        self.store
            .trees
            .invitecode_convid
            .insert(code.as_bytes(), id.as_bytes())?;
        record.invite_code = Some(code.clone());
        put(&self.store, &record)?;
        self.store.commit().await?;
        Ok(InviteLink {
            invite_link: link(&code),
            invite_code: code,
        })
    }

    fn by_invite(&self, reference: &InviteRef) -> Result<ConversationRecord> {
        let code = code_of(reference)?;
        let id = self
            .store
            .trees
            .invitecode_convid
            .get(code.as_bytes())?
            .ok_or(Error::NotFound("invite"))?;
        let id = ConversationId::from_slice(&id).ok_or_else(|| Error::Corrupt("invite index".into()))?;
        get(&self.store, id)?.ok_or(Error::NotFound("invite"))
    }

    /// What an invite leads to.
    pub fn preview_invite(&self, reference: InviteRef) -> Result<InvitePreview> {
        let record = self.by_invite(&reference)?;
        Ok(InvitePreview {
            id: record.id,
            kind: record.kind,
            subject: record.subject,
            description: record.description,
            participant_count: record.participant_count,
        })
    }

    /// Joins the caller as a member through an invite link.
    pub async fn join(&self, actor: &Actor, reference: InviteRef) -> Result<protocol::api::Conversation> {
        let id = self.by_invite(&reference)?.id;
        let _guard = self.locks.lock(id).await;
        let mut record = self.by_invite(&reference)?;
        if record.id != id {
            return Err(Error::NotFound("invite"));
        }
        let member = self.admit(&mut record, actor.user_id, Role::Member)?;
        self.replicate(id, &[])?;
        self.store.commit().await?;
        let frame = membership_frame(
            Change::Added,
            id,
            actor.user_id,
            Some(Role::Member),
            Some(actor.user_id),
        );
        self.announce_membership(id, &frame, None)?;
        Ok(super::records::view(
            &record,
            super::activity(&self.store, id)?,
            &member,
        ))
    }
}
