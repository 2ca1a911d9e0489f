//! End to end: `pushbench serve --processes 2` (the real binary: a supervisor and two server
//! processes sharing one port). Subscribers of every technique spread over both processes get
//! every message in order with the same ids; a client resuming on either process loses
//! nothing; `/stats` sums the processes; SIGTERM stops everything cleanly (exit 0); a child that
//! dies is restarted and its subscribers resume, but children that keep dying stop the cluster
//! (non-zero exit); a supervisor that dies takes its children along.
//!
//! The test clients here are small and written from docs/PROTOCOL.md (SSE and NDJSON read
//! from hyper's decoded body, WebSocket through tokio-tungstenite), not from the server's code.

mod cluster_common;

use serde_json::Value;

use cluster_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_on_every_process_gets_every_message() {
    let cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for t in ["sse", "stream", "ws"] {
        for _ in 0..PER_TECHNIQUE {
            subs.push((t, Sub::open(a, t, "news", None).await));
        }
    }
    const N: u64 = 20;
    let pollers: Vec<_> = (0..PER_TECHNIQUE)
        .map(|_| tokio::spawn(long_poll(a, "news", 0, N as usize)))
        .collect();
    let k = PER_TECHNIQUE as u64;
    let s = stats_until(a, "every subscriber connected", |s| {
        ["sse", "stream", "ws", "long-poll"]
            .iter()
            .all(|t| s["techniques"][t]["connections"] == k)
    })
    .await;
    // The kernel spread the connections over both processes.
    assert_eq!(s["processes"], 2);
    let kids = children(&s);
    assert_eq!(kids.len(), 2);
    for c in &kids {
        assert!(c["connections"].as_u64().unwrap() >= 3, "{s}");
        assert!(c["pid"].as_u64().unwrap() > 0);
    }
    let per_sum: u64 = kids
        .iter()
        .map(|c| c["connections"].as_u64().unwrap())
        .sum();
    assert_eq!(per_sum, s["open_connections"].as_u64().unwrap());

    // Publishes arrive at either process; ids come from one sequence.
    for i in 1..=N {
        assert_eq!(publish(a, "news", &format!("m{i}")).await, i);
    }
    for (t, sub) in &mut subs {
        let mut got = Vec::new();
        for _ in 0..N {
            got.push(sub.next().await.unwrap_or_else(|| panic!("{t} ended")));
        }
        assert_eq!(got, expected(1, N), "{t}");
    }
    for p in pollers {
        assert_eq!(p.await.unwrap(), expected(1, N), "long-poll");
    }

    // /stats sums the processes: every subscriber counted once per message.
    let s = stats(a).await;
    assert_eq!(s["published"], N);
    assert_eq!(s["techniques"]["publish"]["requests"], N);
    for t in ["sse", "stream", "ws", "long-poll"] {
        assert_eq!(s["techniques"][t]["delivered"], N * k, "{t}: {s}");
    }
    let list = s["per_process"].as_array().unwrap();
    let rss: u64 = list.iter().map(|p| p["rss_bytes"].as_u64().unwrap()).sum();
    assert_eq!(s["process"]["rss_bytes"], rss);
    assert_eq!(s["process"]["pid"], cluster.pid());
    // /metrics on whichever process answers shows the same totals.
    for _ in 0..4 {
        let (st, m) = call(a, "GET", "/metrics", "").await;
        assert_eq!(st, 200);
        assert!(
            m.contains(&format!("pushbench_published_total {N}\n")),
            "{m}"
        );
        assert!(m.contains("pushbench_processes 2\n"), "{m}");
        assert!(
            m.contains(&format!(
                "pushbench_delivered_total{{technique=\"sse\"}} {}\n",
                N * k
            )),
            "{m}"
        );
    }
    // A reset on one process resets them all.
    let (st, _) = call(a, "POST", "/stats/reset", "").await;
    assert_eq!(st, 200);
    let s = stats(a).await;
    assert_eq!(s["published"], 0);
    for t in ["sse", "stream", "ws", "long-poll", "publish"] {
        assert_eq!(s["techniques"][t]["delivered"], 0, "{t}");
    }
    assert_eq!(
        s["techniques"]["sse"]["connections"], k,
        "gauges are not reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_on_any_process_loses_nothing() {
    let cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut first = Sub::open(a, "sse", "r", None).await;
    for i in 1..=5 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(first.next().await.unwrap());
    }
    assert_eq!(got, expected(1, 3));
    drop(first);
    // Published while the client is away.
    for i in 6..=8 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    // Resume with Last-Event-ID: 3 from many connections, so some land on each process.
    let mut resumed = Vec::new();
    for i in 0..16 {
        let t = if i % 4 == 3 { "stream" } else { "sse" };
        resumed.push((t, Sub::open(a, t, "r", Some(3)).await));
    }
    let s = stats_until(a, "resumed subscribers connected", |s| {
        s["techniques"]["sse"]["connections"] == 12 && s["techniques"]["stream"]["connections"] == 4
    })
    .await;
    assert!(
        children(&s)
            .iter()
            .all(|c| c["connections"].as_u64().unwrap() >= 1),
        "both processes serve resumed clients: {s}"
    );
    assert_eq!(s["techniques"]["sse"]["resumes"], 12);
    assert_eq!(s["techniques"]["stream"]["resumes"], 4);
    for i in 9..=10 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    for (t, sub) in &mut resumed {
        let mut got = Vec::new();
        for _ in 4..=10 {
            got.push(sub.next().await.unwrap());
        }
        assert_eq!(got, expected(4, 10), "{t}");
    }
    // Short polls on fresh connections (either process) see the same history.
    for _ in 0..4 {
        let (st, body) = call(a, "GET", "/poll/r?since=7", "").await;
        assert_eq!(st, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["next"], 10, "{body}");
        assert_eq!(v["messages"].as_array().unwrap().len(), 3, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_cleanly_and_every_process_exits() {
    let mut cluster = Cluster::start(2, &["--publish-rate", "20", "--publish-topic", "tick"]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for _ in 0..16 {
        subs.push(Sub::open(a, "sse", "tick", None).await);
    }
    let s = stats_until(a, "subscribers connected", |s| {
        s["techniques"]["sse"]["connections"] == 16
    })
    .await;
    let kids = children(&s);
    assert!(
        kids.iter().all(|c| c["connections"].as_u64().unwrap() >= 1),
        "subscribers on both processes: {s}"
    );
    let pids: Vec<u64> = kids.iter().map(|c| c["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    // The internal publisher runs once (in the supervisor), not once per process: message n
    // is the same message (same scheduled time in its payload) on every process.
    let mut first: Option<Vec<Msg>> = None;
    for s in &mut subs {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(s.next().await.unwrap());
        }
        assert_eq!(got.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(got[0].1.starts_with("pb1 0 1 "), "{got:?}");
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "the same messages on every process"),
        }
    }
    signal(cluster.pid(), "-TERM");
    for s in &mut subs {
        // Every stream ends with its terminating chunk (a clean end, not an error).
        while s.next().await.is_some() {}
    }
    let (status, err) = cluster.wait_exit();
    assert!(status.success(), "exit {status}: {err}");
    wait_gone(&pids);
}

/// The pid of each child (by index) in a `/stats` document.
fn child_pids(s: &Value) -> Vec<u64> {
    children(s)
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_dies_is_restarted_and_its_subscribers_resume() {
    let mut cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for _ in 0..16 {
        subs.push(Sub::open(a, "sse", "r", None).await);
    }
    let s = stats_until(a, "subscribers on both processes", |s| {
        s["techniques"]["sse"]["connections"] == 16
    })
    .await;
    let before = child_pids(&s);
    let on_victim = children(&s)[1]["connections"].as_u64().unwrap();
    assert!(on_victim >= 1, "subscribers on process 1: {s}");
    for i in 1..=3 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    for sub in &mut subs {
        let got = vec![sub.next().await, sub.next().await, sub.next().await];
        assert_eq!(
            got.into_iter().flatten().collect::<Vec<_>>(),
            expected(1, 3)
        );
    }

    signal(before[1] as u32, "-KILL");
    // The server keeps answering on its port; process 1 comes back under a new pid.
    let s = stats_through_restarts(a, "process 1 restarted", |s| {
        s["child_restarts"] == 1 && s["processes"] == 2
    })
    .await;
    let after = child_pids(&s);
    assert_eq!(after[0], before[0], "process 0 lives on: {s}");
    assert_ne!(after[1], before[1], "process 1 is a new process: {s}");
    assert!(gone(before[1]));
    for i in 4..=5 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    // Subscribers of the dead process were cut; they reconnect with Last-Event-ID and, on
    // whichever process they land, get exactly what followed.
    let mut cut = 0;
    for sub in &mut subs {
        let mut got = Vec::new();
        while got.len() < 2 {
            match sub.try_next().await {
                Ok(Some(m)) => got.push(m),
                Ok(None) => panic!("a clean end while the server runs"),
                Err(_) => {
                    cut += 1;
                    let last = got.last().map_or(3, |m: &Msg| m.0);
                    *sub = Sub::open(a, "sse", "r", Some(last)).await;
                }
            }
        }
        assert_eq!(got, expected(4, 5));
    }
    // The dead process's subscribers, and only they, were cut (its count may include the
    // /stats request itself).
    assert!(
        cut >= 1 && (on_victim - 1..=on_victim).contains(&cut),
        "{cut} of {on_victim}"
    );
    let (_, metrics) = call(a, "GET", "/metrics", "").await;
    assert!(
        metrics.contains("pushbench_child_restarts_total 1\n"),
        "{metrics}"
    );

    signal(cluster.pid(), "-TERM");
    for sub in &mut subs {
        while sub.next().await.is_some() {}
    }
    let (status, err) = cluster.wait_exit();
    assert!(status.success(), "exit {status}: {err}");
    assert!(
        err.contains(&format!(
            "process 1 (pid {}) exited unexpectedly",
            before[1]
        )) && err.contains("SIGKILL")
            && err.contains("restarting it")
            && err.contains(&format!("process 1 restarted (pid {})", after[1])),
        "stderr names the dead child and its replacement: {err}"
    );
    wait_gone(&after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_that_keep_dying_stop_the_cluster() {
    let mut cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut all = Vec::new();
    // Five deaths within a minute are restarted; the sixth stops everything.
    for k in 0..6u64 {
        let s = stats_through_restarts(a, "both processes up", |s| {
            s["processes"] == 2 && s["child_restarts"] == k
        })
        .await;
        let pids = child_pids(&s);
        all.extend(pids.iter().copied());
        signal(pids[0] as u32, "-KILL");
    }
    let (status, err) = cluster.wait_exit();
    assert!(!status.success(), "the server must fail: {err}");
    assert!(err.contains("6 deaths within 60s, giving up"), "{err}");
    all.sort();
    all.dedup();
    wait_gone(&all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_exit_when_the_supervisor_dies() {
    let mut cluster = Cluster::start(2, &[]);
    let s = stats(cluster.addr).await;
    let pids: Vec<u64> = children(&s)
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect();
    signal(cluster.pid(), "-KILL");
    let _ = cluster.wait_exit();
    wait_gone(&pids);
}
