//! The cluster supervisor through the library (the end-to-end cluster tests, which need the
//! `pushbench` binary, are in loadgen/tests/serve_cluster.rs): children that cannot start make
//! `serve --processes N` fail at once with a message naming the process, not hang.

use std::time::{Duration, Instant};

use server::ServeArgs;
use server::cluster::supervisor::supervise_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_that_die_at_start_fail_the_supervisor_quickly() {
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        processes: 2,
        ..ServeArgs::default()
    };
    let started = Instant::now();
    // `false` ignores its arguments and exits 1: a child that dies before it is ready.
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        supervise_with(args, "false".into(), Vec::new()),
    )
    .await
    .expect("the supervisor hung");
    let err = r
        .expect_err("dead children must fail the supervisor")
        .to_string();
    assert!(
        err.contains("exited before it was ready") && err.contains("exit status: 1"),
        "{err}"
    );
    // It did not wait out the stop timeout for a child it already saw exit.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused_before_any_child_starts() {
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        processes: 2,
        publish_topic: "no spaces".into(),
        ..ServeArgs::default()
    };
    let err = supervise_with(args, "false".into(), Vec::new())
        .await
        .expect_err("bad topic");
    assert!(err.to_string().contains("--publish-topic"), "{err}");
}
