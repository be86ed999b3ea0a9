//! `parley simulate export`: the files an existing engine needs to run a scenario across machines, so
//! the same scenario that runs in one process also runs on real hosts with real kernels and networks.
//! Both targets get a container image definition for `parley` and the scenario file; then
//!
//! - **compose**: `docker-compose.yml` (one service per bootstrap node and node, on a network with fixed
//!   addresses, and the workload driver), `netem.sh` (every container's entrypoint: it shapes the
//!   container's egress to each peer with `tc` as the scenario's links say, then starts `parley`),
//!   `links.tsv` (those links), and `faults.sh` (the fault timeline, played with `docker compose`);
//! - **kubernetes**: manifests under `kubernetes/` (a namespace, a StatefulSet and headless Service per
//!   bootstrap node and node, the driver as a Job) with the links as Chaos Mesh `NetworkChaos` and the
//!   fault timeline as a Chaos Mesh `Workflow`.
//!
//! Generation is pure text: no Docker, cluster or network is needed to export. The only state is the
//! bootstrap nodes' keys, kept in `keys/` of the output directory and reused when exporting there again,
//! because nodes name a bootstrap node by its PeerId and so the PeerId must be fixed before anything
//! starts.

mod compose;
mod deployment;
mod docker;
mod faults_sh;
mod keys;
mod kubernetes;
mod links;
mod netem;
mod readme;
mod yaml;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::scenario::Scenario;

use self::deployment::Deployment;

/// The engine to export for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Docker Compose (the Compose Specification): one host, or a Swarm.
    Compose,
    /// Kubernetes with Chaos Mesh for the links and faults.
    Kubernetes,
}

/// What an export needs besides the scenario.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The engine.
    pub target: Target,
    /// The image every container runs, as built from the exported `Dockerfile` (pushed to a registry
    /// the cluster pulls from, for Kubernetes).
    pub image: String,
}

/// One generated file, by its path relative to the output directory.
struct File {
    path: PathBuf,
    text: String,
    /// Scripts are made executable so the README's commands work as written.
    executable: bool,
}

impl File {
    fn new(path: impl Into<PathBuf>, text: String) -> Self {
        Self {
            path: path.into(),
            text,
            executable: false,
        }
    }

    fn script(path: impl Into<PathBuf>, text: String) -> Self {
        Self {
            executable: true,
            ..Self::new(path, text)
        }
    }
}

/// Writes the export of `scenario` for `options.target` into `out` (created if missing) and returns the
/// paths written. `scenario_toml` is the scenario's text, copied as `scenario.toml` for the driver, so
/// it must be the text `scenario` was parsed from. Files of an earlier export are overwritten, except
/// the bootstrap keys, which are kept so PeerIds stay the same.
pub fn export(
    scenario: &Scenario,
    scenario_toml: &str,
    options: &ExportOptions,
    out: &Path,
) -> Result<Vec<PathBuf>, Error> {
    let keys = keys::load_or_create(&out.join(keys::DIR), scenario.nodes().bootstrap())?;
    let mut written: Vec<PathBuf> = keys.iter().map(|key| out.join(&key.file)).collect();
    let deployment = Deployment::new(scenario, scenario_toml, keys, &options.image);
    let mut files = vec![
        File::new("scenario.toml", scenario_toml.to_owned()),
        File::new("Dockerfile", docker::dockerfile()),
        File::new("Dockerfile.dockerignore", docker::dockerignore()),
        File::new("README.md", readme::render(&deployment, options.target)),
    ];
    match options.target {
        Target::Compose => files.extend(compose::files(&deployment)?),
        Target::Kubernetes => files.extend(kubernetes::files(&deployment)?),
    }
    for file in files {
        let path = out.join(&file.path);
        write(&path, &file)?;
        written.push(path);
    }
    Ok(written)
}

fn write(path: &Path, file: &File) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, &file.text).map_err(io)?;
    #[cfg(unix)]
    if file.executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    Ok(())
}
