//! Stopping on Ctrl-C or SIGTERM (what `docker stop` and systemd send), for the long-running commands.

/// Ctrl-C or SIGTERM. The handlers are installed when this is called, not when it is first awaited, so a
/// signal sent as soon as a command says it serves is never taken by the default action; and as a
/// container's PID 1, which gets no default action for SIGTERM, a command still stops at once.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
