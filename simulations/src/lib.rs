//! Simulated Parley deployments: a TOML [`Scenario`] describes the nodes, users, traffic, network and
//! faults, and [`Plan::generate`] draws from its seed every random choice of a run (who talks to whom,
//! when each message is sent, when faults start and end), so any engine replays the same run.
//! [`SimNetwork`] then carries real nodes' libp2p connections within one process, through a link model
//! (latency, jitter, bandwidth, loss) and the partitions and crashes of the fault timeline, and [`run`]
//! plays a scenario on real nodes in this process (engine 1) and measures what they delivered.
//! [`run_processes`] plays it on real `parley node` processes over loopback QUIC (engine 2), driven by
//! real clients, and [`drive`] drives such clients alone against nodes run elsewhere; both write the
//! same outputs as engine 1. [`export`] writes what Docker Compose or Kubernetes need to run a scenario
//! across machines, with [`drive`] as its workload.
#![deny(missing_docs, unreachable_pub)]

mod clock;
mod driver;
mod engine;
mod error;
mod export;
mod figures;
mod network;
mod plan;
mod processes;
mod progress;
mod scenario;

pub use clock::Clock;
pub use driver::{Endpoints, drive};
pub use engine::{Attacks, Convergence, Latency, Refusal, RunOptions, Summary, run};
pub use error::Error;
pub use export::{ExportOptions, Target, export};
pub use figures::plot_scaling;
pub use network::{LinkBytes, LinkModel, SimNetwork};
pub use plan::{ConversationKind, FaultEvent, Plan, PlannedConversation, PlannedMessage, PlannedUser, TimedFault};
pub use processes::{ProcessOptions, run_processes};
pub use scenario::{
    Conversations, Fault, FaultKind, GroupSizeDistribution, Link, LinkChange, LinkScope, Network, NodeRef, Nodes,
    Region, Scenario, SizeDistribution, SizeRange, Traffic, Users,
};
