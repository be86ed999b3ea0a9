//! The REST transport: one `reqwest` client, the `/v1` paths, and the `{success, data|error, code}`
//! envelope turned into values or [`Error::Http`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How long one request may take before it counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a download (a node's backup) may take in all.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// A node to talk to: its base URL (`http://` or `https://`), and a certificate authority to trust
/// besides the system's, for a node whose certificate is self-signed or from a private CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    url: String,
    ca_file: Option<PathBuf>,
}

impl Server {
    /// The node at `url`, trusted as the system trusts it.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
        }
    }

    /// Also trusts the certificates of the PEM file `ca_file`.
    pub fn trusting(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }
}

impl From<&str> for Server {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<&String> for Server {
    fn from(url: &String) -> Self {
        Self::new(url.as_str())
    }
}

impl From<String> for Server {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// A node's REST API.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
    ca_file: Option<PathBuf>,
    /// The TLS setup of `wss://` connections when a CA file is trusted; the system's otherwise.
    websocket_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Http {
    /// A client for `server` (a trailing slash on its URL is ignored).
    pub(crate) fn new(server: &Server) -> Result<Self> {
        let base = server.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::profile(format!(
                "the server must be an http:// or https:// URL, not {base:?}"
            )));
        }
        let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
        let mut websocket_tls = None;
        if let Some(ca_file) = &server.ca_file {
            let pem = std::fs::read(ca_file).map_err(|source| Error::Io {
                path: ca_file.clone(),
                source,
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|err| Error::profile(format!("{}: not a PEM certificate bundle: {err}", ca_file.display())))?;
            builder = builder.tls_certs_merge(certificates);
            websocket_tls = Some(websocket_tls_trusting(&pem, ca_file)?);
        }
        let client = builder.build().map_err(Error::Transport)?;
        Ok(Self {
            client,
            base,
            ca_file: server.ca_file.clone(),
            websocket_tls,
        })
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The CA file trusted besides the system's, if any.
    pub(crate) fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// How to open a WebSocket to the node: the system's trust unless a CA file was given.
    pub(crate) fn websocket_connector(&self) -> Option<tokio_tungstenite::Connector> {
        self.websocket_tls.clone().map(tokio_tungstenite::Connector::Rustls)
    }

    /// The WebSocket URL of `/v1/ws` authenticated by `token`.
    pub(crate) fn ws_url(&self, token: &str) -> String {
        let base = match self.base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", self.base.trim_start_matches("http://")),
        };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        format!("{base}/v1/ws?{query}")
    }

    /// Sends one request and unwraps the envelope's `data` into `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn ErasedBody>,
        token: Option<&str>,
    ) -> Result<T> {
        let mut url = format!("{}/v1{path}", self.base);
        if !query.is_empty() {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (name, value) in query {
                encoded.append_pair(name, value);
            }
            url.push('?');
            url.push_str(&encoded.finish());
        }
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body.to_json()?);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        unwrap_envelope(status.as_u16(), &bytes)
    }
}

impl Http {
    /// Streams the body of `GET /v1{path}` into a new file at `out` (owner-readable only); its size.
    /// An error answer is returned as [`Error::Http`] and leaves no file.
    pub(crate) async fn download(&self, path: &str, token: &str, out: &Path) -> Result<u64> {
        use std::io::Write;
        let response = self
            .client
            .get(format!("{}/v1{path}", self.base))
            .bearer_auth(token)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            return unwrap_envelope::<()>(status.as_u16(), &bytes).map(|()| 0);
        }
        let io = |source| Error::Io {
            path: out.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(out).map_err(io)?;
        let mut written = 0;
        let mut response = response;
        let copied: Result<()> = async {
            while let Some(chunk) = response.chunk().await? {
                file.write_all(&chunk).map_err(io)?;
                written += chunk.len() as u64;
            }
            file.sync_all().map_err(io)
        }
        .await;
        if let Err(err) = copied {
            let _ = std::fs::remove_file(out);
            return Err(err);
        }
        Ok(written)
    }
}

/// The system's roots and the certificates of `pem`, for `wss://`.
fn websocket_tls_trusting(pem: &[u8], ca_file: &Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate
            .map_err(|err| Error::profile(format!("{}: not a PEM certificate bundle: {err}", ca_file.display())))?;
        roots
            .add(certificate)
            .map_err(|err| Error::profile(format!("{}: {err}", ca_file.display())))?;
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A request body of any serialisable type, so `call` stays one non-generic-over-body function.
pub(crate) trait ErasedBody: Sync {
    fn to_json(&self) -> Result<serde_json::Value>;
}

impl<T: Serialize + Sync> ErasedBody for T {
    fn to_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|err| Error::Protocol(format!("cannot encode a request: {err}")))
    }
}

#[derive(serde::Deserialize)]
struct RawEnvelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn unwrap_envelope<T: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T> {
    let envelope: Option<RawEnvelope> = serde_json::from_slice(bytes).ok();
    match envelope {
        Some(envelope) if envelope.success && (200..300).contains(&status) => {
            serde_json::from_value(envelope.data.unwrap_or(serde_json::Value::Null))
                .map_err(|err| Error::Protocol(format!("unexpected data in a {status} answer: {err}")))
        }
        Some(envelope) => Err(Error::Http {
            status,
            code: envelope.code.unwrap_or_default(),
            message: envelope.error.unwrap_or_default(),
        }),
        None => Err(Error::Http {
            status,
            code: String::new(),
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_unwrap_into_data_or_errors() {
        let ok: Vec<u32> = unwrap_envelope(200, br#"{"success":true,"data":[1,2]}"#).unwrap();
        assert_eq!(ok, vec![1, 2]);
        let unit: () = unwrap_envelope(200, br#"{"success":true}"#).unwrap();
        assert_eq!(unit, ());
        let err = unwrap_envelope::<()>(409, br#"{"success":false,"error":"taken","code":"CONFLICT"}"#).unwrap_err();
        let Error::Http { status, code, message } = err else {
            panic!("not an HTTP error: {err}")
        };
        assert_eq!((status, code.as_str(), message.as_str()), (409, "CONFLICT", "taken"));
        let err = unwrap_envelope::<()>(502, b"bad gateway").unwrap_err();
        assert!(err.is_transient());
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        let http = Http::new(&"http://127.0.0.1:8080/".into()).unwrap();
        assert_eq!(http.ws_url("a b"), "ws://127.0.0.1:8080/v1/ws?token=a+b");
        let https = Http::new(&"https://chat.example.org".into()).unwrap();
        assert_eq!(https.ws_url("t"), "wss://chat.example.org/v1/ws?token=t");
        assert!(Http::new(&"chat.example.org".into()).is_err());
    }
}
