//! The open schedule of a request-scoped stream: event k is due at
//! `start + first_delay + gap_1 + .. + gap_k`, each gap the interval (fixed) or an exponential
//! draw of mean interval from a seeded generator, so a seed gives the same gaps on every
//! server. Due times are wall-clock µs since the UNIX epoch; nothing here sleeps.

use std::time::{SystemTime, UNIX_EPOCH};

use super::request::{Distribution, GenerateSpec};

/// Wall-clock µs since the UNIX epoch, now.
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A random seed for a request that gave none (std's per-process random hasher keys).
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(wall_us())
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator whose sequence is fixed by
/// its definition, not by a crate's version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in (0, 1] (never 0, so its logarithm is finite).
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// An exponential draw of mean `mean` (inversion: -ln(u) × mean).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -self.next_open01().ln() * mean
    }
}

/// The due times of one stream's events, in order.
#[derive(Debug, Clone)]
pub struct Schedule {
    start_us: u64,
    first_delay_us: f64,
    interval_us: f64,
    distribution: Distribution,
    rng: SplitMix64,
    /// The next event's index.
    next: u64,
    /// µs from `start_us` to the previous event's due time (exponential).
    offset_us: f64,
    events: u64,
}

impl Schedule {
    /// The schedule of `spec` for a stream accepted at `start_us`, with the draws seeded by
    /// `seed` (the spec's own seed, or a random one).
    pub fn new(spec: &GenerateSpec, start_us: u64, seed: u64) -> Schedule {
        Schedule {
            start_us,
            first_delay_us: spec.first_delay_ms * 1000.0,
            interval_us: spec.interval_ms * 1000.0,
            distribution: spec.distribution,
            rng: SplitMix64::new(seed),
            next: 0,
            offset_us: 0.0,
            events: spec.events,
        }
    }

    /// When the stream was accepted (µs since the epoch).
    pub fn start_us(&self) -> u64 {
        self.start_us
    }

    /// The index of the event [`Iterator::next`] yields next.
    pub fn position(&self) -> u64 {
        self.next
    }
}

impl Iterator for Schedule {
    /// `(seq, due_us)`.
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let k = self.next;
        if k >= self.events {
            return None;
        }
        self.next += 1;
        self.offset_us = match (k, self.distribution) {
            (0, _) => self.first_delay_us,
            // Multiplied, not summed: no rounding drift over a million events.
            (_, Distribution::Fixed) => self.first_delay_us + k as f64 * self.interval_us,
            (_, Distribution::Exponential) => {
                self.offset_us + self.rng.exponential(self.interval_us)
            }
        };
        Some((
            k,
            self.start_us.saturating_add(self.offset_us.round() as u64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(events: u64, interval_ms: f64, distribution: Distribution) -> GenerateSpec {
        GenerateSpec {
            events,
            first_delay_ms: 5.0,
            interval_ms,
            distribution,
            ..GenerateSpec::default()
        }
    }

    #[test]
    fn fixed_gaps_are_the_interval_after_the_first_delay() {
        let dues: Vec<_> = Schedule::new(&spec(4, 2.5, Distribution::Fixed), 1_000, 0).collect();
        assert_eq!(dues, vec![(0, 6_000), (1, 8_500), (2, 11_000), (3, 13_500)]);
    }

    #[test]
    fn exponential_gaps_are_reproducible_with_a_seed_and_have_the_mean() {
        let s = spec(20_001, 10.0, Distribution::Exponential);
        let a: Vec<_> = Schedule::new(&s, 0, 42).collect();
        let b: Vec<_> = Schedule::new(&s, 0, 42).collect();
        let c: Vec<_> = Schedule::new(&s, 0, 43).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a[0], (0, 5_000));
        let mean_gap_us = (a[20_000].1 - a[0].1) as f64 / 20_000.0;
        assert!((mean_gap_us - 10_000.0).abs() < 300.0, "{mean_gap_us}");
        assert!(a.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn draws_are_in_the_open_unit_interval() {
        let mut r = SplitMix64::new(0);
        for _ in 0..10_000 {
            let u = r.next_open01();
            assert!(u > 0.0 && u <= 1.0);
        }
    }
}
