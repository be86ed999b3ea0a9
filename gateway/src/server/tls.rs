//! HTTPS and `wss://` served by the node itself: a certificate chain and key in PEM files, read at
//! start and again whenever the operator asks (SIGHUP), so a renewed certificate (certbot, an ACME
//! client) takes effect without a restart. A reload that fails keeps the certificate in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The node's certificate, and where it is read from.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    acceptor: RwLock<TlsAcceptor>,
}

impl Tls {
    /// Reads the certificate chain and key; a message naming the file when one is missing or bad.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, String> {
        let acceptor = acceptor(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            acceptor: RwLock::new(acceptor),
        }))
    }

    /// Reads the files again; new connections use the new certificate, open ones keep theirs.
    pub fn reload(&self) -> Result<(), String> {
        let acceptor = acceptor(&self.cert, &self.key)?;
        *self.acceptor.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = acceptor;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("reading the certificate {}: {err}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert.display()));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|err| format!("reading the private key {}: {err}", key.display()))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|err| {
            format!(
                "{} and {} do not make a certificate: {err}",
                cert.display(),
                key.display()
            )
        })?;
    // HTTP/1.1 only: WebSocket upgrades ride on it, and the server speaks nothing else.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
