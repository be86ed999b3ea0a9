//! Installing ejabberd from Debian's packages without letting the package start its own service.

use std::path::Path;
use std::process::{Command, Stdio};

/// Where the Debian package installs the control script.
const EJABBERDCTL: &str = "/usr/sbin/ejabberdctl";

/// Path of the Debian hook that tells maintainer scripts whether services may be started.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Installs the Debian `ejabberd` package unless it is already present.
///
/// The package's maintainer scripts would normally start a system-wide
/// ejabberd on the default ports; a temporary `policy-rc.d` that answers
/// "101 = action forbidden" prevents that, and afterwards any instance that
/// still got started is stopped so it never holds ports or CPU during a run.
pub fn ensure_installed() -> Result<(), String> {
    if Path::new(EJABBERDCTL).exists() {
        return Ok(());
    }
    let policy = PolicyGuard::forbid_service_starts()?;
    let result = apt_install_ejabberd();
    drop(policy);
    stop_system_service();
    result?;
    if Path::new(EJABBERDCTL).exists() {
        Ok(())
    } else {
        Err(format!(
            "apt-get install ejabberd finished but {EJABBERDCTL} is missing"
        ))
    }
}

/// Runs `apt-get install`, refreshing the package lists first only when the
/// package is unknown (a fresh machine has empty lists).
fn apt_install_ejabberd() -> Result<(), String> {
    if !apt_knows_ejabberd() {
        run_visible("apt-get", &["update"])?;
    }
    run_visible("apt-get", &["install", "-y", "ejabberd"])
}

/// True when `apt-cache` has a candidate version for `ejabberd`.
fn apt_knows_ejabberd() -> bool {
    let out = Command::new("apt-cache").args(["policy", "ejabberd"]).output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .any(|l| l.trim().starts_with("Candidate:") && !l.contains("(none)"))
        }
        Err(_) => false,
    }
}

/// Runs a command with its output forwarded to our stderr, so a long apt
/// download shows progress instead of looking hung.
fn run_visible(program: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("+ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed with {status}", args.join(" ")))
    }
}

/// Best-effort stop of a system ejabberd the package may have started anyway
/// (e.g. on machines whose policy-rc.d allowed it before we installed ours).
fn stop_system_service() {
    for (program, args) in [
        ("service", &["ejabberd", "stop"][..]),
        ("systemctl", &["disable", "--now", "ejabberd"][..]),
    ] {
        let _ = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Installs a `policy-rc.d` forbidding service starts for as long as it lives,
/// restoring whatever was there before when dropped.
struct PolicyGuard {
    previous: Option<Vec<u8>>,
}

impl PolicyGuard {
    fn forbid_service_starts() -> Result<Self, String> {
        let previous = std::fs::read(POLICY_RC_D).ok();
        write_executable(POLICY_RC_D, b"#!/bin/sh\nexit 101\n")?;
        Ok(Self { previous })
    }
}

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        let restored = match &self.previous {
            Some(bytes) => write_executable(POLICY_RC_D, bytes),
            None => std::fs::remove_file(POLICY_RC_D).map_err(|e| format!("cannot remove {POLICY_RC_D}: {e}")),
        };
        if let Err(e) = restored {
            eprintln!("warning: {e}");
        }
    }
}

/// Writes `bytes` to `path` with mode 0755.
fn write_executable(path: &str, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {path}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {path}: {e}"))
}
