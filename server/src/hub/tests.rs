//! Tests of `hub`.

use super::*;

#[test]
fn retention_and_gap() {
    let hub = Hub::new(3, 8, 10);
    let t = hub.topic("a").unwrap();
    for i in 0..5 {
        t.publish(None, &format!("m{i}")).unwrap();
    }
    let s = t.since(0);
    assert_eq!(
        s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(
        s.gap,
        Some(Gap {
            since: 0,
            first_available: 3
        })
    );
    let s = t.since(2);
    assert_eq!(s.gap, None);
    assert_eq!(s.messages.len(), 3);
    let s = t.since(4);
    assert_eq!(s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [5]);
    assert!(t.since(5).messages.is_empty());
    assert_eq!(t.since(5).gap, None, "up to date: wait for the next");
    assert!(valid_name("a-b_c.9") && !valid_name("") && !valid_name("a/b"));
}

#[test]
fn insert_keeps_given_seqs_and_contiguity() {
    let hub = Hub::new(4, 8, 10);
    let t = hub.topic_unlimited("a");
    assert!(t.insert(1, None, "one").unwrap());
    assert!(t.insert(2, Some("ev"), "two").unwrap());
    assert!(!t.insert(2, None, "dup").unwrap());
    assert!(!t.insert(1, None, "old").unwrap());
    assert_eq!(t.latest(), 2);
    let s = t.since(0);
    assert_eq!(s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(s.gap, None);
    // A jump: what was retained is dropped, and a client behind it hears of the gap.
    assert!(t.insert(7, None, "seven").unwrap());
    let s = t.since(2);
    assert_eq!(s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [7]);
    assert_eq!(
        s.gap,
        Some(Gap {
            since: 2,
            first_available: 7
        })
    );
    // Publishing after inserts continues the sequence.
    assert_eq!(t.publish(None, "eight").unwrap(), 8);
}

#[test]
fn a_seeded_topic_announces_the_gap_then_continues() {
    let hub = Hub::new(4, 8, 10);
    let t = hub.topic_unlimited("a");
    t.seed(5);
    assert_eq!(t.latest(), 5);
    let s = t.since(2);
    assert!(s.messages.is_empty());
    let gap = Gap {
        since: 2,
        first_available: 6,
    };
    assert_eq!(s.gap, Some(gap));
    assert_eq!(t.since(5).gap, None);
    assert!(t.insert(6, None, "six").unwrap());
    let s = t.since(2);
    assert_eq!(s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [6]);
    assert_eq!(s.gap, Some(gap));
    t.seed(99);
    assert_eq!(
        t.latest(),
        6,
        "a seed never moves a topic that has messages"
    );
    drop(t);
    assert_eq!(hub.topic_count(), 1, "a seeded topic stays");
}

#[test]
fn topic_limit() {
    let hub = Hub::new(4, 8, 2);
    let _a = hub.topic("a").unwrap();
    let _b = hub.topic("b").unwrap();
    assert_eq!(hub.topic("c").unwrap_err(), TopicLimit(2));
    // Existing topics are still found; the unlimited path may go past the limit.
    hub.topic("a").unwrap();
    hub.topic_unlimited("c").publish(None, "m").unwrap();
    assert_eq!(hub.topic_count(), 3);
}

#[test]
fn a_topic_without_messages_goes_with_its_last_handle() {
    let hub = Hub::new(4, 8, 1);
    assert!(hub.get("a").is_none(), "get never creates");
    let h1 = hub.topic("a").unwrap();
    let h2 = hub.topic("a").unwrap();
    assert_eq!(hub.topic("b").unwrap_err(), TopicLimit(1));
    drop(h1);
    assert_eq!(hub.topic_count(), 1, "still used");
    drop(h2);
    assert_eq!(hub.topic_count(), 0, "released");
    // A topic that had a message stays once unused.
    hub.topic("b").unwrap().publish(None, "m").unwrap();
    assert_eq!(hub.topic_count(), 1);
    assert_eq!(hub.get("b").unwrap().latest(), 1);
    assert_eq!(hub.topic("c").unwrap_err(), TopicLimit(1));
}

#[test]
fn a_cursor_ahead_of_the_newest_seq_is_a_gap_then_everything_retained() {
    // After a restart the ids start over: a client comes back with a cursor (50) that this
    // life of the server never issued.
    let hub = Hub::new(3, 8, 10);
    let t = hub.topic("a").unwrap();
    for i in 0..5 {
        t.publish(None, &format!("m{i}")).unwrap();
    }
    let s = t.since(50);
    assert_eq!(
        s.gap,
        Some(Gap {
            since: 50,
            first_available: 3
        })
    );
    assert_eq!(
        s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(s.latest, 5);
    // One ahead is ahead too; the newest itself is up to date.
    assert_eq!(t.since(6).gap.map(|g| g.first_available), Some(3));
    assert_eq!(t.since(6).messages.len(), 3);
    assert!(t.since(5).gap.is_none() && t.since(5).messages.is_empty());
    // The subscription path takes the same snapshot.
    let (_rx, s) = t.subscribe(u64::MAX);
    assert_eq!(
        s.gap.map(|g| (g.since, g.first_available)),
        Some((u64::MAX, 3))
    );
    assert_eq!(s.messages.len(), 3);
}

#[test]
fn a_cursor_ahead_with_nothing_retained_points_at_the_next_seq() {
    let hub = Hub::new(3, 8, 10);
    // A topic with no message yet: everything above 0 is from an earlier life.
    let t = hub.topic("a").unwrap();
    let gap = |since, first_available| {
        Some(Gap {
            since,
            first_available,
        })
    };
    assert_eq!(t.since(50).gap, gap(50, 1));
    assert!(t.since(50).messages.is_empty());
    assert_eq!(t.since(0).gap, None);
    assert_eq!(Snapshot::of_missing(50).gap, gap(50, 1));
    assert_eq!(Snapshot::of_missing(0).gap, None);
    // A seeded topic (nothing retained, newest 9): behind and ahead are gaps, 9 is not.
    let s = hub.topic_unlimited("b");
    s.seed(9);
    assert_eq!(s.since(3).gap, gap(3, 10));
    assert_eq!(s.since(12).gap, gap(12, 10));
    assert_eq!(s.since(9).gap, None);
}
