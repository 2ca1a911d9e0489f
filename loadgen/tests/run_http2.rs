//! End to end: `pushbench run` over HTTP/1.1 with TLS, h2c and h2 with TLS against its own
//! child server (which makes its certificate for the run), every technique: everything
//! published in the window arrives, and the client's and the server's byte counts agree over
//! each technique's phase (under TLS, give or take the client's close_notify records, which a
//! server that has already closed never reads). Then the transport's bad input: options that
//! do not fit, a target that does not speak HTTP/2, a certificate that is not trusted.

mod run_common;

use std::time::Duration;

use run_common::{NotAPushServer, ServeChild, TempDir, run, run_json, technique, u};

const CLIENTS: u64 = 4;

fn every_technique_over(flags: &[&str], label: &str) {
    let dir = TempDir::new("http2");
    let out = dir.join("run");
    let mut args = vec![
        "run",
        "--out",
        out.to_str().unwrap(),
        "--clients",
        "4",
        "--rate",
        "10",
        "--warmup",
        "500ms",
        "--duration",
        "2s",
        "--drain",
        "1s",
        "--poll-interval",
        "500ms",
        "--long-poll-timeout",
        "5s",
        "--pause",
        "100ms",
        "--no-report",
        "--json",
    ];
    args.extend_from_slice(flags);
    let doc = run_json(&args, Duration::from_secs(120));
    assert_eq!(doc["manifest"]["partial"], false, "{label}");
    let t = &doc["manifest"]["params"]["transport"];
    assert_eq!(t["tls"], label.ends_with("tls"), "{label}: {t}");
    let http = if label.starts_with("h2") { "2" } else { "1.1" };
    assert_eq!(t["http"], http, "{label}: {t}");
    for name in ["poll", "long-poll", "stream", "sse", "ws"] {
        let s = technique(&doc, name);
        let expected = u(s, "expected");
        assert!(expected >= 60, "{label} {name}: expected {expected}");
        assert_eq!(u(s, "delivered"), expected, "{label} {name}: {s}");
        assert_eq!((u(s, "lost"), u(s, "duplicates")), (0, 0), "{label} {name}");
        let errors: u64 = s["errors"]
            .as_object()
            .map_or(0, |e| e.values().filter_map(|v| v.as_u64()).sum());
        assert_eq!(errors, 0, "{label} {name}: {s}");
        // Both ends counted the same bytes at their sockets, but for what one end sent as the
        // other was closing: under TLS a close_notify (24 bytes), over HTTP/2 a GOAWAY (17)
        // or RST_STREAM (13). At most 100 bytes a connection, of tens of kilobytes.
        let (up, server_up) = (u(s, "phase_bytes_up"), u(s, "server_phase_bytes_up"));
        let (down, server_down) = (u(s, "phase_bytes_down"), u(s, "server_phase_bytes_down"));
        let slack = if label == "h1" { 0 } else { 100 * CLIENTS };
        assert!(
            up.abs_diff(server_up) <= slack,
            "{label} {name}: bytes up {up} vs server {server_up}"
        );
        assert!(
            down.abs_diff(server_down) <= slack,
            "{label} {name}: bytes down {down} vs server {server_down}"
        );
        assert!(down > expected * 256, "{label} {name}: payloads counted");
    }
}

#[test]
fn http1_over_tls_delivers_everything_and_bytes_agree() {
    every_technique_over(&["--tls"], "h1+tls");
}

#[test]
fn h2c_delivers_everything_and_bytes_agree() {
    every_technique_over(&["--http", "2"], "h2c");
}

#[test]
fn h2_over_tls_with_shared_connections_delivers_everything() {
    every_technique_over(
        &["--http", "2", "--tls", "--streams-per-connection", "2"],
        "h2+tls",
    );
}

fn fails(args: &[&str], code: i32, says: &[&str]) {
    let out = run(args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("pushbench: error: "))
        .unwrap_or_else(|| panic!("{args:?}: no error line in {stderr}"));
    for s in says {
        assert!(line.contains(s), "{args:?}: `{line}` does not say `{s}`");
    }
}

#[test]
fn transport_options_that_do_not_fit_are_refused_by_name() {
    fails(
        &["run", "--streams-per-connection", "4"],
        2,
        &["--streams-per-connection: only with --http 2"],
    );
    fails(
        &["run", "--http", "2", "--connections-per-origin", "6"],
        2,
        &["--connections-per-origin: only with --http 1.1"],
    );
    fails(&["run", "--insecure"], 2, &["--insecure: only with TLS"]);
    fails(
        &["run", "--target", "http://127.0.0.1:9", "--tls"],
        2,
        &["--tls", "https://"],
    );
}

#[test]
fn a_target_without_http2_or_with_an_untrusted_certificate_is_named() {
    let h1_only = NotAPushServer::start();
    let url = h1_only.url();
    fails(
        &[
            "run",
            "--target",
            &url,
            "--http",
            "2",
            "--techniques",
            "sse",
        ],
        1,
        &["--http 2:", "does not speak HTTP/2", "h2c"],
    );
    let tls = ServeChild::start(&["--tls"]);
    let https = format!("https://{}", tls.addr);
    fails(
        &["run", "--target", &https, "--techniques", "sse"],
        1,
        &["not trusted", "--insecure or --ca FILE"],
    );
    // Told to trust it, the same run goes.
    let dir = TempDir::new("http2-insecure");
    let out = dir.join("run");
    let doc = run_json(
        &[
            "run",
            "--target",
            &https,
            "--insecure",
            "--http",
            "2",
            "--techniques",
            "sse",
            "--out",
            out.to_str().unwrap(),
            "--clients",
            "2",
            "--warmup",
            "0s",
            "--duration",
            "1s",
            "--drain",
            "500ms",
            "--json",
            "--no-report",
        ],
        Duration::from_secs(60),
    );
    let s = technique(&doc, "sse");
    assert_eq!(u(s, "delivered"), u(s, "expected"), "{s}");
    assert!(u(s, "delivered") > 0);
}
