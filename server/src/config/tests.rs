//! The options' parsing, and that every one reaches a cluster's children.

use super::*;
use clap::Parser;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// `serve` with every option set to a value other than its default.
const EVERY_OPTION: &[&str] = &[
    "serve",
    "--broker",
    "redis://127.0.0.1:7777",
    "--broker-namespace",
    "ns1",
    "--listen",
    "127.0.0.1:9999",
    "--processes",
    "3",
    "--retention",
    "7",
    "--long-poll-timeout",
    "2s",
    "--heartbeat",
    "1500ms",
    "--max-connections",
    "99",
    "--max-payload-bytes",
    "1000",
    "--subscriber-queue",
    "5",
    "--direct-fanout-min",
    "3",
    "--publish-rate",
    "4",
    "--payload-bytes",
    "100",
    "--publish-topic",
    "news",
    "--allow-origin",
    "*",
    "--max-topics",
    "12",
    "--header-read-timeout",
    "250ms",
    "--body-read-timeout",
    "1200ms",
    "--body-buffer-bytes",
    "5000000",
    "--debug-panic-route",
    "--h2-max-streams",
    "77",
    "--tls",
    "--cert",
    "/c.pem",
    "--key",
    "/k.pem",
];

#[test]
fn cert_and_key_go_together_and_cert_out_is_for_a_made_certificate() {
    let err = |argv: &[&str]| Cli::try_parse_from(argv).unwrap_err().kind();
    use clap::error::ErrorKind::{ArgumentConflict, MissingRequiredArgument};
    assert_eq!(err(&["serve", "--cert", "c.pem"]), MissingRequiredArgument);
    assert_eq!(err(&["serve", "--key", "k.pem"]), MissingRequiredArgument);
    assert_eq!(
        err(&["serve", "--cert", "c", "--key", "k", "--cert-out", "o"]),
        ArgumentConflict
    );
    let a = Cli::parse_from(["serve", "--tls"]).serve;
    assert!(a.tls && a.cert.is_none());
    assert_eq!(a.h2_max_streams, 1000);
}

/// Every option of `serve` reaches the cluster children. The destructuring below names
/// every field of `ServeArgs`, so a new option does not compile here until it is listed:
/// as forwarded (the child's value must equal the parent's, which must not be the
/// default, so an option `child_args` leaves out fails), or as one that must differ.
#[test]
fn child_args_forward_every_option() {
    let parent = Cli::parse_from(EVERY_OPTION).serve;
    let (listen_at, socket) = ("127.0.0.1:4567".parse().unwrap(), Path::new("/s.sock"));
    let mut argv: Vec<OsString> = vec!["serve".into()];
    argv.extend(parent.child_args(listen_at, socket, 2));
    let ServeArgs {
        listen,
        retention,
        long_poll_timeout,
        heartbeat,
        max_connections,
        max_payload_bytes,
        subscriber_queue,
        direct_fanout_min,
        publish_rate,
        payload_bytes,
        publish_topic,
        reuse_port,
        allow_origin,
        max_topics,
        header_read_timeout,
        body_read_timeout,
        body_buffer_bytes,
        processes,
        h2_max_streams,
        tls,
        cert,
        key,
        cert_out,
        broker,
        broker_namespace,
        cluster_child,
        cluster_index,
        debug_panic_route,
    } = Cli::parse_from(argv).serve;

    // What must differ: where and as what the child runs; the supervisor publishes.
    assert_eq!(listen, listen_at);
    assert!(reuse_port);
    assert_eq!(processes, 1);
    assert_eq!(cluster_child.as_deref(), Some(socket));
    assert_eq!(cluster_index, 2);
    assert_eq!(publish_rate, 0.0, "the supervisor publishes");
    assert_eq!(
        cert_out, None,
        "the supervisor wrote the certificate already"
    );
    assert_ne!(parent.publish_rate, 0.0);

    // Everything else is the parent's.
    let default = ServeArgs::default();
    macro_rules! forwarded {
        ($($field:ident),* $(,)?) => {$(
            assert_ne!(
                parent.$field, default.$field,
                "give {} a value other than its default in this test", stringify!($field)
            );
            assert_eq!(
                $field, parent.$field,
                "{} does not reach the cluster children", stringify!($field)
            );
        )*};
    }
    forwarded!(
        retention,
        long_poll_timeout,
        heartbeat,
        max_connections,
        max_payload_bytes,
        subscriber_queue,
        direct_fanout_min,
        payload_bytes,
        publish_topic,
        allow_origin,
        max_topics,
        header_read_timeout,
        body_read_timeout,
        body_buffer_bytes,
        debug_panic_route,
        h2_max_streams,
        tls,
        cert,
        key,
        broker,
        broker_namespace,
    );
}
