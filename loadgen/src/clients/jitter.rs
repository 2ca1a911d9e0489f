//! The jitter of a client's waits before it reconnects or retries (±10%, so that clients
//! dropped together do not come back together), drawn from a generator seeded with the run's
//! `--seed` and the client's index: a run repeated with the same seed makes the same choices,
//! and two clients of one run make different ones.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One client's source of jitter.
#[derive(Debug, Clone)]
pub struct Jitter {
    rng: StdRng,
}

impl Jitter {
    /// The jitter of client `index` (its index among the run's clients of its technique, the
    /// same whichever worker process runs it) in a run seeded with `seed`. The same pair gives
    /// the same sequence within one build of pushbench (the generator's algorithm is rand's
    /// `StdRng`, which a new rand release may change).
    pub fn new(seed: u64, index: u32) -> Jitter {
        // Each (seed, index) pair is a key of its own: no two clients share a sequence.
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..12].copy_from_slice(&index.to_le_bytes());
        Jitter {
            rng: StdRng::from_seed(key),
        }
    }

    /// `d` scaled by the next factor, drawn uniformly from [0.9, 1.1).
    pub fn scale(&mut self, d: Duration) -> Duration {
        let factor: f64 = self.rng.random_range(0.9..1.1);
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
    }
}
