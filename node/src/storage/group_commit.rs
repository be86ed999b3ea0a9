//! One flush for many commits. A commit needs a flush that starts after its writes; while one flush
//! runs, every commit that arrives meanwhile waits for the next, which covers them all. Under load a
//! flush serves a whole batch of requests instead of each request paying for its own (a blocking task,
//! a sled log write and their thread wake-ups per commit before). After a flush, and before anyone
//! hears of it, the journal records of the write sets it made durable are removed (`write_set`).
//!
//! A commit that finds no flush running runs the first one itself, on its own thread
//! (`block_in_place`): on an idle node the request then waits for the disk alone, not also for a
//! blocking thread to wake and to wake it back. Flushes wanted meanwhile go to the blocking pool, so
//! the leader answers after its own flush, not after every one that follows.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::{Error, Result};

/// What the last finished flush was, for the commits waiting on it.
#[derive(Debug, Clone, Default)]
struct Finished {
    /// How many flushes have finished.
    generation: u64,
    /// Its failure, if it failed.
    error: Option<String>,
}

#[derive(Default)]
struct Schedule {
    /// How many flushes have started.
    started: u64,
    /// Whether a flush is running now.
    running: bool,
    /// Whether a commit arrived while it ran, so another must follow.
    wanted: bool,
}

/// Coalesces commits of one sled database.
pub(crate) struct GroupCommit {
    db: sled::Db,
    journal: sled::Tree,
    /// Write sets written whole since the last flush began, by journal id.
    journaled: Mutex<Vec<u64>>,
    schedule: Mutex<Schedule>,
    finished: watch::Sender<Finished>,
}

impl GroupCommit {
    pub(crate) fn new(db: sled::Db, journal: sled::Tree) -> Arc<Self> {
        Arc::new(Self {
            db,
            journal,
            journaled: Mutex::default(),
            schedule: Mutex::default(),
            finished: watch::Sender::new(Finished::default()),
        })
    }

    /// Notes a write set written whole; the next flush to start makes it durable.
    pub(crate) fn journaled(&self, id: u64) {
        self.journaled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(id);
    }

    /// Flushes, then removes the journal records of the sets written whole before it began.
    fn flush(&self) -> sled::Result<()> {
        let mut durable = std::mem::take(&mut *self.journaled.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        self.db.flush()?;
        durable.sort_unstable();
        for id in durable {
            self.journal.remove(id.to_be_bytes())?;
        }
        Ok(())
    }

    /// Returns once every write made before the call is durable.
    pub(crate) async fn commit(self: &Arc<Self>) -> Result<()> {
        let mut finished = self.finished.subscribe();
        let (needed, leads) = {
            let mut schedule = self.schedule();
            if schedule.running {
                // The running flush may have started before our writes: the next one covers them.
                schedule.wanted = true;
                (schedule.started + 1, false)
            } else {
                schedule.running = true;
                schedule.started += 1;
                (schedule.started, true)
            }
        };
        if leads {
            self.lead();
        }
        loop {
            {
                let last = finished.borrow_and_update();
                if last.generation >= needed {
                    return match &last.error {
                        None => Ok(()),
                        Some(error) => Err(Error::Internal(format!("flushing the store: {error}"))),
                    };
                }
            }
            finished
                .changed()
                .await
                .map_err(|_| Error::Internal("the store's flusher stopped".into()))?;
        }
    }

    /// Runs the flush a commit started: on the commit's own thread where the runtime can lend it
    /// (a multi-threaded one), handing any flush wanted after it to the blocking pool; else all of
    /// them on the blocking pool.
    fn lead(self: &Arc<Self>) {
        let lends_its_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if lends_its_thread && !tokio::task::block_in_place(|| self.flush_once()) {
            return;
        }
        let group = self.clone();
        tokio::task::spawn_blocking(move || group.flush_while_wanted());
    }

    /// Runs on the blocking pool: flushes, then again as long as commits arrived during a flush.
    fn flush_while_wanted(&self) {
        while self.flush_once() {}
    }

    /// One flush, its outcome told to the commits waiting on it; whether commits arrived meanwhile,
    /// which need another (already counted as started).
    fn flush_once(&self) -> bool {
        let error = self.flush().err().map(|err| err.to_string());
        let (generation, again) = {
            let mut schedule = self.schedule();
            let generation = schedule.started;
            if schedule.wanted {
                schedule.wanted = false;
                schedule.started += 1;
                (generation, true)
            } else {
                schedule.running = false;
                (generation, false)
            }
        };
        // Once this flusher stopped, another may start and finish first: never go back.
        self.finished.send_if_modified(|finished| {
            let newer = generation > finished.generation;
            if newer {
                *finished = Finished { generation, error };
            }
            newer
        });
        again
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_all_return_once_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let group = GroupCommit::new(db.clone(), db.open_tree("journal").unwrap());
        let mut commits = tokio::task::JoinSet::new();
        for i in 0..64u32 {
            let (group, db) = (group.clone(), db.clone());
            commits.spawn(async move {
                db.insert(i.to_be_bytes(), &[1]).unwrap();
                group.commit().await
            });
        }
        while let Some(commit) = commits.join_next().await {
            commit.unwrap().unwrap();
        }
        let flushes = group.finished.borrow().generation;
        assert!((1..=64).contains(&flushes), "{flushes} flushes");
        group.commit().await.unwrap();
        assert!(
            group.finished.borrow().generation > flushes,
            "a later commit waits for a later flush"
        );
    }
}
