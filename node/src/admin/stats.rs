//! The node's numbers, as `parley admin stats` shows them.

use protocol::api::{NodeStats, OutboxDepth};

use super::Admin;
use crate::Result;
use crate::storage::decode;
use crate::users::records::UserRecord;

impl Admin<'_> {
    /// Counts what the node stores and holds open. Reads every account and file record, so it costs
    /// in proportion to them: an operator's query, not a metric to scrape every second.
    pub fn stats(&self) -> Result<NodeStats> {
        let services = self.services;
        let t = &services.store.trees;
        let (mut users, mut suspended_users) = (0, 0);
        for item in t.userid_user.iter() {
            let user: UserRecord = decode(&item?.1)?;
            users += 1;
            suspended_users += u64::from(user.suspended_at.is_some());
        }
        let (files, file_bytes) = services.files.totals()?;
        let mut outbox: Vec<OutboxDepth> = services
            .outbox
            .depths()?
            .into_iter()
            .map(|(node, depth)| OutboxDepth { node, depth })
            .collect();
        outbox.sort_by(|a, b| b.depth.cmp(&a.depth).then_with(|| a.node.cmp(&b.node)));
        Ok(NodeStats {
            users,
            suspended_users,
            devices: t.deviceid_device.len() as u64,
            conversations: t.convid_conversation.len() as u64,
            messages: services.store.counts.messages(),
            files,
            file_bytes,
            outbox,
            connected_sockets: services.hub.connection_count() as u64,
        })
    }
}
