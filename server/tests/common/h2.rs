//! Test-side HTTP/2 and TLS clients: hyper's HTTP/2 client over cleartext (prior knowledge)
//! or over tokio-rustls (ring provider, the server's certificate as the only root, ALPN as
//! asked), and hyper's HTTP/1.1 client over TLS; every socket counts its bytes (`Counted`).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{Counted, Counts, WAIT, connect, text};

/// One HTTP/2 client connection.
pub struct H2 {
    pub send: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    pub counts: Arc<Counts>,
    pub conn: tokio::task::JoinHandle<()>,
    base: String,
}

impl H2 {
    /// Cleartext, with prior knowledge (h2c).
    pub async fn h2c(addr: SocketAddr) -> H2 {
        let s = connect(addr).await;
        let counts = s.counts.clone();
        H2::over(s, counts, format!("http://{addr}")).await
    }

    /// Over TLS with ALPN `h2` (asserts that the server chose it).
    pub async fn tls(addr: SocketAddr, cert_pem: &str) -> H2 {
        let (s, counts) = tls_connect(addr, cert_pem, &[b"h2"]).await;
        assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        H2::over(s, counts, format!("https://localhost:{}", addr.port())).await
    }

    async fn over<S>(io: S, counts: Arc<Counts>, base: String) -> H2
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
                .await
                .expect("h2 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        H2 {
            send,
            counts,
            conn,
            base,
        }
    }

    /// Sends `req` (a path; the scheme and authority are added) and waits for its head.
    pub async fn request(&mut self, method: &str, path: &str, body: &str) -> Response<Incoming> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        tokio::time::timeout(WAIT, self.send.ready())
            .await
            .expect("connection ready timeout")
            .expect("connection ready");
        tokio::time::timeout(WAIT, self.send.send_request(req))
            .await
            .expect("response timeout")
            .expect("response")
    }

    pub async fn get(&mut self, path: &str) -> Response<Incoming> {
        self.request("GET", path, "").await
    }

    /// `/stats` over this connection.
    pub async fn stats(&mut self) -> serde_json::Value {
        let r = self.get("/stats").await;
        assert_eq!(r.status(), 200);
        serde_json::from_str(&text(r).await).expect("stats json")
    }
}

/// A TLS client connection trusting only `cert_pem`, offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    cert_pem: &str,
    alpn: &[&[u8]],
) -> (TlsStream<Counted>, Arc<Counts>) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(c.expect("certificate PEM")).expect("root");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let s = connect(addr).await;
    let counts = s.counts.clone();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(WAIT, TlsConnector::from(Arc::new(config)).connect(name, s))
        .await
        .expect("TLS handshake timeout")
        .expect("TLS handshake");
    (tls, counts)
}

/// One HTTP/1.1 client connection over TLS (ALPN `http/1.1`).
pub struct H1Tls {
    pub send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    pub counts: Arc<Counts>,
    pub conn: tokio::task::JoinHandle<()>,
}

impl H1Tls {
    pub async fn new(addr: SocketAddr, cert_pem: &str) -> H1Tls {
        let (s, counts) = tls_connect(addr, cert_pem, &[b"http/1.1"]).await;
        assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .expect("handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        H1Tls { send, counts, conn }
    }

    pub async fn get(&mut self, path: &str) -> Response<Incoming> {
        let req = Request::get(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        tokio::time::timeout(WAIT, self.send.send_request(req))
            .await
            .expect("response timeout")
            .expect("response")
    }
}

/// How a test reaches an HTTP/2 server.
#[derive(Debug, Clone)]
pub enum Via {
    /// Cleartext, prior knowledge.
    H2c,
    /// TLS with ALPN `h2`, trusting this certificate (PEM).
    Tls(String),
}

impl H2 {
    pub async fn open(addr: SocketAddr, via: &Via) -> H2 {
        match via {
            Via::H2c => H2::h2c(addr).await,
            Via::Tls(pem) => H2::tls(addr, pem).await,
        }
    }
}

/// Subscribes with SSE and stream, publishes `n` messages (over HTTP/2 too), and checks that
/// SSE, stream, poll and long poll (each on its own HTTP/2 connection) get all of them in
/// order with the right ids, and that every answer says `protocol` in
/// `x-pushbench-protocol`. Returns each technique's client byte counts (read, written).
pub async fn every_technique_gets_every_message(
    addr: SocketAddr,
    via: &Via,
    topic: &str,
    n: u64,
    protocol: &str,
) -> Vec<(&'static str, u64, u64)> {
    use super::{SseSub, StreamSub, poll_answer};
    let proto = |r: &Response<Incoming>| {
        assert_eq!(r.headers()["x-pushbench-protocol"], protocol);
        for h in ["connection", "transfer-encoding", "keep-alive"] {
            assert!(!r.headers().contains_key(h), "{h} in an HTTP/2 answer");
        }
    };
    let mut sse_c = H2::open(addr, via).await;
    let r = sse_c.get(&format!("/sse/{topic}")).await;
    proto(&r);
    let mut sse = SseSub::new(r);
    let mut stream_c = H2::open(addr, via).await;
    let r = stream_c.get(&format!("/stream/{topic}")).await;
    proto(&r);
    let mut stream = StreamSub::new(r);

    let mut publisher = H2::open(addr, via).await;
    for i in 1..=n {
        let r = publisher
            .request("POST", &format!("/publish/{topic}"), &format!("m{i}"))
            .await;
        assert_eq!(r.status(), 200);
        proto(&r);
        let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
        assert_eq!(v["id"].as_u64(), Some(i));
    }
    for i in 1..=n {
        let m = sse.next().await.expect("sse message");
        assert_eq!((m.id, m.data.as_str()), (i, format!("m{i}").as_str()));
        let m = stream.next().await.expect("stream message");
        assert_eq!((m.id, m.data.as_str()), (i, format!("m{i}").as_str()));
    }

    let mut poll_c = H2::open(addr, via).await;
    let mut got = Vec::new();
    let mut since = 0;
    while (got.len() as u64) < n {
        let r = poll_c.get(&format!("/poll/{topic}?since={since}")).await;
        assert_eq!(r.status(), 200);
        proto(&r);
        let (next, msgs, _) = poll_answer(&text(r).await);
        assert!(!msgs.is_empty(), "every message was published already");
        got.extend(msgs);
        since = next;
    }
    let mut long_c = H2::open(addr, via).await;
    let mut long = Vec::new();
    let mut since = 0;
    while (long.len() as u64) < n {
        let r = long_c
            .get(&format!("/long-poll/{topic}?since={since}&timeout=2000"))
            .await;
        assert_eq!(r.status(), 200);
        proto(&r);
        let (next, msgs, _) = poll_answer(&text(r).await);
        long.extend(msgs);
        since = next;
    }
    for msgs in [&got, &long] {
        let ids: Vec<u64> = msgs.iter().map(|m| m.id).collect();
        assert_eq!(ids, (1..=n).collect::<Vec<_>>());
        assert!(msgs.iter().all(|m| m.data == format!("m{}", m.id)));
    }
    let c = |h: &H2| {
        use std::sync::atomic::Ordering::Relaxed;
        (h.counts.read.load(Relaxed), h.counts.written.load(Relaxed))
    };
    let out = vec![
        ("sse", c(&sse_c).0, c(&sse_c).1),
        ("stream", c(&stream_c).0, c(&stream_c).1),
        ("poll", c(&poll_c).0, c(&poll_c).1),
        ("long-poll", c(&long_c).0, c(&long_c).1),
    ];
    drop((sse, stream));
    out
}

/// Checks the server's byte counters of each technique against what its client counted on
/// its socket (`counts`: technique, read, written): close to each other (a few frames may be
/// in flight: window updates, pings, a heartbeat), and nonzero. A TLS handshake is
/// counted with the first request of its connection.
pub fn bytes_agree(stats: &serde_json::Value, counts: &[(&str, u64, u64)]) {
    for (t, client_read, client_written) in counts {
        let s = &stats["techniques"][t];
        let (written, read) = (
            s["bytes_written"].as_u64().unwrap(),
            s["bytes_read"].as_u64().unwrap(),
        );
        assert!(written > 0 && read > 0, "{t}: {s}");
        assert!(
            written.abs_diff(*client_read) <= 512,
            "{t}: server wrote {written}, client read {client_read}"
        );
        assert!(
            read.abs_diff(*client_written) <= 512,
            "{t}: server read {read}, client wrote {client_written}"
        );
    }
}
