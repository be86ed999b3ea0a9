use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::scenario::{FaultKind, NodeRef};
use crate::{ConversationKind, FaultEvent};

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text).unwrap_or_else(|e| panic!("{e}"))
}

fn example(name: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(path).unwrap()
}

/// Large enough for the statistics to settle: 20 × 200 users, thousands of conversations, about
/// 100 000 messages.
const LARGE: &str = r#"
seed = 99
duration = "100s"

[nodes]
count = 20

[users]
per_node = 200

[conversations]
dms = 3000
groups = 1000
group_size = { min = 3, max = 30 }
group_size_distribution = "zipf"
zipf_exponent = 1.0
cross_node_fraction = 0.3

[traffic]
rate_per_user = 0.25
size = { min = 10, max = 2000 }
size_distribution = "lognormal"
size_median = 120
start_after = "10s"
"#;

#[test]
fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
    for name in ["smoke", "partition", "crash", "regions"] {
        let scenario = example(name);
        assert_eq!(Plan::generate(&scenario), Plan::generate(&scenario), "{name}");
    }
    let smoke = include_str!("../../scenarios/smoke.toml");
    let reseeded = scenario(&smoke.replace("seed = 1", "seed = 2"));
    let (a, b) = (Plan::generate(&scenario(smoke)), Plan::generate(&reseeded));
    assert_ne!(a.conversations, b.conversations);
    assert_ne!(a.messages, b.messages);
    assert_eq!(a.users, b.users);
}

#[test]
fn changing_traffic_keeps_the_conversations() {
    let smoke = include_str!("../../scenarios/smoke.toml");
    let busier = scenario(&smoke.replace("rate_per_user = 0.2", "rate_per_user = 0.4"));
    let (a, b) = (Plan::generate(&scenario(smoke)), Plan::generate(&busier));
    assert_eq!(a.conversations, b.conversations);
    assert!(b.messages.len() > a.messages.len());
}

#[test]
fn users_have_valid_unique_usernames_on_their_nodes() {
    let plan = Plan::generate(&example("smoke"));
    assert_eq!(plan.users.len(), 24);
    let names: BTreeSet<&str> = plan.users.iter().map(|user| user.username.as_str()).collect();
    assert_eq!(names.len(), plan.users.len());
    for (i, user) in plan.users.iter().enumerate() {
        assert_eq!((user.index, user.node), (i, i / 6));
        let valid = user
            .username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(valid && (3..=32).contains(&user.username.len()), "{}", user.username);
    }
    assert_eq!(plan.users[7].username, "u1_1");
}

fn check_conversations(scenario: &Scenario, plan: &Plan) {
    let config = scenario.conversations();
    let node = |user: usize| plan.users[user].node;
    assert_eq!(plan.conversations.len(), config.dms + config.groups);
    for (i, conversation) in plan.conversations.iter().enumerate() {
        assert_eq!(conversation.index, i);
        assert_eq!(conversation.host, conversation.members[0]);
        let distinct: BTreeSet<usize> = conversation.members.iter().copied().collect();
        assert_eq!(distinct.len(), conversation.members.len(), "{conversation:?}");
        match conversation.kind {
            ConversationKind::Dm => assert_eq!(conversation.members.len(), 2),
            ConversationKind::Group => {
                let size = conversation.members.len();
                assert!(
                    (config.group_size.min..=config.group_size.max).contains(&size),
                    "{conversation:?}"
                );
            }
        }
        let nodes: BTreeSet<usize> = conversation.members.iter().map(|&user| node(user)).collect();
        if conversation.cross_node {
            assert!(nodes.len() >= 2, "{conversation:?}");
        } else {
            assert_eq!(nodes, BTreeSet::from([node(conversation.host)]), "{conversation:?}");
        }
    }
}

#[test]
fn conversations_keep_their_invariants() {
    for name in ["smoke", "partition", "crash", "regions"] {
        let scenario = example(name);
        check_conversations(&scenario, &Plan::generate(&scenario));
    }
    let large = scenario(LARGE);
    let plan = Plan::generate(&large);
    check_conversations(&large, &plan);
    let cross = plan.conversations.iter().filter(|c| c.cross_node).count() as f64;
    let fraction = cross / plan.conversations.len() as f64;
    assert!((fraction - 0.3).abs() < 0.01, "{fraction}");
    // Zipf group sizes favour the smallest.
    let groups: Vec<usize> = plan
        .conversations
        .iter()
        .filter(|c| c.kind == ConversationKind::Group)
        .map(|c| c.members.len())
        .collect();
    let smallest = groups.iter().filter(|&&size| size == 3).count();
    assert!(smallest > groups.len() / 5, "{smallest} of {}", groups.len());
}

#[test]
fn popular_users_are_in_more_conversations() {
    let plan = Plan::generate(&scenario(LARGE));
    let mut memberships = vec![0usize; plan.users.len()];
    for conversation in &plan.conversations {
        for &member in &conversation.members {
            memberships[member] += 1;
        }
    }
    memberships.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = memberships[..40].iter().sum();
    let total: usize = memberships.iter().sum();
    // With Zipf(1) over 4000 users the top 1% hold about a third of the weight.
    assert!(top * 5 > total, "top 40 users hold {top} of {total} memberships");
}

#[test]
fn the_message_schedule_follows_the_traffic_section() {
    let large = scenario(LARGE);
    let plan = Plan::generate(&large);
    let traffic = large.traffic();
    assert!(plan.messages.windows(2).all(|pair| pair[0].at <= pair[1].at));
    let mut senders = BTreeSet::new();
    for message in &plan.messages {
        assert!(
            message.at >= traffic.start_after && message.at < large.duration(),
            "{message:?}"
        );
        assert!(
            (traffic.size.min..=traffic.size.max).contains(&message.size),
            "{message:?}"
        );
        assert!(
            plan.conversations[message.conversation]
                .members
                .contains(&message.sender),
            "{message:?}"
        );
        senders.insert(message.sender);
    }
    let in_conversations: BTreeSet<usize> = plan
        .conversations
        .iter()
        .flat_map(|c| c.members.iter().copied())
        .collect();
    assert!(senders.is_subset(&in_conversations));
    let expected = in_conversations.len() as f64 * traffic.rate_per_user * 90.0;
    let measured = plan.messages.len() as f64;
    assert!(
        (measured / expected - 1.0).abs() < 0.1,
        "{measured} messages, {expected} expected"
    );
    let mut sizes: Vec<usize> = plan.messages.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    assert!((100..=145).contains(&median), "median size {median}");
}

#[test]
fn uniform_sizes_stay_in_bounds() {
    let scenario = example("smoke");
    let plan = Plan::generate(&scenario);
    assert!(!plan.messages.is_empty());
    assert!(plan.messages.iter().all(|m| (16..=512).contains(&m.size)));
    assert!(plan.messages.iter().all(|m| m.at >= Duration::from_secs(5)));
}

#[test]
fn the_fault_timeline_is_flattened_in_time_order() {
    let regions = example("regions");
    let plan = Plan::generate(&regions);
    let events: Vec<(u64, &FaultEvent)> = plan.faults.iter().map(|f| (f.at.as_secs(), &f.event)).collect();
    let eu = vec![NodeRef::Node(0), NodeRef::Node(1), NodeRef::Bootstrap(0)];
    let ap = vec![NodeRef::Node(4), NodeRef::Node(5)];
    let FaultKind::Link { between, change, .. } = regions.faults()[2].kind else {
        panic!("not a link fault")
    };
    assert_eq!(
        events,
        [
            (30, &FaultEvent::Crash { node: 3 }),
            (50, &FaultEvent::Restart { node: 3 }),
            (60, &FaultEvent::Partition { sides: [eu, ap] }),
            (90, &FaultEvent::Heal),
            (120, &FaultEvent::SetLink { between, change }),
            (150, &FaultEvent::RestoreLink { between }),
            (150, &FaultEvent::BootstrapDown { bootstrap: 0 }),
            (
                180,
                &FaultEvent::FloodStart {
                    node: 5,
                    target: 0,
                    rate: 500.0
                }
            ),
            (200, &FaultEvent::FloodStop { node: 5, target: 0 }),
            (210, &FaultEvent::BootstrapUp { bootstrap: 0 }),
            (
                240,
                &FaultEvent::Forge {
                    node: 5,
                    target: 2,
                    count: 50
                }
            ),
        ]
    );
    assert_eq!(plan.faults[1].fault, 0);
}

#[test]
fn ends_after_the_run_are_dropped() {
    let crash =
        include_str!("../../scenarios/crash.toml").replace("restart_after = \"15s\"", "restart_after = \"40s\"");
    let plan = Plan::generate(&scenario(&crash));
    assert_eq!(plan.faults.len(), 1);
    assert_eq!(plan.faults[0].event, FaultEvent::Crash { node: 1 });
}
