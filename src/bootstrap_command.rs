//! `parley bootstrap`: runs a discovery node with no users, the DHT entry point nodes name with
//! `--bootstrap`. Prints its full multiaddr (with `/p2p/<peer id>`) and serves until Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use bootstrap::{Bootstrap, Config, Multiaddr};
use clap::Args;
use tracing_subscriber::EnvFilter;

#[derive(Args, Debug)]
pub(crate) struct BootstrapArgs {
    /// The node's Ed25519 key (created on first start, so its PeerId stays the same).
    #[arg(long, env = "PARLEY_BOOTSTRAP_KEY_FILE", default_value = "./bootstrap.key")]
    key_file: PathBuf,

    /// QUIC address to listen on.
    #[arg(
        long,
        env = "PARLEY_BOOTSTRAP_LISTEN",
        default_value = "/ip4/0.0.0.0/udp/4001/quic-v1"
    )]
    listen: Multiaddr,

    /// Log filter, e.g. `info`.
    #[arg(long, env = "PARLEY_LOG", default_value = "info")]
    log: String,
}

pub(crate) fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("invalid --log filter")?)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let node = Bootstrap::start(&Config::new(&args.key_file, args.listen.clone()))
            .await
            .context("starting the bootstrap node")?;
        println!("parley bootstrap node {}; nodes can use:", node.peer_id());
        for address in node.addresses() {
            println!("  --bootstrap {address}");
        }
        node.run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}
