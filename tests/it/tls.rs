//! HTTPS and `wss://` served by `parley node --tls-cert/--tls-key` with a certificate made here, the CLI
//! registering, sending and listening over them, and the certificate reloaded on SIGHUP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use crate::e2ee::{parley, register_cli_with};
use crate::support::*;

/// A certificate authority and a certificate it signed for 127.0.0.1, as PEM files in `dir`:
/// (CA file, certificate file, key file).
fn certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn trusting(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap()
}

/// `parley node` serving HTTPS with `cert` and `key`, its data in `dir/data`; it and its URL.
fn start_over_tls(dir: &Path, cert: &Path, key: &Path) -> (std::process::Child, String) {
    let mut command = node_command(&dir.join("data"));
    command.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    let (child, base) = spawn_node(command);
    (child, base.expect("the node serves"))
}

async fn health(client: &reqwest::Client, base: &str) -> Result<StatusCode, reqwest::Error> {
    client.get(format!("{base}/health")).send().await.map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_https_and_wss_and_the_cli_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "first");
    let (mut child, base) = start_over_tls(dir.path(), &cert, &key);
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");

    assert_eq!(health(&trusting(&ca), &base).await.unwrap(), StatusCode::OK);
    let untrusted = reqwest::Client::new();
    assert!(
        health(&untrusted, &base).await.is_err(),
        "a certificate from an unknown CA was accepted"
    );
    let clear = base.replacen("https://", "http://", 1);
    assert!(
        !matches!(health(&untrusted, &clear).await, Ok(StatusCode::OK)),
        "the TLS port answered in the clear"
    );

    let profiles = tempfile::tempdir().unwrap();
    let (dana, eli) = (profiles.path().join("dana"), profiles.path().join("eli"));
    let (dana, eli) = (dana.to_str().unwrap(), eli.to_str().unwrap());
    let ca_file = ca.to_str().unwrap();
    for (name, profile) in [("dana", dana), ("eli", eli)] {
        register_cli_with(profile, &base, name, &["--ca-file", ca_file]).await;
    }
    // The profile keeps the CA: later commands name neither server nor CA, and listening is wss://.
    let sent = parley(&["send", "--json", "--profile", dana, "eli", "over tls"]).await;
    assert_eq!(sent[0]["event"], "sent");
    let heard = parley(&["listen", "--json", "--profile", eli, "--count", "1"]).await;
    let message = heard
        .iter()
        .find(|line| line["event"] == "message")
        .expect("a message over wss://");
    assert_eq!(message["text"], "over tls");

    // The operator CLI reads the https:// URL the node wrote and trusts the CA it is given.
    let data = dir.path().join("data");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["admin", "--ca-file", ca_file, "--data-dir"])
        .arg(&data)
        .arg("stats")
        .env_remove("PARLEY_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["users"], 2);

    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_after_sighup_and_a_bad_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (first_ca, cert, key) = certificates(dir.path(), "first");
    let (mut child, base) = start_over_tls(dir.path(), &cert, &key);
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    // A broken file is refused and the certificate in use stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    hangup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(health(&trusting(&first_ca), &base).await.unwrap(), StatusCode::OK);

    // A certificate from another CA replaces it at the next SIGHUP.
    let (second_ca, second_cert, second_key) = certificates(dir.path(), "second");
    std::fs::copy(&second_cert, &cert).unwrap();
    std::fs::copy(&second_key, &key).unwrap();
    hangup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while health(&trusting(&second_ca), &base).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        health(&trusting(&first_ca), &base).await.is_err(),
        "the old certificate is still served"
    );

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_node_with_unreadable_tls_files_refuses_to_start_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("missing-cert.pem");
    let key = dir.path().join("missing-key.pem");
    let mut command = node_command(&dir.path().join("data"));
    command.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
    let output = output_within(
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
        "a node with missing TLS files",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing-cert.pem"), "{stderr}");

    let mut command = node_command(&dir.path().join("data"));
    command.arg("--tls-cert").arg(&cert);
    let output = output_within(
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
        "a node with a certificate and no key",
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses a certificate without its key"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--tls-key"));
}
