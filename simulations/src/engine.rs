//! Engine 1: a whole federation in this process. Every node is the real `node::Services` on its own
//! sled directory, with its own task set on the shared runtime; the nodes talk libp2p over the
//! simulated network, and simulated users drive them through the services the gateway calls. Time is
//! simulated (`Clock`) unless the run asks for wall time.

mod attacks;
mod clients;
mod cluster;
mod convergence;
mod keys;
mod listeners;
mod names;
mod recorder;
mod report;
mod sampler;
mod summary;

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub use attacks::Attacks;
pub use convergence::Convergence;
pub use summary::{Latency, Refusal, Summary};

// What engine 2 (`crate::processes`) and the driver (`crate::driver`) share with this engine: the
// record, the summary computed from it, and the files written from both, so every engine's outputs
// have one format.
pub(crate) use self::convergence::after_recoveries;
pub(crate) use self::names::{client_message_id, is_plaintext_of, message_index, plaintext};
pub(crate) use self::recorder::Recorder;
pub(crate) use self::report::Report;
pub(crate) use self::sampler::{SAMPLE_EVERY, Sample, per_node};
pub(crate) use self::summary::{Costs, Outcome, cpu_seconds, cpu_seconds_with_children, peak_rss_bytes, peak_rss_of};

use self::clients::{Addressing, SimUser, World};
use self::cluster::Cluster;
use self::listeners::Inbox;
use crate::Error;
use crate::clock::{Clock, Paused};
use crate::network::{LinkModel, SimNetwork};
use crate::plan::{FaultEvent, Plan};
use crate::scenario::{LinkScope, NodeRef, Scenario};

/// Sends in flight at once, across all users (each is a task waiting on a node).
const MAX_SENDS_IN_FLIGHT: usize = 1024;
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where `summary.json` and `deliveries.csv` go (created if missing); node data lives under `data/`.
    pub out_dir: PathBuf,
    /// After the last planned send, how long to wait for every acknowledged message to arrive.
    pub drain_timeout: Duration,
    /// Print a progress line every few seconds (to stderr).
    pub progress: bool,
    /// Engine 1's clock (engine 2 and the driver run in wall time); the runtime must suit it
    /// (`Clock::runtime`).
    pub clock: Clock,
}

impl RunOptions {
    /// Outputs in `out_dir`, a minute to drain, progress shown, simulated time.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            drain_timeout: Duration::from_secs(60),
            progress: true,
            clock: Clock::default(),
        }
    }
}

/// Runs `scenario` in this process and writes its outputs, on a runtime from `options.clock.runtime()`
/// (whose clock is not paused already).
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<Summary, Error> {
    let _paused = Paused::start(options.clock)?;
    let engine = |reason: String| Error::Engine(reason);
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| Error::Io { path, source }
    };
    let data = options.out_dir.join("data");
    std::fs::create_dir_all(&data).map_err(io(&data))?;
    let plan = Plan::generate(scenario);
    let wall = Instant::now();
    let simulated = tokio::time::Instant::now();
    let cpu_before = cpu_seconds();

    let names = scenario.nodes().names();
    // Network slots: the nodes, then the bootstrap nodes (as the cluster numbers them).
    let slots: Vec<&String> = names.iter().chain(scenario.nodes().bootstrap()).collect();
    let links: HashMap<(usize, usize), LinkModel> = (0..slots.len())
        .flat_map(|a| (a + 1..slots.len()).map(move |b| (a, b)))
        .map(|(a, b)| ((a, b), LinkModel::from(scenario.network().link(slots[a], slots[b]))))
        .collect();
    let network = SimNetwork::new(scenario.seed(), LinkModel::from(scenario.network().link("", "")));
    for (&(a, b), link) in &links {
        network.set_link(a, b, *link);
    }
    let say = |line: String| {
        if options.progress {
            eprintln!("[simulate] {line}");
        }
    };
    let bootstraps = scenario.nodes().bootstrap().len();
    say(format!(
        "starting {} nodes and {bootstraps} bootstrap nodes",
        names.len()
    ));
    let cluster = Arc::new(
        Cluster::start(network, names, bootstraps, &data)
            .await
            .map_err(engine)?,
    );
    let encrypt = scenario.traffic().encryption;
    say(format!("registering {} users", plan.users.len()));
    let users = clients::register(&cluster, &plan, encrypt, &say)
        .await
        .map_err(engine)?;
    say(format!("creating {} conversations", plan.conversations.len()));
    let ids = clients::create_conversations(&cluster, &plan, &users, &say)
        .await
        .map_err(engine)?;
    say(format!(
        "set up in {:.1}s; sending {} messages over {:?}",
        wall.elapsed().as_secs_f64(),
        plan.messages.len(),
        scenario.duration()
    ));
    let addressing = Addressing {
        ids,
        devices: users
            .iter()
            .map(|user| (user.actor.user_id, user.actor.device_id))
            .collect(),
    };
    let inboxes: Arc<Vec<Arc<Inbox>>> = Arc::new(
        (0..users.len())
            .map(|index| {
                let theirs = plan.conversations.iter().filter(|c| c.members.contains(&index));
                Arc::new(Inbox::new(index, theirs.map(|c| addressing.ids[c.index])))
            })
            .collect(),
    );
    let users = Arc::new(users);
    let plan = Arc::new(plan);
    let user_nodes: Vec<usize> = plan.users.iter().map(|user| user.node).collect();

    // The clock of the run starts once everyone is set up: planned times are from here.
    let start = tokio::time::Instant::now();
    let recorder = Arc::new(Recorder::new(start, plan.messages.len()));
    for (user, inbox) in users.iter().zip(inboxes.iter()) {
        listeners::connect(&cluster, user, inbox.clone(), recorder.clone()).await;
    }
    let end = start + scenario.duration();
    let tally = Arc::new(attacks::Tally::default());
    let faults = tokio::spawn(inject_faults(
        cluster.clone(),
        (plan.clone(), links),
        (users.clone(), inboxes.clone()),
        (recorder.clone(), tally.clone()),
        start,
    ));
    let observations = Arc::new(Mutex::new(sampler::Observations::default()));
    let sampling = tokio::spawn(sampler::sample(
        cluster.clone(),
        plan.clone(),
        Arc::new(user_nodes.clone()),
        recorder.clone(),
        observations.clone(),
    ));
    let progress = options.progress.then(|| {
        tokio::spawn(report_progress(
            recorder.clone(),
            plan.messages.len(),
            scenario.duration(),
        ))
    });
    let world = Arc::new(World {
        cluster: cluster.clone(),
        plan: plan.clone(),
        users: users.clone(),
        addressing,
        recorder: recorder.clone(),
    });
    let give_up = end + options.drain_timeout;
    pace(&plan, &recorder, |index| {
        let world = world.clone();
        async move { clients::send(&world, index, give_up).await }
    })
    .await;
    let drained = drain(&plan, &user_nodes, &recorder, give_up).await;
    if !drained {
        tracing::warn!("the drain timed out with deliveries missing");
    }
    faults.abort();
    sampling.abort();
    if let Some(progress) = progress {
        progress.abort();
    }
    let bytes_on_wire = cluster.network().total_bytes();
    cluster.shutdown().await;

    let sends = recorder.sends();
    let deliveries = recorder.deliveries();
    let outcome = Outcome {
        plan: &plan,
        nodes: &user_nodes,
        sends: &sends,
        deliveries: &deliveries,
    };
    let observed = std::mem::take(&mut *observations.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    let peak_rss = peak_rss_bytes();
    let costs = Costs {
        bytes_on_wire,
        wall_seconds: wall.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu_before,
        peak_rss_bytes: peak_rss,
        peak_rss_per_node_bytes: peak_rss / names.len().max(1) as u64,
    };
    let mut summary = Summary::new(scenario, &plan, "in-process", outcome.measure(), costs);
    summary.real_time = options.clock.is_wall();
    summary.simulated_seconds = simulated.elapsed().as_secs_f64();
    summary.speed = summary.simulated_seconds / summary.wall_seconds.max(f64::EPSILON);
    summary.undecryptable = recorder.undecryptable_count();
    summary.attacks = tally.report();
    summary.dht_lookup = Latency::of(observed.lookups_ms.clone());
    summary.dht_lookups_failed = observed.failed_lookups;
    summary.peak_connections = Some(observed.peak_connections);
    summary.convergence = after_recoveries(&plan, names, &sends, &deliveries, &observed.samples);
    Report {
        scenario,
        outcome,
        samples: &observed.samples,
        names,
        summary: &summary,
    }
    .write(&options.out_dir)?;
    Ok(summary)
}

/// Starts `send(index)` for every planned message at its time (from the recorder's start), each in a
/// task of its own, at most `MAX_SENDS_IN_FLIGHT` at once, and waits for them all.
pub(crate) async fn pace<F, Fut>(plan: &Plan, recorder: &Recorder, send: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = tokio::time::Instant::now() - recorder.now();
    let slots = Arc::new(Semaphore::new(MAX_SENDS_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, planned) in plan.messages.iter().enumerate() {
        tokio::time::sleep_until(start + planned.at).await;
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let sending = send(index);
        tasks.spawn(async move {
            sending.await;
            drop(slot);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Waits until every acknowledged message reached every recipient, or `until`; says whether it did.
/// `user_nodes` is each user's home node.
pub(crate) async fn drain(plan: &Plan, user_nodes: &[usize], recorder: &Recorder, until: tokio::time::Instant) -> bool {
    loop {
        let (sends, deliveries) = (recorder.sends(), recorder.deliveries());
        let outcome = Outcome {
            plan,
            nodes: user_nodes,
            sends: &sends,
            deliveries: &deliveries,
        };
        if outcome.settled() {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Applies the fault timeline at its times; `scenario_links` are the scenario's links, every pair of
/// nodes (bootstrap nodes too), which a link fault's end restores.
async fn inject_faults(
    cluster: Arc<Cluster>,
    (plan, scenario_links): (Arc<Plan>, HashMap<(usize, usize), LinkModel>),
    (users, inboxes): (Arc<Vec<SimUser>>, Arc<Vec<Arc<Inbox>>>),
    (recorder, tally): (Arc<Recorder>, Arc<attacks::Tally>),
    start: tokio::time::Instant,
) {
    let mut floods: HashMap<(usize, usize), tokio::task::JoinHandle<()>> = HashMap::new();
    let node_indices = |sides: &[NodeRef]| -> Vec<usize> {
        sides
            .iter()
            .map(|node| match node {
                NodeRef::Node(index) => *index,
                NodeRef::Bootstrap(index) => cluster.names().len() + index,
            })
            .collect()
    };
    for timed in &plan.faults {
        tokio::time::sleep_until(start + timed.at).await;
        tracing::info!(at = ?timed.at, event = ?timed.event, "fault");
        match &timed.event {
            FaultEvent::Crash { node } => cluster.crash(*node),
            FaultEvent::Restart { node } => {
                if let Err(err) = cluster.restart(*node).await {
                    tracing::error!(error = %err, "a crashed node did not restart");
                    continue;
                }
                for (user, inbox) in users.iter().zip(inboxes.iter()).filter(|(user, _)| user.node == *node) {
                    listeners::connect(&cluster, user, inbox.clone(), recorder.clone()).await;
                }
            }
            FaultEvent::Partition { sides } => {
                cluster
                    .network()
                    .partition(&node_indices(&sides[0]), &node_indices(&sides[1]));
            }
            FaultEvent::Heal => cluster.network().heal(),
            FaultEvent::SetLink { between, change } => {
                for (a, b) in links(between, &scenario_links, &node_indices) {
                    let mut link = cluster.network().link(a, b);
                    link.latency = change.latency.unwrap_or(link.latency);
                    link.jitter = change.jitter.unwrap_or(link.jitter);
                    link.loss = change.loss.unwrap_or(link.loss);
                    cluster.network().set_link(a, b, link);
                }
            }
            FaultEvent::RestoreLink { between } => {
                for (a, b) in links(between, &scenario_links, &node_indices) {
                    let link = scenario_links.get(&(a.min(b), a.max(b))).copied().unwrap_or_default();
                    cluster.network().set_link(a, b, link);
                }
            }
            FaultEvent::BootstrapDown { bootstrap } => cluster.bootstrap_down(*bootstrap),
            FaultEvent::BootstrapUp { bootstrap } => {
                if let Err(err) = cluster.bootstrap_up(*bootstrap).await {
                    tracing::error!(error = %err, "a bootstrap node did not restart");
                }
            }
            FaultEvent::FloodStart { node, target, rate } => {
                let flood = attacks::flood(cluster.clone(), *node, *target, *rate, tally.clone());
                floods.insert((*node, *target), tokio::spawn(flood));
            }
            FaultEvent::FloodStop { node, target } => {
                if let Some(flood) = floods.remove(&(*node, *target)) {
                    flood.abort();
                }
            }
            FaultEvent::Forge { node, target, count } => {
                attacks::forge(&cluster, *node, *target, *count, &tally).await;
            }
        }
    }
    // The run goes on after the last fault; floods end with it (this task is aborted then).
    std::future::pending::<()>().await;
}

/// The links a link fault names: every pair of nodes (bootstrap nodes too), or one pair.
fn links(
    between: &LinkScope,
    all: &HashMap<(usize, usize), LinkModel>,
    index: &dyn Fn(&[NodeRef]) -> Vec<usize>,
) -> Vec<(usize, usize)> {
    match between {
        LinkScope::All => all.keys().copied().collect(),
        LinkScope::Between(a, b) => {
            let pair = index(&[*a, *b]);
            vec![(pair[0], pair[1])]
        }
    }
}

/// Shows how far the run is: a progress bar (simulated time, messages acknowledged, copies delivered)
/// when stderr is a terminal, otherwise a plain line every few seconds, which logs keep readable.
pub(crate) async fn report_progress(recorder: Arc<Recorder>, planned: usize, duration: Duration) {
    if !std::io::stderr().is_terminal() {
        let mut every = tokio::time::interval(PROGRESS_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let (acked, delivered) = recorder.counts();
            eprintln!(
                "[simulate] t={:.0}s acknowledged {acked}/{planned} messages, {delivered} deliveries",
                recorder.now().as_secs_f64()
            );
        }
    }
    let bar = indicatif::ProgressBar::new(duration.as_secs().max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template("[simulate] {bar:30} {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        every.tick().await;
        let (acked, delivered) = recorder.counts();
        bar.set_position(recorder.now().as_secs().min(bar.length().unwrap_or(u64::MAX)));
        bar.set_message(format!("acknowledged {acked}/{planned}, delivered {delivered}"));
    }
}
