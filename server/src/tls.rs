//! `serve --tls` (issue 17): the certificate (loaded from `--cert`/`--key`, or self-signed at
//! start with rcgen for localhost, 127.0.0.1, ::1 and the listen address), rustls with the
//! ring provider, and the life of a TLS connection: a handshake bounded by
//! `--header-read-timeout` (a failure is counted, closes that connection only), then ALPN
//! `h2` to hyper's HTTP/2 server and anything else to hyper's HTTP/1.1 server. TLS
//! connections skip the front door (it reads the socket itself; under TLS that would mean
//! decrypting into it): an idle TLS subscriber costs hyper's buffers plus rustls's.
//! Bytes are counted at the TCP socket, under TLS: TLS records as they are on the wire.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::config::ServeArgs;
use crate::counting::{ConnCell, CountingStream};
use crate::error::ServerError;
use crate::metrics::Protocol;
use crate::state::State;
use crate::{http2, server};

/// A server's TLS: how connections are accepted, and the certificate served (PEM).
#[derive(Clone)]
pub struct Tls {
    /// Accepts TLS connections (ALPN `h2`, `http/1.1`).
    pub acceptor: TlsAcceptor,
    /// The certificate chain served, PEM (a client may trust it as its root).
    pub cert_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

fn err(msg: String) -> ServerError {
    ServerError::Tls(msg)
}

/// With `--tls` and no `--cert`: makes a self-signed certificate, writes it (PEM) to
/// `--cert-out` or a new file under the temp directory and its key next to it (`.key`, mode
/// 0600), and points `args.cert`/`args.key` at them (a cluster's children load the same
/// files). `--cert` implies `--tls`. Returns the certificate file served, if TLS is on.
pub fn prepare(args: &mut ServeArgs) -> Result<Option<PathBuf>, ServerError> {
    if args.cert.is_some() {
        args.tls = true;
    }
    if !args.tls {
        return Ok(None);
    }
    if let Some(cert) = &args.cert {
        return Ok(Some(cert.clone()));
    }
    let (cert_pem, key_pem) = generate(args)?;
    let cert = args.cert_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "pushbench-cert-{}-{}.pem",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ))
    });
    let mut key = cert.clone().into_os_string();
    key.push(".key");
    let key = PathBuf::from(key);
    write(&key, &key_pem, 0o600)?;
    write(&cert, &cert_pem, 0o644)?;
    args.cert = Some(cert.clone());
    args.key = Some(key);
    Ok(Some(cert))
}

/// Files removed when it is dropped: a certificate and key [`prepare`] made under the temp
/// directory live as long as the server (not those written to `--cert-out`).
#[derive(Debug, Default)]
pub struct Made(Vec<PathBuf>);

impl Made {
    /// [`prepare`], and what to remove once the server is done.
    pub fn prepare(args: &mut ServeArgs) -> Result<Made, ServerError> {
        let made = (args.tls && args.cert.is_none() && args.cert_out.is_none()).then_some(());
        prepare(args)?;
        Ok(Made(match made {
            Some(()) => args.cert.iter().chain(&args.key).cloned().collect(),
            None => Vec::new(),
        }))
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Prints the server's first line, `listening on http://ADDR:PORT` (`https://` with
/// `--tls`), and with `--tls` a second, `certificate: FILE` (the PEM a client may trust).
pub fn announce(addr: std::net::SocketAddr, args: &ServeArgs) -> Result<(), ServerError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let scheme = if args.tls { "https" } else { "http" };
    writeln!(out, "listening on {scheme}://{addr}").map_err(ServerError::Stdout)?;
    if let (true, Some(cert)) = (args.tls, &args.cert) {
        writeln!(out, "certificate: {}", cert.display()).map_err(ServerError::Stdout)?;
    }
    out.flush().map_err(ServerError::Stdout)
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), ServerError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

/// A self-signed certificate (PEM) and its key (PKCS#8 PEM) for the names a local client
/// uses and the listen address's IP.
pub fn generate(args: &ServeArgs) -> Result<(String, String), ServerError> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let ip = args.listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| err(format!("cannot make a self-signed certificate: {e}")))?;
    Ok((
        pem("CERTIFICATE", made.cert.der()),
        pem("PRIVATE KEY", &made.signing_key.serialize_der()),
    ))
}

/// `der` as a PEM block labelled `label`.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The TLS of a server whose options say `--tls` (after [`prepare`]; without it, a
/// certificate made now and kept in memory only): loads and checks the certificate and key.
pub fn load(args: &ServeArgs) -> Result<Option<Tls>, ServerError> {
    if !args.tls && args.cert.is_none() {
        return Ok(None);
    }
    let (cert_pem, key_pem) = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => (read(c)?, read(k)?),
        (None, None) => {
            let (c, k) = generate(args)?;
            (c.into_bytes(), k.into_bytes())
        }
        _ => return Err(err("--cert and --key go together".into())),
    };
    let name = |flag: &str, p: &Option<PathBuf>| match p {
        Some(p) => format!("{flag} {}", p.display()),
        None => "the generated certificate".to_string(),
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            err(format!(
                "{}: not a PEM certificate: {e}",
                name("--cert", &args.cert)
            ))
        })?;
    if certs.is_empty() {
        return Err(err(format!(
            "{}: no CERTIFICATE block in it",
            name("--cert", &args.cert)
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        err(format!(
            "{}: not a PEM private key: {e}",
            name("--key", &args.key)
        ))
    })?;
    // ring, not aws-lc-rs (which needs cmake to build): deprecated in rustls for lacking
    // post-quantum key exchange, which a benchmark's self-signed TLS does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    check_pair(&certs, &key, &provider, args)?;
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(format!("{}: {e}", name("--cert", &args.cert))))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem: String::from_utf8_lossy(&cert_pem).into_owned(),
    }))
}

/// Checks that `key` is usable and is the key of the first certificate of `certs`.
fn check_pair(
    certs: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    provider: &rustls::crypto::CryptoProvider,
    args: &ServeArgs,
) -> Result<(), ServerError> {
    let key_name = args
        .key
        .as_ref()
        .map_or("the generated key".to_string(), |p| {
            format!("--key {}", p.display())
        });
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| err(format!("{key_name}: unusable private key: {e}")))?;
    let certified = rustls::sign::CertifiedKey::new(certs.to_vec(), signing);
    certified
        .keys_match()
        .map_err(|e| err(format!("{key_name} is not the key of the certificate: {e}")))
}

fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))
}

/// Serves one TLS connection: the handshake within `--header-read-timeout`, then HTTP/2 or
/// HTTP/1.1 as ALPN chose. A failed or late handshake is counted (a TLS handshake failure and
/// a connection error) and closes this connection only.
pub(crate) async fn serve(state: State, tls: Tls, stream: TcpStream, cell: Arc<ConnCell>) {
    cell.hold_writes();
    let io = CountingStream::new(stream, cell.clone());
    let timeout = state.args.header_read_timeout;
    let tls_stream = match tokio::time::timeout(timeout, tls.acceptor.accept(io)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) => {
            state.metrics.tls_handshake_failures.fetch_add(1, Relaxed);
            state.metrics.connection_errors.fetch_add(1, Relaxed);
            return;
        }
    };
    let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
    if h2 {
        cell.set_protocol(Protocol::H2Tls);
        http2::serve(state, tls_stream, cell).await;
    } else {
        cell.set_protocol(Protocol::H1Tls);
        server::hyper_connection(state, tls_stream, cell).await;
    }
}
