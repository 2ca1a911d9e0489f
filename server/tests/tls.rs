//! `serve --tls` (issue 17): every technique over HTTP/2 negotiated by ALPN and over
//! HTTP/1.1 on TLS, TLS record bytes counted per technique, a plain-HTTP client or a silent
//! one failing alone (counted), and certificates that do not load refused before anything
//! listens, with one line naming the file.

mod common;

use std::time::Duration;

use common::h2::{H1Tls, H2, Via, bytes_agree, every_technique_gets_every_message};
use common::{SseSub, WAIT, args, connect, start};
use server::ServeArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tls_args() -> ServeArgs {
    ServeArgs {
        tls: true,
        ..args()
    }
}

fn cert_of(s: &common::TestServer) -> String {
    s.state.tls.as_ref().expect("TLS on").cert_pem.clone()
}

#[tokio::test]
async fn every_technique_over_h2_on_tls_gets_every_message_in_order() {
    let s = start(tls_args()).await;
    let via = Via::Tls(cert_of(&s));
    let counts = every_technique_gets_every_message(s.addr, &via, "tls", 20, "h2+tls").await;
    let mut c = H2::open(s.addr, &via).await;
    // The demo page over https: it shows each panel's protocol from this header.
    let page = c.get("/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-pushbench-protocol"], "h2+tls");
    assert!(
        common::text(page)
            .await
            .contains("getResponseHeader('x-pushbench-protocol')")
    );
    let st = c.stats().await;
    bytes_agree(&st, &counts);
    assert_eq!(st["protocols"]["h2_tls"]["total"], 6);
    assert_eq!(st["protocols"]["h2"]["total"], 0);
    assert_eq!(st["protocols"]["h1"]["total"], 0);
    assert_eq!(st["tls_handshake_failures"], 0);
    s.shutdown.cancel();
}

#[tokio::test]
async fn alpn_http_1_1_serves_sse_on_tls() {
    let s = start(tls_args()).await;
    let pem = cert_of(&s);
    let mut c = H1Tls::new(s.addr, &pem).await;
    let r = c.get("/sse/t").await;
    assert_eq!(r.headers()["x-pushbench-protocol"], "http/1.1+tls");
    let mut sse = SseSub::new(r);
    let mut p = H2::tls(s.addr, &pem).await;
    for i in 1..=3 {
        let r = p.request("POST", "/publish/t", &format!("m{i}")).await;
        assert_eq!(r.status(), 200);
    }
    for i in 1..=3 {
        let m = sse.next().await.expect("message");
        assert_eq!((m.id, m.data), (i, format!("m{i}")));
    }
    let st = p.stats().await;
    assert_eq!(st["protocols"]["h1_tls"]["open"], 1);
    assert_eq!(st["protocols"]["h2_tls"]["open"], 1);
    // TLS records (the handshake included: the certificate), not plaintext.
    assert!(
        st["techniques"]["sse"]["bytes_written"].as_u64().unwrap() > 1000,
        "{st}"
    );
    s.shutdown.cancel();
}

#[tokio::test]
async fn a_plain_http_client_or_a_silent_one_fails_alone() {
    let s = start(ServeArgs {
        header_read_timeout: Duration::from_millis(300),
        ..tls_args()
    })
    .await;
    let pem = cert_of(&s);
    let mut ok = H2::tls(s.addr, &pem).await;
    let mut sse = SseSub::new(ok.get("/sse/calm").await);

    let mut plain = connect(s.addr).await;
    plain
        .write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(WAIT, plain.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the server closes a plain-HTTP connection");
    assert!(!buf.starts_with(b"HTTP/"), "no HTTP answer in cleartext");

    let mut silent = connect(s.addr).await;
    let n = tokio::time::timeout(WAIT, silent.read(&mut [0u8; 16])).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "closed after the handshake timeout"
    );

    let r = ok.request("POST", "/publish/calm", "fine").await;
    assert_eq!(r.status(), 200);
    assert_eq!(sse.next().await.expect("message").data, "fine");
    let st = ok.stats().await;
    assert_eq!(st["tls_handshake_failures"], 2, "{st}");
    assert!(st["connection_errors"].as_u64().unwrap() >= 2);
    assert_eq!(st["open_connections"], 1);
    s.shutdown.cancel();
}

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `pushbench serve` with these options: its error, after checking nothing listens.
async fn refused(mut a: ServeArgs) -> String {
    let addr = free_port();
    a.listen = addr;
    let e = tokio::time::timeout(WAIT, server::serve(a))
        .await
        .expect("serve returns")
        .expect_err("bad TLS material is refused")
        .to_string();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

#[tokio::test]
async fn certificates_that_do_not_load_are_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("pushbench-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with = |cert: &std::path::Path, key: &std::path::Path| ServeArgs {
        cert: Some(cert.to_owned()),
        key: Some(key.to_owned()),
        ..tls_args()
    };
    // A pair made by `--tls` (with --cert-out), which loads; and a second one.
    let mut a = ServeArgs {
        cert_out: Some(dir.join("a.pem")),
        ..tls_args()
    };
    let cert_a = server::tls::prepare(&mut a).unwrap().unwrap();
    assert_eq!(cert_a, dir.join("a.pem"));
    let key_a = a.key.clone().unwrap();
    assert!(server::tls::load(&a).unwrap().is_some());
    let mut b = ServeArgs {
        cert_out: Some(dir.join("b.pem")),
        ..tls_args()
    };
    server::tls::prepare(&mut b).unwrap();
    let key_b = b.key.clone().unwrap();

    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");

    let e = refused(with(&garbage, &key_a)).await;
    assert!(
        e.contains("garbage.pem") && e.contains("no CERTIFICATE"),
        "{e}"
    );
    let e = refused(with(&missing, &key_a)).await;
    assert!(
        e.contains("missing.pem") && e.contains("cannot read"),
        "{e}"
    );
    let e = refused(with(&cert_a, &garbage)).await;
    assert!(
        e.contains("garbage.pem") && e.contains("private key"),
        "{e}"
    );
    let e = refused(with(&cert_a, &key_b)).await;
    assert!(
        e.contains(&*key_b.to_string_lossy()) && e.contains("not the key"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--tls --processes N`: the supervisor makes the certificate once and every child is started
/// with `--tls --cert FILE --key FILE` (here a child that records its command line and the
/// certificate it was given, then dies); the made files go when the supervisor stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_children_get_the_supervisor_s_certificate() {
    let seen = std::env::temp_dir().join(format!("pushbench-tls-child-{}", std::process::id()));
    let script = format!(
        "echo \"$@\" >> {0}; for a in \"$@\"; do case $a in *.pem) cat \"$a\" >> {0} 2>/dev/null;; esac; done; exit 1",
        seen.display()
    );
    let a = ServeArgs {
        processes: 2,
        ..tls_args()
    };
    let prefix = vec!["-c".into(), script.into(), "sh".into()];
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        server::cluster::supervisor::supervise_with(a, "sh".into(), prefix),
    )
    .await
    .expect("the supervisor returns");
    assert!(r.is_err(), "the children died");
    let text = std::fs::read_to_string(&seen).unwrap();
    let _ = std::fs::remove_file(&seen);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("--cluster-child"))
        .collect();
    assert!(!lines.is_empty(), "{text}");
    let cert_of = |line: &str| {
        let w: Vec<&str> = line.split(' ').collect();
        let at = w.iter().position(|x| *x == "--cert").expect("--cert");
        assert!(w.contains(&"--tls") && w.contains(&"--key"), "{line}");
        w[at + 1].to_string()
    };
    let cert = cert_of(lines[0]);
    assert!(
        lines.iter().all(|l| cert_of(l) == cert),
        "one certificate: {text}"
    );
    assert!(text.contains("-----BEGIN CERTIFICATE-----"), "{text}");
    assert!(
        !std::path::Path::new(&cert).exists(),
        "removed when the supervisor stopped"
    );
}

#[tokio::test]
async fn websocket_runs_over_tls_with_alpn_http_1_1() {
    use futures_util::StreamExt;
    let s = start(tls_args()).await;
    let pem = cert_of(&s);
    let (tls, _) = common::h2::tls_connect(s.addr, &pem, &[b"http/1.1"]).await;
    let url = format!("wss://localhost:{}/ws/w", s.addr.port());
    let (mut ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, tls))
        .await
        .expect("ws handshake timeout")
        .expect("ws handshake");
    assert_eq!(resp.status(), 101);
    let mut p = H2::tls(s.addr, &pem).await;
    assert_eq!(p.request("POST", "/publish/w", "hello").await.status(), 200);
    let frame = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a frame")
        .expect("open")
        .expect("frame");
    let v: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(
        (v["id"].as_u64(), v["data"].as_str()),
        (Some(1), Some("hello"))
    );
    let st = p.stats().await;
    assert_eq!(st["protocols"]["h1_tls"]["open"], 1);
    assert!(
        st["techniques"]["ws"]["bytes_written"].as_u64().unwrap() > 1000,
        "{st}"
    );
    s.shutdown.cancel();
}

#[tokio::test]
async fn a_tls_connection_over_the_limit_is_closed_at_once() {
    let s = start(ServeArgs {
        max_connections: 1,
        ..tls_args()
    })
    .await;
    let pem = cert_of(&s);
    let mut first = H2::tls(s.addr, &pem).await;
    let mut over = connect(s.addr).await;
    let n = tokio::time::timeout(WAIT, over.read(&mut [0u8; 64])).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "closed, nothing written"
    );
    let st = first.stats().await;
    assert_eq!(st["rejected_connections"], 1, "{st}");
    assert_eq!(st["tls_handshake_failures"], 0);
    s.shutdown.cancel();
}
