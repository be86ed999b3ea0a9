//! The caller's uploads, by state, and the clean-up of stale ones (by the owner, or by the node for
//! uploads left idle too long).

use chrono::{TimeDelta, Utc};
use protocol::UploadId;
use protocol::api::{StaleUploadsDeleted, StaleUploadsQuery, UploadList, UploadListQuery, UploadStatus};

use super::Files;
use crate::storage::{decode, keys};
use crate::{Actor, Error, Result, validate};

use super::UploadRecord;

/// `older_than_sec` when none is given.
const DEFAULT_STALE_SECS: u64 = 3600;

impl Files {
    /// The caller's uploads passing `keep`, newest first.
    pub(super) fn own_uploads(&self, actor: &Actor, keep: impl Fn(&UploadRecord) -> bool) -> Result<Vec<UploadRecord>> {
        let mut list = Vec::new();
        for entry in self
            .store
            .trees
            .usertimeupload_upload
            .scan_prefix(actor.user_id.as_bytes())
            .rev()
        {
            let (key, _) = entry?;
            let Some(id) = key.len().checked_sub(16).and_then(|at| keys::id_at(&key, at)) else {
                continue;
            };
            if let Some(record) = self.upload_record(UploadId::from_bytes(id))?
                && keep(&record)
            {
                list.push(record);
            }
        }
        Ok(list)
    }

    pub(super) fn page(
        &self,
        actor: &Actor,
        query: UploadListQuery,
        keep: impl Fn(&UploadRecord) -> bool,
    ) -> Result<UploadList> {
        if query.uploader_id.is_some_and(|user| user != actor.user_id) {
            return Err(Error::forbidden("you can only list your own uploads"));
        }
        let limit = validate::limit(query.limit, 20, 100)?;
        let page = validate::page(query.page)?;
        let uploads = self
            .own_uploads(actor, keep)?
            .iter()
            .skip((page - 1) * limit)
            .take(limit)
            .map(UploadRecord::view)
            .collect();
        Ok(UploadList { uploads })
    }

    /// `GET /v1/uploads`: the caller's uploads, newest first.
    pub fn uploads(&self, actor: &Actor, query: UploadListQuery) -> Result<UploadList> {
        self.page(actor, query, |_| true)
    }

    /// `GET /v1/uploads/completed`.
    pub fn completed_uploads(&self, actor: &Actor, query: UploadListQuery) -> Result<UploadList> {
        self.page(actor, query, |u| u.status == UploadStatus::Completed)
    }

    /// `GET /v1/uploads/in-progress`: unfinished uploads (`PENDING` or `IN_PROGRESS`).
    pub fn in_progress_uploads(&self, actor: &Actor, query: UploadListQuery) -> Result<UploadList> {
        self.page(actor, query, |u| u.status.is_unfinished())
    }

    pub(super) fn stale(&self, actor: &Actor, query: &StaleUploadsQuery) -> Result<Vec<UploadRecord>> {
        let older_than = query.older_than_sec.unwrap_or(DEFAULT_STALE_SECS);
        let cutoff = i64::try_from(older_than)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .and_then(|age| Utc::now().checked_sub_signed(age));
        let Some(cutoff) = cutoff else {
            return Ok(Vec::new());
        };
        self.own_uploads(actor, |u| u.status.is_unfinished() && u.updated_at <= cutoff)
    }

    /// `GET /v1/uploads/stale?older_than_sec=`: the caller's unfinished uploads untouched (no chunk, no
    /// progress report) for at least that long.
    pub fn stale_uploads(&self, actor: &Actor, query: StaleUploadsQuery) -> Result<UploadList> {
        Ok(UploadList {
            uploads: self.stale(actor, &query)?.iter().map(UploadRecord::view).collect(),
        })
    }

    /// `DELETE /v1/uploads/stale?older_than_sec=`: cancels those uploads and removes their bytes. An
    /// upload a request is writing to right now is not stale and is skipped.
    pub async fn delete_stale_uploads(&self, actor: &Actor, query: StaleUploadsQuery) -> Result<StaleUploadsDeleted> {
        let mut upload_ids = Vec::new();
        for candidate in self.stale(actor, &query)? {
            let Some(_busy) = self.try_claim(candidate.id) else {
                continue;
            };
            let Some(mut record) = self.upload_record(candidate.id)? else {
                continue;
            };
            if record.status.is_unfinished() && record.updated_at == candidate.updated_at {
                self.finish(&mut record, UploadStatus::Cancelled).await?;
                upload_ids.push(record.id);
            }
        }
        Ok(StaleUploadsDeleted {
            deleted: upload_ids.len(),
            upload_ids,
        })
    }

    /// Cancels every unfinished upload of any user untouched for `idle`, removing its bytes; run by the
    /// node's background task so abandoned uploads never fill the disk. Returns how many went.
    pub(crate) async fn expire_idle_uploads(&self, idle: std::time::Duration) -> Result<usize> {
        let cutoff = Utc::now() - chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
        let mut idle_ids = Vec::new();
        for entry in self.store.trees.uploadid_upload.iter() {
            let record: UploadRecord = decode(&entry?.1)?;
            if record.status.is_unfinished() && record.updated_at <= cutoff {
                idle_ids.push(record.id);
            }
        }
        let mut expired = 0;
        for id in idle_ids {
            let Some(_busy) = self.try_claim(id) else { continue };
            if let Some(mut record) = self.upload_record(id)?
                && record.status.is_unfinished()
                && record.updated_at <= cutoff
            {
                self.finish(&mut record, UploadStatus::Cancelled).await?;
                expired += 1;
            }
        }
        Ok(expired)
    }
}
