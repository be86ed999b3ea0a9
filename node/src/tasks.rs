//! Every task a node spawns, so that they all end together. A node that shares its process and runtime
//! with others (a simulation runs hundreds in one) can then be stopped as a power loss would stop it,
//! with none of its work carrying on against its store, while the others go on.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The node's task set; clones share it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tasks {
    halted: CancellationToken,
}

impl Tasks {
    /// Spawns `task` on the current runtime; it is dropped where it stands if the node halts first,
    /// and the handle then yields `None`.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(self.halted.clone().run_until_cancelled_owned(task))
    }

    /// Drops every task spawned here, now and from now on, without letting any finish.
    pub(crate) fn halt(&self) {
        self.halted.cancel();
    }
}

/// The swarm spawns each connection's task here.
impl libp2p::swarm::Executor for Tasks {
    fn exec(&self, future: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) {
        self.spawn(future);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_halt_drops_running_and_later_tasks() {
        let tasks = Tasks::default();
        let running = tasks.spawn(std::future::pending::<()>());
        tasks.halt();
        assert_eq!(running.await.expect("joined"), None);
        assert_eq!(tasks.spawn(async { 1 }).await.expect("joined"), None);
    }

    #[tokio::test]
    async fn a_task_that_ends_before_a_halt_yields_its_output() {
        let tasks = Tasks::default();
        assert_eq!(tasks.spawn(async { 7 }).await.expect("joined"), Some(7));
    }
}
