//! `parley bootstrap`: runs a discovery node with no users, the DHT entry point nodes name with
//! `--bootstrap`. Prints its full multiaddr (with `/p2p/<peer id>`) and serves until Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bootstrap::{Bootstrap, Config, Multiaddr};
use clap::Args;
use tracing_subscriber::EnvFilter;

#[derive(Args, Debug)]
pub(crate) struct BootstrapArgs {
    /// The node's Ed25519 key (created on first start, so its PeerId stays the same).
    #[arg(long, env = "PARLEY_BOOTSTRAP_KEY_FILE", default_value = "./bootstrap.key")]
    key_file: PathBuf,

    /// An address to listen on: QUIC (`/ip4/../udp/<port>/quic-v1`) or TCP (`/ip4/../tcp/<port>`, for
    /// nodes whose networks block UDP); repeatable.
    #[arg(
        long,
        env = "PARLEY_BOOTSTRAP_LISTEN",
        value_delimiter = ',',
        default_values = ["/ip4/0.0.0.0/udp/4001/quic-v1", "/ip4/0.0.0.0/tcp/4001"]
    )]
    listen: Vec<Multiaddr>,

    /// The address nodes reach this node at, when it is not one it listens on (behind NAT, or a name
    /// such as `/dns4/bootstrap/udp/4001/quic-v1` in a container network); printed and written with
    /// `/p2p/<peer id>` instead of the listen addresses. Repeatable.
    #[arg(long, env = "PARLEY_BOOTSTRAP_ANNOUNCE", value_delimiter = ',')]
    announce: Vec<Multiaddr>,

    /// Also write the full addresses, one a line, to this file (replaced atomically at each start),
    /// so nodes started by a script can read the PeerId instead of an operator copying it.
    #[arg(long, env = "PARLEY_BOOTSTRAP_ADDRESS_FILE")]
    address_file: Option<PathBuf>,

    /// Relay for nodes behind NAT (libp2p circuit relay v2, whose circuits DCUtR then replaces with
    /// direct connections where hole punching works) and answer their AutoNAT probes. Costs bandwidth
    /// for nodes that cannot punch through; needs addresses nodes can reach (`--listen` on a public
    /// address, or `--announce`).
    #[arg(long, env = "PARLEY_BOOTSTRAP_RELAY")]
    relay: bool,

    /// Log filter, e.g. `info`.
    #[arg(long, env = "PARLEY_LOG", default_value = "info")]
    log: String,
}

pub(crate) fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log).context("invalid --log filter")?)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut config = Config::new(&args.key_file, args.listen.clone());
        config.relay = args.relay;
        config.external = args.announce.iter().map(without_peer).collect();
        let node = Bootstrap::start(&config).await.context("starting the bootstrap node")?;
        let peer = node.peer_id();
        let addresses = if args.announce.is_empty() {
            node.addresses()
        } else {
            args.announce
                .iter()
                .map(|address| {
                    address.clone().with_p2p(peer).map_err(|address| {
                        anyhow::anyhow!("--announce {address} names another peer than this node's {peer}")
                    })
                })
                .collect::<anyhow::Result<_>>()?
        };
        if let Some(path) = &args.address_file {
            write_addresses(path, &addresses).with_context(|| format!("writing --address-file {}", path.display()))?;
        }
        println!("parley bootstrap node {peer}; nodes can use:");
        for address in &addresses {
            println!("  --bootstrap {address}");
        }
        node.run(crate::signals::shutdown_signal()).await;
        Ok(())
    })
}

/// `address` without a trailing `/p2p/<peer id>`.
fn without_peer(address: &Multiaddr) -> Multiaddr {
    let mut address = address.clone();
    if matches!(address.iter().last(), Some(bootstrap::Protocol::P2p(_))) {
        address.pop();
    }
    address
}

/// Writes beside the file and renames, so a reader polling for it never sees half an address.
fn write_addresses(path: &Path, addresses: &[Multiaddr]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let text: String = addresses.iter().map(|address| format!("{address}\n")).collect();
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}
