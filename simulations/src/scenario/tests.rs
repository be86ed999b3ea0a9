use std::time::Duration;

use super::*;

/// A valid scenario that each refusal test breaks in one place.
const BASE: &str = r#"
seed = 1
duration = "30s"

[nodes]
count = 3
names = ["a", "b", "c"]

[users]
per_node = 4

[conversations]
dms = 2
groups = 1
group_size = { min = 3, max = 4 }

[traffic]
rate_per_user = 1.0
"#;

fn examples() -> Vec<(String, Scenario)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut scenarios: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| {
            let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_stem().unwrap().to_string_lossy().into_owned(), scenario)
        })
        .collect();
    scenarios.sort_by(|a, b| a.0.cmp(&b.0));
    scenarios
}

#[test]
fn every_example_scenario_is_valid() {
    let names: Vec<String> = examples().into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        [
            "crash",
            "early-crash",
            "joining-300",
            "partition",
            "regions",
            "scale-100",
            "scale-1000",
            "scale-100x1000",
            "smoke"
        ]
    );
}

#[test]
fn smoke_has_five_nodes_one_of_them_bootstrap() {
    let (_, smoke) = examples().into_iter().find(|(name, _)| name == "smoke").unwrap();
    assert_eq!(smoke.nodes().names().len() + smoke.nodes().bootstrap().len(), 5);
    assert_eq!(smoke.nodes().bootstrap(), ["bootstrap-0"]);
    assert_eq!(smoke.nodes().find("node-3"), Some(NodeRef::Node(3)));
    assert_eq!(smoke.nodes().find("bootstrap-0"), Some(NodeRef::Bootstrap(0)));
    assert_eq!(smoke.nodes().find("node-4"), None);
    assert!(smoke.faults().is_empty());
}

#[test]
fn regions_example_has_every_fault_kind_and_a_latency_matrix() {
    let (_, regions) = examples().into_iter().find(|(name, _)| name == "regions").unwrap();
    let kinds: Vec<&str> = regions
        .faults()
        .iter()
        .map(|fault| match fault.kind {
            FaultKind::Crash { .. } => "crash",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Link { .. } => "link",
            FaultKind::BootstrapDown { .. } => "bootstrap_down",
            FaultKind::Flood { .. } => "flood",
            FaultKind::Forge { .. } => "forge",
        })
        .collect();
    assert_eq!(
        kinds,
        ["crash", "partition", "link", "bootstrap_down", "flood", "forge"]
    );
    let network = regions.network();
    assert_eq!(network.link("eu-1", "us-2").latency, Duration::from_millis(80));
    assert_eq!(network.link("ap-1", "bootstrap-1").latency, Duration::from_millis(120));
    assert_eq!(network.link("us-1", "ap-2").latency, Duration::from_millis(120));
    let local = network.link("eu-1", "eu-2");
    assert_eq!(local.latency, Duration::from_millis(2));
    assert_eq!(local.jitter, Duration::from_millis(1));
    assert_eq!(local.bandwidth_bytes_per_sec, 125_000_000);
    assert_eq!(local.loss, 0.001);
}

#[test]
fn defaults_fill_what_is_left_out() {
    let scenario = Scenario::from_toml(BASE).unwrap();
    assert_eq!(scenario.name(), None);
    assert_eq!(scenario.nodes().bootstrap().len(), 1);
    assert_eq!(scenario.conversations().cross_node_fraction, 0.5);
    assert_eq!(scenario.conversations().zipf_exponent, 1.0);
    assert_eq!(
        scenario.conversations().group_size_distribution,
        GroupSizeDistribution::Uniform
    );
    assert!(scenario.traffic().encryption);
    assert_eq!(scenario.traffic().start_after, Duration::ZERO);
    assert_eq!(scenario.traffic().size_distribution, SizeDistribution::Uniform);
    assert!(scenario.network().regions().is_empty());
    let link = scenario.network().link("a", "b");
    assert_eq!((link.latency, link.loss), (Duration::from_millis(10), 0.0));
}

/// Applies `edit` to [`BASE`] (replacing a line, or appending) and returns the refusal's message.
fn refusal(edit: impl FnOnce(String) -> String) -> String {
    let text = edit(BASE.to_owned());
    match Scenario::from_toml(&text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

/// A change to [`BASE`].
type Edit = Box<dyn FnOnce(String) -> String>;

fn replace(from: &'static str, to: &'static str) -> Edit {
    Box::new(move |text| {
        assert!(text.contains(from), "{from:?} not in the base scenario");
        text.replacen(from, to, 1)
    })
}

fn append(more: &'static str) -> Edit {
    Box::new(move |text| text + more)
}

#[test]
fn refusals_name_the_field() {
    let cases: Vec<(Edit, &str)> = vec![
        (replace("rate_per_user = 1.0", "rate_per_usr = 1.0"), "rate_per_usr"),
        (
            replace("rate_per_user = 1.0", "rate_per_user = -1"),
            "traffic.rate_per_user: must be > 0",
        ),
        (replace("duration = \"30s\"", "duration = \"30 seconds\""), "duration: "),
        (replace("duration = \"30s\"", "duration = \"2d\""), "duration: "),
        (
            replace("names = [\"a\", \"b\", \"c\"]", "names = [\"a\", \"b\"]"),
            "nodes.names: lists 2 names",
        ),
        (
            replace("names = [\"a\", \"b\", \"c\"]", "names = [\"a\", \"B\", \"c\"]"),
            "nodes.names[1]: ",
        ),
        (
            replace("names = [\"a\", \"b\", \"c\"]", "names = [\"a\", \"b\", \"a\"]"),
            "nodes.names[2]: ",
        ),
        (replace("count = 3", "count = 0"), "nodes.count: "),
        (replace("per_node = 4", "per_node = 0"), "users.per_node: "),
        (
            replace("{ min = 3, max = 4 }", "{ min = 2, max = 4 }"),
            "conversations.group_size.min: ",
        ),
        (
            replace("{ min = 3, max = 4 }", "{ min = 5, max = 4 }"),
            "conversations.group_size.max: ",
        ),
        (
            replace("{ min = 3, max = 4 }", "{ min = 3, max = 5 }\ncross_node_fraction = 0"),
            "conversations.group_size.max: a local group",
        ),
        (append("zipf_exponent = -1\n"), "unknown field `zipf_exponent`"),
        (
            replace("dms = 2", "dms = 2\nzipf_exponent = -1"),
            "conversations.zipf_exponent: ",
        ),
        (append("start_after = \"30s\"\n"), "traffic.start_after: "),
        (append("size_distribution = \"lognormal\"\n"), "traffic.size_median: "),
        (append("[network]\nloss = 1.5\n"), "network.loss: "),
        (append("[network]\nbandwidth = \"10MB\"\n"), "network.bandwidth: "),
        (
            append("[[faults]]\nkind = \"crash\"\nat = \"1s\"\nnode = \"zeta\"\n"),
            "faults[0].node: no node named \"zeta\"",
        ),
        (
            append("[[faults]]\nkind = \"crash\"\nat = \"31s\"\nnode = \"a\"\n"),
            "faults[0].at: must be before the end",
        ),
        (
            append("[[faults]]\nkind = \"crash\"\nat = \"1s\"\nnode = \"a\"\nrestart_after = \"soon\"\n"),
            "faults[0].restart_after: ",
        ),
        (
            append("[[faults]]\nkind = \"crash\"\nat = \"1s\"\nnode = \"bootstrap-0\"\n"),
            "faults[0].node: ",
        ),
        (
            append("[[faults]]\nkind = \"partition\"\nat = \"1s\"\nsides = [[\"a\", \"b\"], [\"b\", \"c\"]]\n"),
            "faults[0].sides[1][0]: \"b\" is already on a side",
        ),
        (
            append("[[faults]]\nkind = \"partition\"\nat = \"1s\"\nsides = [[\"a\"], []]\n"),
            "faults[0].sides[1]: ",
        ),
        (
            append("[[faults]]\nkind = \"link\"\nat = \"1s\"\nbetween = \"*\"\n"),
            "faults[0]: a link fault must set",
        ),
        (
            append("[[faults]]\nkind = \"link\"\nat = \"1s\"\nbetween = [\"a\", \"q\"]\nloss = 0.5\n"),
            "faults[0].between[1]: ",
        ),
        (
            append("[[faults]]\nkind = \"bootstrap_down\"\nat = \"1s\"\nbootstrap = 3\n"),
            "faults[0].bootstrap: ",
        ),
        (
            append("[[faults]]\nkind = \"flood\"\nat = \"1s\"\nnode = \"a\"\ntarget = \"a\"\nrate = 5\nfor = \"1s\"\n"),
            "faults[0].target: ",
        ),
        (
            append("[[faults]]\nkind = \"forge\"\nat = \"1s\"\nnode = \"a\"\ntarget = \"b\"\ncount = 0\n"),
            "faults[0].count: ",
        ),
        (
            append("[[faults]]\nkind = \"bootstrap_down\"\nat = \"1s\"\nbootstrap = 1.5\n"),
            "faults[0].bootstrap: ",
        ),
        (
            append("[[faults]]\nkind = \"link\"\nat = \"1s\"\nbetween = [\"a\"]\nloss = 0.5\n"),
            "faults[0].between: ",
        ),
        (
            append("[[faults]]\nkind = \"crash\"\nat = \"1s\"\nnode = \"a\"\nwhen = \"2s\"\n"),
            "faults[0]: unknown field `when`",
        ),
        (
            append("[[faults]]\nkind = \"explode\"\nat = \"1s\"\n"),
            "faults[0]: unknown variant `explode`",
        ),
        (
            append("[[faults]]\nkind = \"flood\"\nat = \"1s\"\nnode = \"a\"\ntarget = \"b\"\nrate = 5\n"),
            "faults[0]: missing field `for`",
        ),
        (
            append(
                "[[faults]]\nkind = \"crash\"\nat = \"1s\"\nnode = \"a\"\nrestart_after = \"10s\"\n\
                 [[faults]]\nkind = \"crash\"\nat = \"5s\"\nnode = \"a\"\n",
            ),
            "faults[1]: acts on the same thing as faults[0]",
        ),
    ];
    assert!(cases.len() >= 8);
    for (edit, expected) in cases {
        let message = refusal(edit);
        assert!(message.contains(expected), "expected {expected:?} in: {message}");
    }
}

#[test]
fn a_single_node_refuses_cross_node_conversations() {
    let message = refusal(|text| {
        text.replace("count = 3\nnames = [\"a\", \"b\", \"c\"]", "count = 1")
            .replace("groups = 1", "groups = 1\ncross_node_fraction = 0.2")
    });
    assert!(
        message.starts_with("conversations.cross_node_fraction: must be 0 with a single node"),
        "{message}"
    );
    let single = BASE.replace("count = 3\nnames = [\"a\", \"b\", \"c\"]", "count = 1");
    assert_eq!(
        Scenario::from_toml(&single)
            .unwrap()
            .conversations()
            .cross_node_fraction,
        0.0
    );
}

const REGIONS: &str = r#"
[network]
latency = "1ms"

[[network.regions]]
name = "eu"
nodes = ["a", "bootstrap-0"]

[[network.regions]]
name = "us"
nodes = ["b"]

[[network.regions]]
name = "ap"
nodes = ["c"]

[network.region_latency]
eu.us = "80ms"
eu.ap = "150ms"
us.ap = "100ms"
"#;

#[test]
fn region_matrix_is_symmetric() {
    let scenario = Scenario::from_toml(&(BASE.to_owned() + REGIONS)).unwrap();
    let network = scenario.network();
    assert_eq!(network.link("b", "c").latency, Duration::from_millis(100));
    assert_eq!(network.link("c", "b").latency, Duration::from_millis(100));
    assert_eq!(network.link("bootstrap-0", "a").latency, Duration::from_millis(1));
    assert_eq!(network.regions()[0].nodes, ["a", "bootstrap-0"]);
}

#[test]
fn region_refusals_name_the_field() {
    let cases = [
        (
            REGIONS.replace("us.ap = \"100ms\"\n", ""),
            "network.region_latency.us.ap: missing",
        ),
        (
            REGIONS
                .replace("us.ap", "ap.us")
                .replace("eu.us = \"80ms\"", "eu.us = \"80ms\"\nus.eu = \"80ms\""),
            "network.region_latency.us.eu: ",
        ),
        (
            REGIONS.replace("eu.ap", "eu.mars"),
            "network.region_latency.eu.mars: no region named",
        ),
        (
            REGIONS.replace("[\"b\"]", "[\"a\"]"),
            "network.regions[1].nodes[0]: \"a\" is already in region \"eu\"",
        ),
        (
            REGIONS.replace("[\"c\"]", "[\"zeta\"]"),
            "network.regions[2].nodes[0]: no node named \"zeta\"",
        ),
        (
            REGIONS.replace("[\"a\", \"bootstrap-0\"]", "[\"a\"]"),
            "network.regions: every node",
        ),
        (
            REGIONS.replace("name = \"ap\"", "name = \"us\""),
            "network.regions[2].name: ",
        ),
        (
            REGIONS.replace("eu.ap = \"150ms\"", "eu.ap = \"150ms\"\neu.eu = \"1ms\""),
            "network.region_latency.eu.eu: ",
        ),
    ];
    for (regions, expected) in cases {
        let message = refusal(|base| base + &regions);
        assert!(message.contains(expected), "expected {expected:?} in: {message}");
    }
}

#[test]
fn toml_errors_say_where() {
    let message = refusal(replace("count = 3", "count = \"three\""));
    assert!(message.contains("count"), "{message}");
    assert!(message.contains("line"), "{message}");
}

#[test]
fn load_reports_the_missing_file() {
    let message = Scenario::load("/nonexistent/scenario.toml").unwrap_err().to_string();
    assert!(message.starts_with("/nonexistent/scenario.toml: "), "{message}");
}

#[test]
fn the_readme_example_is_the_regions_example() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let regions = Scenario::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/regions.toml"));
    assert_eq!(Scenario::from_toml(example).unwrap(), regions.unwrap());
}
