//! The workload driver: the workload engine 1 plays, played instead by real clients of real nodes, over
//! their HTTP and WebSocket API with the client SDK. Each planned user registers on its node (which
//! publishes its keys), the first member of each conversation creates it by the others' handles, every
//! user keeps a WebSocket listener that decrypts what arrives, and each message is sent at its planned
//! time. What the clients see goes into the same recorder, and out through the same summary and report,
//! as engine 1's, so the outputs of every engine compare line by line.
//!
//! Engine 2 (`crate::processes`) runs it against node processes it starts; [`drive`] runs it alone
//! against nodes someone else runs (containers, other machines), and so injects no faults.

mod clients;
mod watch;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::Client;
use protocol::{ConversationId, MessageId};

use crate::Error;
use crate::engine::{
    Costs, Outcome, Recorder, Report, RunOptions, Sample, Summary, after_recoveries, cpu_seconds, drain, pace,
    peak_rss_bytes, report_progress,
};
use crate::plan::Plan;
use crate::scenario::Scenario;

/// How long the driver waits for its own tasks to end once told to (they only have to notice).
const WIND_DOWN: Duration = Duration::from_secs(10);

/// The base URL of every node of a scenario, by node index: where its users register and connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    urls: Vec<String>,
}

impl Endpoints {
    /// Matches `given` (node name, base URL such as `http://10.0.0.5:8080`) to the scenario's nodes.
    /// Every user-hosting node must be given exactly once, and nothing else; bootstrap nodes host no
    /// users, so the driver needs none of theirs.
    pub fn new(scenario: &Scenario, given: &[(String, String)]) -> Result<Self, Error> {
        let names = scenario.nodes().names();
        let mut urls: Vec<Option<String>> = vec![None; names.len()];
        for (name, url) in given {
            let wrong = |reason: String| Error::Deployment {
                node: name.clone(),
                reason,
            };
            let index = names.iter().position(|known| known == name).ok_or_else(|| {
                wrong(format!(
                    "the scenario has no such node (its nodes: {})",
                    names.join(", ")
                ))
            })?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(wrong(format!("{url:?} is not an http:// or https:// URL")));
            }
            if urls[index].replace(url.trim_end_matches('/').to_owned()).is_some() {
                return Err(wrong("given twice".to_owned()));
            }
        }
        let urls = urls
            .into_iter()
            .zip(names)
            .map(|(url, name)| {
                url.ok_or_else(|| Error::Deployment {
                    node: name.clone(),
                    reason: format!("no URL given (--node {name}=http://HOST:PORT)"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { urls })
    }

    /// Node `i`'s URL is `urls[i]`: for an engine that started the nodes itself.
    pub(crate) fn from_urls(urls: Vec<String>) -> Self {
        Self { urls }
    }
}

/// Runs `scenario`'s workload against nodes already running at `endpoints`, and writes the outputs engine
/// 1 writes. The fault timeline is not played: whoever runs the nodes injects faults, if any. The nodes
/// must be fresh (the plan's usernames free) and, for anything but a small scenario, run with
/// `--rate-limits off`.
pub async fn drive(scenario: &Scenario, endpoints: &Endpoints, options: &RunOptions) -> Result<Summary, Error> {
    let wall = Instant::now();
    let cpu_before = cpu_seconds();
    let mut notes = vec![
        "bytes_on_wire and connections are not measured: the nodes talk real QUIC, which the driver does not see"
            .to_owned(),
        "cpu_seconds and peak_rss_bytes are the driver's own; the nodes run elsewhere".to_owned(),
    ];
    if !scenario.faults().is_empty() {
        notes.push("the scenario's faults were not injected by the driver".to_owned());
    }
    let driver = Driver::set_up(scenario, Arc::new(Plan::generate(scenario)), endpoints, options).await?;
    let finished = driver.run(std::future::ready(())).await;
    let costs = Costs {
        bytes_on_wire: 0,
        wall_seconds: wall.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu_before,
        peak_rss_bytes: peak_rss_bytes(),
        peak_rss_per_node_bytes: 0,
    };
    finished.report(scenario, "driver", costs, false, notes)
}

/// What the clients' tasks share.
struct Shared {
    plan: Arc<Plan>,
    clients: Vec<Client>,
    conversations: Vec<ConversationId>,
    recorder: Arc<Recorder>,
    /// The node's id of each acknowledged message, so a copy the SDK rejects (its plaintext unknown)
    /// can still be told apart.
    acknowledged: Mutex<HashMap<MessageId, usize>>,
    /// Copies the SDK could not decrypt, as (message id, recipient user).
    rejected: Mutex<Vec<(MessageId, usize)>>,
}

/// A driver whose users are registered and conversations created, ready to play the traffic.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    user_nodes: Arc<Vec<usize>>,
    endpoints: Endpoints,
    duration: Duration,
    options: RunOptions,
    start: tokio::time::Instant,
    listeners: tokio::task::JoinSet<()>,
}

impl Driver {
    /// Registers every planned user on its node (profiles under `<out>/clients/<username>`), creates the
    /// conversations, starts each user's listener, and starts the run's clock.
    pub(crate) async fn set_up(
        scenario: &Scenario,
        plan: Arc<Plan>,
        endpoints: &Endpoints,
        options: &RunOptions,
    ) -> Result<Self, Error> {
        let say = |line: String| {
            if options.progress {
                eprintln!("[simulate] {line}");
            }
        };
        let profiles = options.out_dir.join("clients");
        std::fs::create_dir_all(&profiles).map_err(|source| Error::Io {
            path: profiles.clone(),
            source,
        })?;
        let set_up = Instant::now();
        say(format!("registering {} users", plan.users.len()));
        let clients = clients::register(&plan, &endpoints.urls, &profiles, &say).await?;
        say(format!("creating {} conversations", plan.conversations.len()));
        let conversations = clients::create_conversations(&plan, scenario.nodes().names(), &clients, &say).await?;
        say(format!(
            "set up in {:.1}s; sending {} messages over {:?}",
            set_up.elapsed().as_secs_f64(),
            plan.messages.len(),
            scenario.duration()
        ));
        // The clock of the run starts once everyone is set up: planned times are from here.
        let start = tokio::time::Instant::now();
        let shared = Arc::new(Shared {
            recorder: Arc::new(Recorder::new(start, plan.messages.len())),
            plan: plan.clone(),
            clients,
            conversations,
            acknowledged: Mutex::new(HashMap::new()),
            rejected: Mutex::new(Vec::new()),
        });
        let mut listeners = tokio::task::JoinSet::new();
        for user in 0..plan.users.len() {
            listeners.spawn(clients::listen(shared.clone(), user));
        }
        Ok(Self {
            shared,
            user_nodes: Arc::new(plan.users.iter().map(|user| user.node).collect()),
            endpoints: endpoints.clone(),
            duration: scenario.duration(),
            options: options.clone(),
            start,
            listeners,
        })
    }

    /// When traffic starts: planned times (messages and faults) count from here.
    pub(crate) fn start(&self) -> tokio::time::Instant {
        self.start
    }

    /// Sends every message at its time while `faults` plays the fault timeline (it is dropped when the
    /// run ends), waits for the deliveries (up to the drain timeout), then stops every client.
    pub(crate) async fn run(mut self, faults: impl Future<Output = ()> + Send + 'static) -> Finished {
        let Shared { plan, recorder, .. } = &*self.shared;
        let give_up = self.start + self.duration + self.options.drain_timeout;
        let faults = tokio::spawn(faults);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sampling = tokio::spawn(watch::sample(
            self.endpoints.urls.clone(),
            self.shared.clone(),
            self.user_nodes.clone(),
            samples.clone(),
        ));
        let progress = self
            .options
            .progress
            .then(|| tokio::spawn(report_progress(recorder.clone(), plan.messages.len(), self.duration)));
        pace(plan, recorder, |index| {
            let shared = self.shared.clone();
            async move { clients::send(&shared, index, give_up).await }
        })
        .await;
        if !drain(plan, &self.user_nodes, recorder, give_up).await {
            tracing::warn!("the drain timed out with deliveries missing");
        }
        faults.abort();
        sampling.abort();
        if let Some(progress) = progress {
            progress.abort();
        }
        self.listeners.abort_all();
        // A fault half-applied (a node restarting) is dropped before anyone stops the nodes.
        let _ = tokio::time::timeout(WIND_DOWN, async {
            let _ = faults.await;
            while self.listeners.join_next().await.is_some() {}
        })
        .await;
        let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        Finished {
            shared: self.shared,
            user_nodes: self.user_nodes,
            samples,
            out_dir: self.options.out_dir,
        }
    }
}

/// A run that is over: its record, to be summarised once the engine has measured its own costs.
pub(crate) struct Finished {
    shared: Arc<Shared>,
    user_nodes: Arc<Vec<usize>>,
    samples: Vec<Sample>,
    out_dir: PathBuf,
}

impl Finished {
    /// Computes the summary, writes every output into the run directory and returns the summary.
    /// `faults_played` says whether the fault timeline happened (then convergence is measured).
    pub(crate) fn report(
        self,
        scenario: &Scenario,
        engine: &'static str,
        costs: Costs,
        faults_played: bool,
        notes: Vec<String>,
    ) -> Result<Summary, Error> {
        let Shared {
            plan,
            recorder,
            acknowledged,
            rejected,
            ..
        } = &*self.shared;
        let acknowledged = acknowledged.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (message_id, recipient) in rejected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
            match acknowledged.get(message_id) {
                Some(message) => recorder.undecryptable(*message, *recipient),
                None => tracing::warn!(%message_id, recipient, "a copy of an unknown message was rejected"),
            }
        }
        let (sends, deliveries) = (recorder.sends(), recorder.deliveries());
        let outcome = Outcome {
            plan,
            nodes: &self.user_nodes,
            sends: &sends,
            deliveries: &deliveries,
        };
        let names = scenario.nodes().names();
        let mut summary = Summary::new(scenario, plan, engine, outcome.measure(), costs);
        // The SDK always encrypts, whatever the scenario asks.
        summary.encryption = true;
        summary.undecryptable = recorder.undecryptable_count();
        if faults_played {
            summary.convergence = after_recoveries(plan, names, &sends, &deliveries, &self.samples);
        }
        summary.link_model = Some(false);
        summary.notes = notes;
        Report {
            scenario,
            outcome,
            samples: &self.samples,
            names,
            summary: &summary,
        }
        .write(&self.out_dir)?;
        Ok(summary)
    }
}
