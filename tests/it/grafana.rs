//! `docs/grafana-dashboard.json`, the sample Grafana dashboard: well formed enough to import, laid out
//! without overlaps, and querying only metrics a node really serves under the names it serves them.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;

const DASHBOARD: &str = include_str!("../../docs/grafana-dashboard.json");
/// Where the node's and the gateway's metrics are registered: the names are read from these, so a
/// renamed metric breaks the dashboard's test rather than its graphs.
const METRICS_SOURCES: [&str; 2] = [
    include_str!("../../node/src/metrics.rs"),
    include_str!("../../gateway/src/metrics.rs"),
];
/// Families whose series appear only once something happens that one quiet node never sees (traffic
/// with other nodes, refusals by a rate limit, off in tests), with their kind: until then the scrape
/// leaves out even their `# TYPE` line.
const ONLY_AFTER_EVENTS: [(&str, &str); 4] = [
    ("parley_federation_requests", "counter"),
    ("parley_outbox_delivery_seconds", "histogram"),
    ("parley_outbox_depth", "gauge"),
    ("parley_rate_limited", "counter"),
];
const ROWS: [&str; 5] = ["Traffic", "Messaging", "Storage", "Federation", "Runtime"];
const UNITS: [&str; 3] = ["s", "reqps", "short"];
const DATASOURCE: &str = "${DS_PROMETHEUS}";
const GRID_WIDTH: u64 = 24;

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("docs/grafana-dashboard.json is JSON")
}

/// Every panel, those inside collapsed rows too.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            all.extend(inner);
        }
    }
    all
}

fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

/// A panel's place in the grid: x, y, w, h.
fn grid(panel: &Value) -> [u64; 4] {
    let place = &panel["gridPos"];
    ["x", "y", "w", "h"].map(|key| {
        place[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{:?}: gridPos.{key} is not a number: {place}", panel["title"]))
    })
}

fn exprs(dashboard: &Value) -> Vec<&str> {
    panels(dashboard)
        .into_iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| target["expr"].as_str().expect("every target has an expr"))
        .collect()
}

/// The `parley_[a-z_]+` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    for (at, _) in expr.match_indices("parley_") {
        if expr[..at].chars().next_back().is_some_and(identifier) {
            continue;
        }
        let rest = &expr[at + "parley_".len()..];
        let len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[len..].chars().next();
        assert!(
            !after.is_some_and(identifier),
            "{expr}: a metric name with characters other than a-z and _"
        );
        assert!(len > 0, "{expr}: `parley_` with no name after it");
        names.insert(format!("parley_{}", &rest[..len]));
    }
    names
}

/// The names the node and the gateway register (`register("name"` or `register(\n "name"`), with the
/// registry's `parley_` prefix.
fn registered() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for source in METRICS_SOURCES {
        for (at, call) in source.match_indices("register(") {
            let Some(quoted) = source[at + call.len()..].trim_start().strip_prefix('"') else {
                continue;
            };
            let name = &quoted[..quoted.find('"').expect("a closing quote")];
            names.insert(format!("parley_{name}"));
        }
    }
    assert!(
        names.len() >= 13 && names.contains("parley_users") && names.contains("parley_http_request_seconds"),
        "the registrations were not found in the metrics sources (a new way of registering?): {names:?}"
    );
    names
}

/// A metric name as a query uses it, resolved to its family and the sample suffix it was used with.
fn family_of(name: &str, registered: &BTreeSet<String>) -> (String, &'static str) {
    for suffix in ["_bucket", "_sum", "_count", "_total"] {
        if let Some(family) = name.strip_suffix(suffix).filter(|family| registered.contains(*family)) {
            return (family.to_owned(), suffix);
        }
    }
    assert!(
        registered.contains(name),
        "the dashboard queries {name}, which neither node/src/metrics.rs nor gateway/src/metrics.rs registers \
         (registered: {registered:?})"
    );
    (name.to_owned(), "")
}

/// The `# TYPE` of every family in a scrape that has series.
fn types(scrape: &str) -> BTreeMap<&str, &str> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_once(' '))
        .collect()
}

/// Whether the scrape has a sample named exactly `name` (with or without labels).
fn has_sample(scrape: &str, name: &str) -> bool {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
}

#[test]
fn grafana_dashboard_is_importable_and_tidy() {
    let dashboard = dashboard();
    assert!(
        dashboard["title"]
            .as_str()
            .is_some_and(|title| title.contains("Parley")),
        "{}",
        dashboard["title"]
    );
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|version| version >= 36));
    assert!(dashboard["uid"].as_str().is_some_and(|uid| !uid.is_empty()));
    let inputs = dashboard["__inputs"].as_array().expect("__inputs");
    assert!(
        inputs.iter().any(|input| input["name"] == "DS_PROMETHEUS"
            && input["type"] == "datasource"
            && input["pluginId"] == "prometheus"),
        "a DS_PROMETHEUS datasource input: {inputs:?}"
    );
    let variables = dashboard["templating"]["list"].as_array().expect("templating.list");
    let instance = variables
        .iter()
        .find(|variable| variable["name"] == "instance")
        .expect("an `instance` variable");
    assert_eq!(instance["type"], "query");
    assert_eq!(instance["datasource"]["uid"], DATASOURCE);
    assert_eq!(instance["query"]["query"], "label_values(parley_users, instance)");

    let panels = panels(&dashboard);
    let rows: Vec<_> = panels
        .iter()
        .filter(|panel| is_row(panel))
        .map(|row| &row["title"])
        .collect();
    assert_eq!(rows, ROWS, "the rows, in order");
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let title = &panel["title"];
        assert!(
            title.as_str().is_some_and(|title| !title.is_empty()),
            "a panel without a title: {panel}"
        );
        assert!(
            ids.insert(panel["id"].as_u64().expect("a numeric id")),
            "{title}: id used twice"
        );
        let [x, _, w, h] = grid(panel);
        assert!(
            w > 0 && h > 0 && x + w <= GRID_WIDTH,
            "{title}: outside the grid: {}",
            panel["gridPos"]
        );
        if is_row(panel) {
            assert_eq!((x, w, h), (0, GRID_WIDTH, 1), "{title}: a row spans the grid");
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], DATASOURCE, "{title}");
        assert!(
            panel["description"].as_str().is_some_and(|text| text.len() > 40),
            "{title}: say what to look for"
        );
        let unit = &panel["fieldConfig"]["defaults"]["unit"];
        assert!(UNITS.iter().any(|known| unit == known), "{title}: unit {unit}");
        let targets = panel["targets"].as_array().filter(|targets| !targets.is_empty());
        for target in targets.unwrap_or_else(|| panic!("{title}: no targets")) {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !metric_names(expr).is_empty(),
                "{title}: {expr} queries no parley_ metric"
            );
            assert!(
                expr.contains(r#"instance=~"$instance""#),
                "{title}: {expr} ignores $instance"
            );
            assert_eq!(target["datasource"]["uid"], DATASOURCE, "{title}: {expr}");
            assert!(target["refId"].is_string(), "{title}: {expr}");
        }
    }

    // No two panels share a cell of the grid.
    for (i, a) in panels.iter().enumerate() {
        for b in &panels[i + 1..] {
            let ([ax, ay, aw, ah], [bx, by, bw, bh]) = (grid(a), grid(b));
            let apart = ax + aw <= bx || bx + bw <= ax || ay + ah <= by || by + bh <= ay;
            assert!(apart, "{} and {} overlap", a["title"], b["title"]);
        }
    }
}

#[test]
fn grafana_dashboard_charts_every_metric_the_node_registers() {
    let registered = registered();
    let dashboard = dashboard();
    let charted: BTreeSet<_> = exprs(&dashboard)
        .into_iter()
        .flat_map(metric_names)
        .map(|name| family_of(&name, &registered).0)
        .collect();
    let missing: Vec<_> = registered.difference(&charted).collect();
    assert!(
        missing.is_empty(),
        "metrics with no panel in docs/grafana-dashboard.json: {missing:?}"
    );
}

#[tokio::test]
async fn grafana_dashboard_queries_only_series_a_node_serves() {
    let registered = registered();
    let node = TestNode::start().await;
    let url = crate::metrics::metrics_of(&node).await;
    crate::metrics::some_traffic(&node).await;
    let scrape = crate::metrics::scrape(&url).await;
    let types = types(&scrape);

    let dashboard = dashboard();
    for expr in exprs(&dashboard) {
        for name in metric_names(expr) {
            let (family, suffix) = family_of(&name, &registered);
            let later = ONLY_AFTER_EVENTS
                .iter()
                .find(|(name, _)| *name == family)
                .map(|(_, kind)| *kind);
            let kind = match (types.get(family.as_str()), later) {
                (Some(&served), Some(listed)) => {
                    assert_eq!(served, listed, "{family}: ONLY_AFTER_EVENTS has its kind wrong");
                    served
                }
                (Some(&served), None) => served,
                (None, Some(listed)) => listed,
                (None, None) => panic!("{expr}: no {family} in a scrape after traffic:\n{scrape}"),
            };
            let (fits, sample) = match kind {
                "histogram" => (
                    ["_bucket", "_sum", "_count"].contains(&suffix),
                    format!("{family}_bucket"),
                ),
                "counter" => (suffix == "_total", format!("{family}_total")),
                "gauge" => (suffix.is_empty(), family.clone()),
                other => panic!("{family}: a {other}, which the dashboard does not expect"),
            };
            assert!(
                fits,
                "{expr}: {name} queries the {kind} {family} by a name it does not serve"
            );
            assert!(
                has_sample(&scrape, &sample) || later.is_some(),
                "{expr}: no {sample} in a scrape after traffic:\n{scrape}"
            );
        }
    }
}
