//! Tests of `sequencer`.

use super::*;

fn frames(rx: &mut mpsc::UnboundedReceiver<Bytes>) -> Vec<ToChild> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|f| serde_json::from_slice(&f).unwrap())
        .collect()
}

type Rx = mpsc::UnboundedReceiver<Bytes>;

/// A sequencer with two children attached (their empty seeds already read).
fn two(max_topics: usize) -> (Sequencer, Rx, Rx) {
    let (tx0, mut rx0) = mpsc::unbounded_channel();
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let mut s = Sequencer::new(2, max_topics);
    s.attach(0, tx0);
    s.attach(1, tx1);
    for rx in [&mut rx0, &mut rx1] {
        assert!(matches!(
            frames(rx).as_slice(),
            [ToChild::Seed { topics, done: true }] if topics.is_empty()
        ));
    }
    (s, rx0, rx1)
}

/// A child's own `/stats` for collection `collect`.
fn local(collect: u64, stats: Stats) -> ToSupervisor {
    ToSupervisor::Local {
        collect,
        stats: Box::new(stats),
    }
}

#[test]
fn one_sequence_per_topic_relayed_to_all_before_the_answer() {
    let (mut s, mut rx0, mut rx1) = two(2);
    let publish = |topic: &str, req| ToSupervisor::Publish {
        req,
        topic: topic.into(),
        event: None,
        data: "d".into(),
    };
    s.handle(1, publish("a", 7));
    s.handle(0, publish("a", 8));
    s.handle(0, publish("b", 9));
    s.handle(1, publish("c", 10)); // a third topic: over the limit of 2
    let seqs = |f: &[ToChild]| {
        f.iter()
            .filter_map(|m| match m {
                ToChild::Message { topic, seq, .. } => Some((topic.clone(), *seq)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (f0, f1) = (frames(&mut rx0), frames(&mut rx1));
    let want = vec![
        ("a".to_string(), 1),
        ("a".to_string(), 2),
        ("b".to_string(), 1),
    ];
    assert_eq!(seqs(&f0), want);
    assert_eq!(seqs(&f1), want);
    // Child 1's answer comes right after the message it published.
    assert!(matches!(
        f1[1],
        ToChild::Published {
            req: 7,
            result: Ok(1)
        }
    ));
    assert!(
        matches!(&f1[4], ToChild::Published { req: 10, result: Err(e) } if e.contains("--max-topics"))
    );
    assert!(matches!(
        f0[2],
        ToChild::Published {
            req: 8,
            result: Ok(2)
        }
    ));
    assert_eq!(s.latest("a"), 2);
}

#[test]
fn stats_are_gathered_from_every_child_then_answered() {
    let (mut s, mut rx0, mut rx1) = two(10);
    s.handle(1, ToSupervisor::Stats { req: 3 });
    let collect = match frames(&mut rx0).as_slice() {
        [ToChild::Collect { collect }] => *collect,
        f => panic!("{f:?}"),
    };
    assert_eq!(frames(&mut rx1).len(), 1);
    let part = |n: u64| Stats {
        open_connections: n,
        topics: 1,
        ..Stats::default()
    };
    s.handle(0, local(collect, part(4)));
    assert!(frames(&mut rx1).is_empty(), "waits for every child");
    s.handle(1, local(collect, part(5)));
    match frames(&mut rx1).as_slice() {
        [ToChild::Stats { req: 3, stats }] => {
            assert_eq!(stats.open_connections, 9);
            assert_eq!(stats.processes, 2);
        }
        f => panic!("{f:?}"),
    }
    assert!(frames(&mut rx0).is_empty());
}

#[test]
fn a_dead_child_is_not_waited_for_and_its_replacement_is_seeded() {
    let (mut s, mut rx0, mut rx1) = two(10);
    for t in ["a", "a", "b"] {
        s.publish(t, None, "d").unwrap();
    }
    s.handle(0, ToSupervisor::Stats { req: 4 });
    let collect = match frames(&mut rx0).last() {
        Some(ToChild::Collect { collect }) => *collect,
        f => panic!("{f:?}"),
    };
    let mut part = Stats {
        open_connections: 2,
        topics: 2,
        ..Stats::default()
    };
    part.process = Some(contract::stats::Process {
        pid: 7,
        ..Default::default()
    });
    s.handle(0, local(collect, part));
    assert!(frames(&mut rx0).is_empty(), "waits for child 1");
    // Child 1 dies: the collection is answered with what child 0 said.
    assert_eq!(frames(&mut rx1).len(), 4, "3 messages and the collect");
    s.detach(1);
    match frames(&mut rx0).as_slice() {
        [ToChild::Stats { req: 4, stats }] => {
            assert_eq!(stats.open_connections, 2);
            assert_eq!(stats.processes, 1);
            let child = stats.per_process.as_ref().unwrap()[1];
            assert_eq!((child.index, child.pid), (Some(0), 7));
        }
        f => panic!("{f:?}"),
    }
    // Nothing goes to the dead child; a message published meanwhile reaches child 0.
    s.publish("b", None, "while dead").unwrap();
    assert!(frames(&mut rx1).is_empty());
    assert_eq!(frames(&mut rx0).len(), 1);
    // Its replacement first learns every topic's newest seq, then gets what follows.
    let (tx, mut rx) = mpsc::unbounded_channel();
    s.attach(1, tx);
    s.restarted();
    s.publish("a", None, "after").unwrap();
    let f = frames(&mut rx);
    match &f[..] {
        [
            ToChild::Seed { topics, done: true },
            ToChild::Message { topic, seq: 3, .. },
        ] => {
            let mut t = topics.clone();
            t.sort();
            assert_eq!(t, [("a".to_string(), 2), ("b".to_string(), 2)]);
            assert_eq!(topic, "a");
        }
        f => panic!("{f:?}"),
    }
    s.handle(1, ToSupervisor::Stats { req: 5 });
    let collect = match frames(&mut rx).as_slice() {
        [ToChild::Collect { collect }] => *collect,
        f => panic!("{f:?}"),
    };
    for i in 0..2 {
        s.handle(i, local(collect, Stats::default()));
    }
    match frames(&mut rx).as_slice() {
        [ToChild::Stats { req: 5, stats }] => {
            assert_eq!(stats.child_restarts, 1);
            assert_eq!(stats.processes, 2);
        }
        f => panic!("{f:?}"),
    }
}

#[test]
fn sync_is_answered_behind_every_message_already_relayed() {
    let (mut s, mut rx0, mut rx1) = two(4);
    let publish = |req| ToSupervisor::Publish {
        req,
        topic: "a".into(),
        event: None,
        data: "d".into(),
    };
    s.handle(0, publish(1));
    s.handle(0, publish(2));
    let _ = frames(&mut rx0);
    // Child 1 asks: its answer comes after both messages on its own socket, with seq 2.
    s.handle(
        1,
        ToSupervisor::Sync {
            req: 5,
            topic: "a".into(),
        },
    );
    let f1 = frames(&mut rx1);
    assert!(matches!(f1[0], ToChild::Message { seq: 1, .. }));
    assert!(matches!(f1[1], ToChild::Message { seq: 2, .. }));
    assert!(matches!(f1[2], ToChild::Synced { req: 5, seq: 2 }));
    assert_eq!(f1.len(), 3);
    assert!(
        frames(&mut rx0).is_empty(),
        "only the asking child is answered"
    );
    // A topic never published: 0.
    s.handle(
        1,
        ToSupervisor::Sync {
            req: 6,
            topic: "none".into(),
        },
    );
    assert!(matches!(
        frames(&mut rx1).as_slice(),
        [ToChild::Synced { req: 6, seq: 0 }]
    ));
}
