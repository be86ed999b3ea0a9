//! The Kubernetes export of each example, parsed back.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::Value;

use super::{EXAMPLES, check_syntax, exported, peer_id_of_key, yaml_documents};
use crate::export::Target;
use crate::scenario::{FaultKind, LinkScope};

/// Every manifest `kubectl apply -f kubernetes/` applies, and the Workflow, by kind.
fn manifests(dir: &std::path::Path) -> BTreeMap<String, Vec<Value>> {
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let workflow = dir.join("faults/workflow.yaml");
    let files = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path());
    let yaml = files.filter(|path| path.extension().is_some_and(|ext| ext == "yaml"));
    for path in yaml.chain(workflow.exists().then_some(workflow)) {
        for document in yaml_documents(&path) {
            let kind = document["kind"].as_str().unwrap().to_owned();
            by_kind.entry(kind).or_default().push(document);
        }
    }
    by_kind
}

fn named<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    let found = documents.iter().find(|document| document["metadata"]["name"] == name);
    found.unwrap_or_else(|| panic!("no {name}"))
}

/// The values of a Chaos Mesh selector's `parley/node In [...]`.
fn selected(selector: &Value) -> Vec<String> {
    let expression = &selector["selector"]["expressionSelectors"][0];
    assert_eq!(expression["key"], "parley/node");
    let values = expression["values"].as_array().unwrap();
    values.iter().map(|value| value.as_str().unwrap().to_owned()).collect()
}

#[test]
fn every_node_and_bootstrap_node_is_a_labelled_stateful_set_with_a_service_and_the_driver_reaches_every_node() {
    for name in EXAMPLES {
        let (out, scenario) = exported(name, Target::Kubernetes);
        let manifests = manifests(&out.path().join("kubernetes"));
        let nodes = scenario.nodes();
        let namespace = manifests["Namespace"][0]["metadata"]["name"].as_str().unwrap();
        assert_eq!(namespace, format!("parley-{name}"));
        let config = &manifests["ConfigMap"][0];
        let copied = std::fs::read_to_string(out.path().join("scenario.toml")).unwrap();
        assert_eq!(
            config["data"]["scenario.toml"],
            copied.as_str(),
            "the ConfigMap holds the file as is"
        );
        let regions = scenario.network().regions();
        for host in nodes.bootstrap().iter().chain(nodes.names()) {
            let set = named(&manifests["StatefulSet"], host);
            assert_eq!(set["metadata"]["namespace"], namespace);
            assert_eq!(set["spec"]["replicas"], 1);
            let labels = &set["spec"]["template"]["metadata"]["labels"];
            assert_eq!(labels["parley/node"], host.as_str());
            let region = regions.iter().find(|region| region.nodes.contains(host));
            assert_eq!(
                labels["parley/region"],
                region.map_or("default", |region| region.name.as_str())
            );
            let service = named(&manifests["Service"], host);
            assert_eq!(service["spec"]["clusterIP"], "None");
            assert_eq!(service["spec"]["selector"]["parley/node"], host.as_str());
            let script = set["spec"]["template"]["spec"]["containers"][0]["command"][2]
                .as_str()
                .unwrap();
            check_syntax("sh", script, &format!("{name}/{host}'s command"));
        }
        // Nodes dial each bootstrap node with the PeerId of the key in its Secret, which is the exported key.
        for bootstrap in nodes.bootstrap() {
            let secret = named(&manifests["Secret"], &format!("{bootstrap}-key"));
            let data = secret["data"]["bootstrap.key"].as_str().unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
            let key = out.path().join(format!("keys/{bootstrap}.key"));
            assert_eq!(bytes, std::fs::read(&key).unwrap());
            let peer = peer_id_of_key(&key);
            for node in nodes.names() {
                let set = named(&manifests["StatefulSet"], node);
                let script = set["spec"]["template"]["spec"]["containers"][0]["command"][2]
                    .as_str()
                    .unwrap();
                assert!(
                    script.contains(&format!("/udp/4001/quic-v1/p2p/{peer}\"")),
                    "{name}/{node}"
                );
                assert!(script.contains(&format!("$(ip_of {bootstrap})")), "{name}/{node}");
            }
        }
        let job = named(&manifests["Job"], "driver");
        let driver = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
            .as_str()
            .unwrap();
        assert!(driver.contains("parley simulate drive /scenario/scenario.toml"));
        assert!(driver.contains("--out /results"));
        for node in nodes.names() {
            assert!(
                driver.contains(&format!("--node {node}=http://{node}:8080")),
                "{name}: {node}"
            );
        }
        check_syntax("sh", driver, "the driver's command");
    }
}

#[test]
fn every_pair_is_shaped_once_and_every_fault_is_a_chaos_mesh_resource() {
    for name in EXAMPLES {
        let (out, scenario) = exported(name, Target::Kubernetes);
        let dir = out.path().join("kubernetes");
        let manifests = manifests(&dir);
        let workflow = manifests.get("Workflow").map(|workflows| &workflows[0]);
        let templates: Vec<&Value> = workflow
            .map(|workflow| workflow["spec"]["templates"].as_array().unwrap().iter().collect())
            .unwrap_or_default();
        if let Some(workflow) = workflow {
            let script = std::fs::read_to_string(dir.join("start-faults.sh")).unwrap();
            check_syntax("bash", &script, "start-faults.sh");
            assert!(script.contains("kubectl apply -f faults/workflow.yaml"));
            let names: BTreeSet<&str> = templates.iter().map(|t| t["name"].as_str().unwrap()).collect();
            assert_eq!(names.len(), templates.len(), "template names are unique");
            for template in &templates {
                for child in template["children"].as_array().into_iter().flatten() {
                    assert!(names.contains(child.as_str().unwrap()), "{child} is a template");
                }
            }
            assert_eq!(workflow["apiVersion"], "chaos-mesh.org/v1alpha1");
        }
        // Each pair of hosts once: in 40-links.yaml or, if a link fault changes it, in the Workflow.
        let mut pairs = BTreeMap::new();
        let static_links = manifests.get("NetworkChaos").into_iter().flatten();
        let stretches = templates.iter().filter(|t| t["networkChaos"]["action"] == "netem");
        for spec in static_links
            .map(|chaos| &chaos["spec"])
            .chain(stretches.map(|t| &t["networkChaos"]))
        {
            assert_eq!(spec["action"], "netem");
            assert_eq!(spec["direction"], "both");
            let pair = (selected(spec)[0].clone(), selected(&spec["target"])[0].clone());
            *pairs.entry(pair).or_insert(0) += 1;
        }
        let hosts = scenario.nodes().bootstrap().len() + scenario.nodes().names().len();
        assert_eq!(pairs.len(), hosts * (hosts - 1) / 2, "{name}: every pair shaped");
        let names = |nodes: &[crate::NodeRef]| -> Vec<String> {
            nodes
                .iter()
                .map(|node| scenario.nodes().name(*node).unwrap().to_owned())
                .collect()
        };
        for (index, fault) in scenario.faults().iter().enumerate() {
            let chaos = templates
                .iter()
                .find(|t| t["name"] == format!("fault-{index}-chaos").as_str());
            match &fault.kind {
                FaultKind::Crash { node, .. } => {
                    let chaos = chaos.unwrap_or_else(|| panic!("{name}: faults[{index}]"));
                    assert_eq!(chaos["podChaos"]["action"], "pod-failure");
                    assert_eq!(selected(&chaos["podChaos"]), [scenario.nodes().names()[*node].clone()]);
                }
                FaultKind::BootstrapDown { bootstrap, .. } => {
                    let chaos = chaos.unwrap_or_else(|| panic!("{name}: faults[{index}]"));
                    assert_eq!(
                        selected(&chaos["podChaos"]),
                        [scenario.nodes().bootstrap()[*bootstrap].clone()]
                    );
                }
                FaultKind::Partition { sides, .. } => {
                    let spec = &chaos.unwrap_or_else(|| panic!("{name}: faults[{index}]"))["networkChaos"];
                    assert_eq!(spec["action"], "partition");
                    assert_eq!(spec["direction"], "both");
                    assert_eq!(selected(spec), names(&sides[0]));
                    assert_eq!(selected(&spec["target"]), names(&sides[1]));
                }
                FaultKind::Link { between, change, .. } => {
                    let LinkScope::Between(a, b) = between else {
                        panic!("the examples name their links")
                    };
                    let (a, b) = (names(&[*a])[0].clone(), names(&[*b])[0].clone());
                    let latency = format!("{}ms", change.latency.unwrap().as_millis());
                    let netem = templates.iter().filter(|t| t["networkChaos"]["action"] == "netem");
                    let changed = netem.into_iter().any(|t| {
                        let spec = &t["networkChaos"];
                        let pair = [selected(spec)[0].clone(), selected(&spec["target"])[0].clone()];
                        (pair == [a.clone(), b.clone()] || pair == [b.clone(), a.clone()])
                            && spec["delay"]["latency"] == latency.as_str()
                    });
                    assert!(changed, "{name}: faults[{index}] sets {latency} between {a} and {b}");
                }
                FaultKind::Flood { .. } | FaultKind::Forge { .. } => assert!(chaos.is_none()),
            }
        }
    }
}
