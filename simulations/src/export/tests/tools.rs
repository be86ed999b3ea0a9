//! The engines' own validators on the exports, where they are installed: `docker compose config` (or
//! the standalone `docker-compose`) and `kubernetes-validate` (the official schemas, offline) for the
//! built-in kinds; Chaos Mesh's kinds are checked by the structure tests. A missing tool is reported
//! and the test passes, so the suite does not depend on them.

use std::path::Path;
use std::process::Command;

use super::{EXAMPLES, exported};
use crate::export::Target;

/// Runs `program args` in `dir`; `None` when the program cannot be started.
fn run(dir: &Path, program: &str, args: &[&str]) -> Option<std::process::Output> {
    Command::new(program).args(args).current_dir(dir).output().ok()
}

fn works(program: &str, args: &[&str]) -> bool {
    run(Path::new("."), program, args).is_some_and(|output| output.status.success())
}

#[test]
fn docker_compose_accepts_the_compose_files() {
    let compose: Vec<&str> = if works("docker", &["compose", "version"]) {
        vec!["docker", "compose"]
    } else if works("docker-compose", &["version"]) {
        vec!["docker-compose"]
    } else {
        eprintln!("skipped: neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    for name in EXAMPLES {
        let (out, _) = exported(name, Target::Compose);
        let mut args = compose[1..].to_vec();
        args.extend(["-f", "docker-compose.yml", "config", "-q"]);
        let output = run(out.path(), compose[0], &args).unwrap();
        assert!(
            output.status.success(),
            "{name}: {} config says\n{}",
            compose.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn kubernetes_validate_accepts_the_built_in_kinds() {
    if !works("kubernetes-validate", &["--version"]) {
        eprintln!("skipped: kubernetes-validate is not installed (pip install kubernetes-validate)");
        return;
    }
    for name in EXAMPLES {
        let (out, _) = exported(name, Target::Kubernetes);
        let files = [
            "00-namespace.yaml",
            "10-scenario.yaml",
            "20-bootstrap.yaml",
            "30-nodes.yaml",
            "50-driver.yaml",
        ];
        let mut args = vec!["--strict", "--quiet"];
        args.extend(files);
        let output = run(&out.path().join("kubernetes"), "kubernetes-validate", &args).unwrap();
        assert!(
            output.status.success(),
            "{name}: kubernetes-validate says\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
