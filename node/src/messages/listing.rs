//! Reading a conversation page by page: sequence bounds, filters by type and time, and cursors.

use protocol::ConversationId;
use protocol::api::{MessagePage, MessageQuery, Timestamp};

use super::Messages;
use super::records::MessageRecord;
use crate::conversations::records as conversations;
use crate::storage::{decode, keys};
use crate::{Actor, Error, Result, validate};

/// Most records one page may look at; a filtered page that finds too few stops here and hands out a
/// cursor, so a sparse filter never turns one request into a full scan.
const SCAN_BUDGET: usize = 5000;

/// A cursor is `a` (forwards) or `b` (backwards) and a sequence number of at most 19 digits, which
/// always fits a `u64`: the pattern `^[ab][0-9]{1,19}$` that `MessageQuery::cursor` documents.
fn parse_cursor(cursor: &str) -> Result<(bool, u64)> {
    let invalid = || Error::invalid("cursor", "is not a cursor from this API");
    let forward = match cursor.as_bytes().first() {
        Some(b'a') => true,
        Some(b'b') => false,
        _ => return Err(invalid()),
    };
    let digits = &cursor[1..];
    if !(1..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    digits.parse().map(|seq| (forward, seq)).map_err(|_| invalid())
}

impl Messages {
    /// The lowest sequence number in `low..high` whose message was stored after `at` (`high` when none
    /// was), found by bisection: a conversation's messages are stored in sequence order, so time and
    /// sequence grow together, and a page that ends at a time (`to`, the dialects' timestamp cursors)
    /// starts its scan there instead of at the newest message. Erased messages leave gaps, which the
    /// probe skips.
    fn first_stored_after(&self, conversation: ConversationId, low: u64, high: u64, at: Timestamp) -> Result<u64> {
        let (mut low, mut high) = (low, high);
        while low < high {
            let middle = low + (high - low) / 2;
            let next = self
                .store
                .trees
                .convseq_message
                .range(keys::id_seq(conversation.as_bytes(), middle)..keys::id_seq(conversation.as_bytes(), high))
                .next()
                .transpose()?;
            match next {
                Some((_, value)) => {
                    let record: MessageRecord = decode(&value)?;
                    if record.created_at <= at {
                        low = record.seq + 1;
                    } else {
                        high = middle;
                    }
                }
                None => high = middle,
            }
        }
        Ok(low)
    }

    /// A page of a conversation in ascending order, with the caller's device copies. Without `after_seq`
    /// pages go backwards from the newest; with it, forwards.
    pub fn list(&self, actor: &Actor, query: MessageQuery) -> Result<MessagePage> {
        let limit = validate::limit(query.limit, 50, 100)?;
        let conversation = query.conversation_id;
        let (_, me) = conversations::require_participant(&self.store, conversation, actor.user_id)?;
        let (after, before, forward) = match query.cursor.as_deref() {
            Some(cursor) => match parse_cursor(cursor)? {
                (true, seq) => (Some(seq), None, true),
                (false, seq) => (None, Some(seq), false),
            },
            None => (
                query.after_seq,
                query.before_seq,
                query.after_seq.is_some() && query.before_seq.is_none(),
            ),
        };
        let matches = |record: &MessageRecord| {
            query.message_type.is_none_or(|kind| record.message_type == kind)
                && query.from.is_none_or(|from| record.created_at >= from)
                && query.to.is_none_or(|to| record.created_at <= to)
        };
        let low = after
            .map_or(0, |after| after.saturating_add(1))
            .max(me.cleared_through.saturating_add(1));
        let mut high = before.unwrap_or(u64::MAX);
        if let Some(to) = query.to {
            high = self.first_stored_after(conversation, low, high, to)?;
        }
        if low >= high {
            return Ok(MessagePage {
                messages: Vec::new(),
                has_more: false,
                next_cursor: None,
            });
        }
        let range = self
            .store
            .trees
            .convseq_message
            .range(keys::id_seq(conversation.as_bytes(), low)..keys::id_seq(conversation.as_bytes(), high));
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if forward {
            Box::new(range)
        } else {
            Box::new(range.rev())
        };
        let mut records: Vec<MessageRecord> = Vec::with_capacity(limit + 1);
        let mut scanned = 0;
        let mut position = None;
        for entry in entries {
            let record: MessageRecord = decode(&entry?.1)?;
            scanned += 1;
            position = Some(record.seq);
            if matches(&record) {
                records.push(record);
                if records.len() > limit {
                    break;
                }
            }
            if scanned >= SCAN_BUDGET {
                break;
            }
        }
        let (has_more, resume_at) = if records.len() > limit {
            records.truncate(limit);
            (true, records.last().map(|r| r.seq))
        } else {
            (scanned >= SCAN_BUDGET, position)
        };
        let next_cursor = has_more
            .then_some(resume_at)
            .flatten()
            .map(|seq| format!("{}{seq}", if forward { 'a' } else { 'b' }));
        if !forward {
            records.reverse();
        }
        let messages = records
            .iter()
            .map(|r| self.view(r, actor.device_id))
            .collect::<Result<_>>()?;
        Ok(MessagePage {
            messages,
            has_more,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_a_direction_and_at_most_19_digits() {
        assert_eq!(parse_cursor("a12").unwrap(), (true, 12));
        assert_eq!(
            parse_cursor("b9999999999999999999").unwrap(),
            (false, 9_999_999_999_999_999_999)
        );
        for bad in ["", "a", "c1", "a+1", "a 1", "a18446744073709551615"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
