//! Merging two workers' histograms (sent through the worker wire encoding) gives exactly the
//! histogram of the same samples recorded in one: same serialization, counts and percentiles.

use hdrhistogram::serialization::{Serializer, V2Serializer};
use loadgen::group::RawResult;
use loadgen::stats::new_histogram;
use loadgen::technique::Technique;
use loadgen::worker::protocol::{decode, encode};
use rand::{Rng, SeedableRng};

fn serialized(h: &hdrhistogram::Histogram<u64>) -> Vec<u8> {
    let mut v = Vec::new();
    V2Serializer::new().serialize(h, &mut v).unwrap();
    v
}

#[test]
fn two_workers_merge_to_the_single_histogram() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut one = new_histogram();
    let mut a = RawResult::empty(Technique::Sse);
    let mut b = RawResult::empty(Technique::Sse);
    for i in 0..20_000u64 {
        // A long-tailed spread from 1 µs to ~10 s.
        let v = (rng.random_range(0.0f64..1.0).powi(6) * 10_000_000.0) as u64 + 1;
        one.record(v).unwrap();
        if i % 3 == 0 {
            a.latency.record(v).unwrap();
        } else {
            b.latency.record(v).unwrap();
        }
    }
    // Each worker's histogram goes over the wire (as a worker report does), then merges.
    let a_back = RawResult {
        latency: decode(&encode(&a.latency)).unwrap(),
        ..a.clone()
    };
    let b_back = RawResult {
        latency: decode(&encode(&b.latency)).unwrap(),
        ..b.clone()
    };
    let mut merged = RawResult::empty(Technique::Sse);
    merged.merge(&a_back);
    merged.merge(&b_back);
    let m = &merged.latency;
    assert_eq!(m.len(), 20_000);
    assert_eq!(serialized(m), serialized(&one));
    assert_eq!(m, &one);
    for q in [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
        assert_eq!(m.value_at_quantile(q), one.value_at_quantile(q), "q={q}");
    }
    assert_eq!(
        (m.min(), m.max(), m.mean()),
        (one.min(), one.max(), one.mean())
    );
}
