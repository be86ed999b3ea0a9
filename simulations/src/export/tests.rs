//! Exports of the example scenarios, parsed back and checked for what the targets need: every node
//! deployed, the driver aimed at every node, bootstrap PeerIds matching the keys, every fault present.

mod compose;
mod kubernetes;
mod tools;
mod yaml;

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use super::{ExportOptions, Target, export};
use crate::scenario::Scenario;

const EXAMPLES: [&str; 4] = ["smoke", "partition", "crash", "regions"];

/// Exports the example scenario `name` for `target` into a new temporary directory.
fn exported(name: &str, target: Target) -> (tempfile::TempDir, Scenario) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = Scenario::from_toml(&text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = ExportOptions {
        target,
        image: "registry.example/parley:test".to_owned(),
    };
    export(&scenario, &text, &options, out.path()).unwrap();
    (out, scenario)
}

/// Every YAML document in the file, as JSON values.
fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            serde_json::Value::deserialize(document).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        })
        .collect()
}

/// The PeerId of the bootstrap key file, read as `parley bootstrap` reads it.
fn peer_id_of_key(path: &Path) -> String {
    let mut bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len(), 32, "a raw Ed25519 secret");
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut bytes).unwrap();
    keypair.public().to_peer_id().to_string()
}

/// Checks a script's syntax with `shell -n`; says so and passes when the shell is missing.
fn check_syntax(shell: &str, script: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script");
    std::fs::write(&path, script).unwrap();
    match Command::new(shell).arg("-n").arg(&path).output() {
        Ok(output) => assert!(
            output.status.success(),
            "{what}: {shell} -n says\n{}\n{script}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) => eprintln!("skipped {shell} -n on {what}: {err}"),
    }
}

#[test]
fn a_second_export_into_the_same_directory_keeps_the_bootstrap_keys() {
    let (out, scenario) = exported("regions", Target::Compose);
    let key = out.path().join("keys/bootstrap-1.key");
    let first = std::fs::read(&key).unwrap();
    let text = std::fs::read_to_string(out.path().join("scenario.toml")).unwrap();
    let options = ExportOptions {
        target: Target::Kubernetes,
        image: "parley:sim".to_owned(),
    };
    export(&scenario, &text, &options, out.path()).unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), first);
}

#[test]
fn the_copied_scenario_and_the_image_definition_are_written_for_both_targets() {
    for target in [Target::Compose, Target::Kubernetes] {
        let (out, _) = exported("smoke", target);
        let copied = std::fs::read_to_string(out.path().join("scenario.toml")).unwrap();
        let original = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml"));
        assert_eq!(copied, original.unwrap());
        let dockerfile = std::fs::read_to_string(out.path().join("Dockerfile")).unwrap();
        for expected in [
            "FROM rust:1-bookworm AS builder",
            "cargo build --release --bin parley",
            "FROM debian:bookworm-slim",
            "iproute2",
            "ca-certificates",
            "/usr/local/bin/parley",
            "USER parley",
            "ENTRYPOINT [\"parley\"]",
        ] {
            assert!(dockerfile.contains(expected), "{expected}");
        }
        let ignore = std::fs::read_to_string(out.path().join("Dockerfile.dockerignore")).unwrap();
        assert!(ignore.lines().any(|line| line == "target/"));
        assert!(out.path().join("README.md").exists());
    }
}

#[test]
fn names_a_target_cannot_take_are_refused() {
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash.toml")).unwrap();
    let attempt = |names: &str, target| {
        let text = base.replace("count = 3", &format!("count = 3\nnames = {names}"));
        let text = text.replace("node-1", "b");
        let scenario = Scenario::from_toml(&text).unwrap();
        let out = tempfile::tempdir().unwrap();
        let options = ExportOptions {
            target,
            image: "parley:sim".to_owned(),
        };
        export(&scenario, &text, &options, out.path())
            .map(|_| ())
            .map_err(|err| err.to_string())
    };
    let err = attempt(r#"["driver", "b", "c"]"#, Target::Compose).unwrap_err();
    assert!(err.contains("\"driver\""), "{err}");
    let err = attempt(r#"["1a", "b", "c"]"#, Target::Kubernetes).unwrap_err();
    assert!(err.contains("start with a letter"), "{err}");
    attempt(r#"["a", "b", "c"]"#, Target::Kubernetes).unwrap();
}
