//! TLS for the load generator's connections (rustls, ring provider).
//!
//! [`TlsClient`] holds the run's trust (`--insecure`, `--ca FILE`, else the public web roots)
//! and one configuration per ALPN offer: `http/1.1` for HTTP/1.1 and WebSocket, `h2` for
//! HTTP/2. TLS runs *above* the counted socket ([`super::CountingStream`]), so the bytes a
//! run reports are the TLS records on the wire: handshakes, record headers and MACs included.
//! [`Secured`] is a connection either way, so a technique's code does not care which.
//! [`self_signed`] makes the certificate a run's own child server serves.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{HttpVersion, TransportConfig};

/// What went wrong setting up or speaking TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--ca {path}: {msg}")]
    Ca { path: PathBuf, msg: String },
    #[error("`{0}` is not a host name TLS can check")]
    Name(String),
    #[error("TLS handshake timed out after {0:?}")]
    Timeout(Duration),
    #[error(
        "TLS: the server's certificate is not trusted ({0}); for a self-signed server pass \
         --insecure or --ca FILE"
    )]
    Untrusted(String),
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error("ALPN: the server did not agree to {wanted} (it chose {chose})")]
    Alpn { wanted: &'static str, chose: String },
    #[error("cannot make a certificate for the run's server: {0}")]
    Generate(String),
}

/// The run's TLS client: trust, server name, and a configuration per ALPN offer.
#[derive(Clone)]
pub struct TlsClient {
    h1: TlsConnector,
    h2: TlsConnector,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// The client for `host` (a `Host` header value: name or IP, with or without a port)
    /// as `cfg` says; `None` when the transport is cleartext.
    pub fn new(cfg: &TransportConfig, host: &str) -> Result<Option<TlsClient>, TlsError> {
        if !cfg.tls {
            return Ok(None);
        }
        let provider = provider();
        let algs = provider.signature_verification_algorithms;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
        let base = if cfg.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate { algs }))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            match &cfg.ca {
                Some(path) => add_pem_roots(&mut roots, path)?,
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let with_alpn = |alpn: &[u8]| {
            let mut c = base.clone();
            c.alpn_protocols = vec![alpn.to_vec()];
            TlsConnector::from(Arc::new(c))
        };
        Ok(Some(TlsClient {
            h1: with_alpn(b"http/1.1"),
            h2: with_alpn(b"h2"),
            name: server_name(host)?,
        }))
    }

    /// Runs the handshake over `io` within `timeout`, offering `version`'s ALPN; with HTTP/2
    /// the server must choose `h2`.
    pub async fn connect<S>(
        &self,
        io: S,
        version: HttpVersion,
        timeout: Duration,
    ) -> Result<TlsStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let connector = match version {
            HttpVersion::H1 => &self.h1,
            HttpVersion::H2 => &self.h2,
        };
        let s = tokio::time::timeout(timeout, connector.connect(self.name.clone(), io))
            .await
            .map_err(|_| TlsError::Timeout(timeout))?
            .map_err(handshake_error)?;
        if version == HttpVersion::H2 {
            let chose = s.get_ref().1.alpn_protocol();
            if chose != Some(b"h2") {
                return Err(TlsError::Alpn {
                    wanted: "h2",
                    chose: chose.map_or("no protocol".into(), |p| {
                        String::from_utf8_lossy(p).into_owned()
                    }),
                });
            }
        }
        Ok(s)
    }
}

/// ring, the one provider this build carries.
#[allow(deprecated)] // ring lacks post-quantum key exchange, which loopback benchmarks do not need
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn handshake_error(e: io::Error) -> TlsError {
    let text = e.to_string();
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => TlsError::Untrusted(format!("{c:?}")),
        _ => TlsError::Handshake(text),
    }
}

fn add_pem_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let bad = |msg: String| TlsError::Ca {
        path: path.to_path_buf(),
        msg,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    for c in certs {
        roots.add(c).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// The name TLS checks the certificate against: the host of a `Host` value.
fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = match host.rsplit_once(':') {
        // [v6]:port, name:port; a bare IPv6 address has more than one colon and no brackets.
        Some((h, p)) if p.parse::<u16>().is_ok() && (h.starts_with('[') || !h.contains(':')) => h,
        _ => host,
    };
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::Name(host.to_string()))
}

/// `--insecure`: every certificate is accepted; signatures are still checked (with the
/// provider's algorithms, taken once), so the handshake is a real one.
#[derive(Debug)]
struct AnyCertificate {
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Makes a fresh self-signed certificate and its key, as `serve --tls` makes its own (for
/// localhost, 127.0.0.1 and ::1), written by the server's own code to `cert.pem` in `dir` and
/// its key beside it (mode 0600): what a run's child server serves and its clients trust.
pub fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let generate = |e: String| TlsError::Generate(e);
    std::fs::create_dir_all(dir).map_err(|e| generate(format!("{}: {e}", dir.display())))?;
    let mut args = server::ServeArgs {
        tls: true,
        cert_out: Some(dir.join("cert.pem")),
        ..server::ServeArgs::default()
    };
    server::tls::prepare(&mut args).map_err(|e| generate(e.to_string()))?;
    match (args.cert, args.key) {
        (Some(c), Some(k)) => Ok((c, k)),
        _ => Err(generate("the server made no certificate".into())),
    }
}

/// A client connection in cleartext or under TLS.
#[derive(Debug)]
pub enum Secured<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S> Secured<S> {
    /// The connection under TLS (the counted socket).
    pub fn get_ref(&self) -> &S {
        match self {
            Secured::Plain(s) => s,
            Secured::Tls(t) => t.get_ref().0,
        }
    }
}

macro_rules! either {
    ($self:expr, $s:ident => $call:expr) => {
        match $self.get_mut() {
            Secured::Plain($s) => $call,
            Secured::Tls($s) => $call,
        }
    };
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Secured<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Secured<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Secured::Plain(s) => s.is_write_vectored(),
            Secured::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_host_values() {
        let ip = |s: &str| matches!(server_name(s).unwrap(), ServerName::IpAddress(_));
        assert!(ip("127.0.0.1:8080") && ip("127.0.0.1") && ip("[::1]:443") && ip("::1"));
        assert!(matches!(
            server_name("localhost:1").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad name:1").is_err());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("pb-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.pem");
        std::fs::write(&f, "not pem\n").unwrap();
        let cfg = TransportConfig {
            tls: true,
            ca: Some(f.clone()),
            ..TransportConfig::default()
        };
        let e = TlsClient::new(&cfg, "127.0.0.1:1").unwrap_err().to_string();
        assert!(e.starts_with(&format!("--ca {}: ", f.display())), "{e}");
        let (cert, _key) = self_signed(&dir).unwrap();
        let cfg = TransportConfig {
            tls: true,
            ca: Some(cert),
            ..TransportConfig::default()
        };
        assert!(TlsClient::new(&cfg, "127.0.0.1:1").unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
