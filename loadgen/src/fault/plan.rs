//! Each client's seeded fault schedule ([`ClientFaults`]): when its connection is reset
//! (`drop`: once at a random moment in every interval, the moments drawn from the run's
//! `--seed` and the client's index, so a run repeated with the same seed cuts at the same
//! offsets), whether it is one of the stalled readers and when it stalls, and the idle limit
//! of the emulated intermediary. Each connection the client opens gets its share
//! ([`ConnFaults`]).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::time::Instant;

use super::conn::ConnFaults;
use super::spec::FaultSpec;
use crate::payload;

/// What every client of one technique is told about the faults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPlan {
    pub spec: FaultSpec,
    /// When the stalled readers stop reading (wall clock, µs since the epoch), if any do.
    pub stall_from_us: Option<u64>,
}

impl FaultPlan {
    /// The plan of a run with `spec`; stalls start `stall_after` from now.
    pub fn new(spec: FaultSpec, stall_after: Duration) -> FaultPlan {
        FaultPlan {
            spec,
            stall_from_us: spec
                .stall_reader
                .map(|_| payload::now_us() + stall_after.as_micros() as u64),
        }
    }
}

/// One client's faults.
#[derive(Debug)]
pub struct ClientFaults {
    pub(super) spec: FaultSpec,
    seed: u64,
    index: u32,
    /// The drop intervals count from here (the client's start).
    origin: Instant,
    /// When this client does not read, if it is a stalled reader.
    stall: Option<(Instant, Instant)>,
    /// When the client's last connection was cut (µs since the epoch; 0: none pending): read
    /// and cleared by the client's next delivered message, which records the recovery time.
    pub(super) cut_us: Arc<AtomicU64>,
    /// With `stall-reader`: the client's first deliveries of window messages.
    pub(super) in_window: u64,
}

impl ClientFaults {
    /// The faults of client `index` (among its technique's clients) of a run seeded `seed`.
    pub fn new(plan: &FaultPlan, seed: u64, index: u32) -> ClientFaults {
        let now = Instant::now();
        let stall = match (plan.spec.stall_reader, plan.stall_from_us) {
            (Some(s), Some(from_us)) if index < s.clients => {
                let ahead = Duration::from_micros(from_us.saturating_sub(payload::now_us()));
                Some((now + ahead, now + ahead + s.duration))
            }
            _ => None,
        };
        ClientFaults {
            spec: plan.spec,
            seed,
            index,
            origin: now,
            stall,
            cut_us: Arc::new(AtomicU64::new(0)),
            in_window: 0,
        }
    }

    /// Whether a fault acts on this client's connections (not only a server restart).
    pub fn on_connections(&self) -> bool {
        self.spec.on_connections()
    }

    /// Whether this client is one of the stalled readers.
    pub fn is_stalled_reader(&self) -> bool {
        self.stall.is_some()
    }

    /// The next moment this client's connection is reset, after `after`.
    pub fn next_cut(&self, after: Instant) -> Option<Instant> {
        let period = self.spec.drop?;
        let k0 =
            (after.saturating_duration_since(self.origin).as_nanos() / period.as_nanos()) as u64;
        (k0..k0 + 2)
            .map(|k| {
                let offset = period.mul_f64(unit(self.seed, self.index, k));
                self.origin + period * (k as u32) + offset
            })
            .find(|&t| t > after)
    }

    /// The faults of a connection opened now.
    pub fn for_connection(&self) -> ConnFaults {
        let now = Instant::now();
        ConnFaults::new(
            self.next_cut(now),
            self.spec.idle_cut,
            self.stall,
            Arc::clone(&self.cut_us),
        )
    }
}

/// A number in [0, 1) drawn from (seed, client, interval): SplitMix64 of their mix.
fn unit(seed: u64, index: u32, k: u64) -> f64 {
    let mut z = seed ^ (u64::from(index) << 32) ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultSpec;

    fn client(seed: u64, index: u32, spec: &str) -> ClientFaults {
        let plan = FaultPlan::new(
            FaultSpec::parse_all(&[spec]).unwrap(),
            Duration::from_secs(1),
        );
        ClientFaults::new(&plan, seed, index)
    }

    /// The cut offsets (ms from the client's start) over the first `n` intervals.
    fn cuts(c: &ClientFaults, n: usize) -> Vec<u128> {
        let mut t = c.origin;
        let mut out = Vec::new();
        for _ in 0..n {
            t = c.next_cut(t).unwrap();
            out.push((t - c.origin).as_millis());
        }
        out
    }

    #[test]
    fn one_cut_in_every_interval_following_the_seed() {
        let a = cuts(&client(7, 3, "drop=5s"), 20);
        for (k, ms) in a.iter().enumerate() {
            let k = k as u128;
            assert!((k * 5000..(k + 1) * 5000).contains(ms), "{k}: {ms}");
        }
        assert_eq!(
            a,
            cuts(&client(7, 3, "drop=5s"), 20),
            "same seed and client"
        );
        assert_ne!(a, cuts(&client(7, 4, "drop=5s"), 20), "another client");
        assert_ne!(a, cuts(&client(8, 3, "drop=5s"), 20), "another seed");
        // Spread over the interval, not bunched.
        let offsets: Vec<u128> = a
            .iter()
            .enumerate()
            .map(|(k, ms)| ms - k as u128 * 5000)
            .collect();
        assert!(offsets.iter().any(|&o| o < 2500) && offsets.iter().any(|&o| o >= 2500));
        assert!(
            client(1, 1, "idle-cut=3s")
                .next_cut(Instant::now())
                .is_none()
        );
    }

    #[test]
    fn the_first_n_clients_stall() {
        assert!(client(1, 0, "stall-reader=2:1s").is_stalled_reader());
        assert!(client(1, 1, "stall-reader=2:1s").is_stalled_reader());
        assert!(!client(1, 2, "stall-reader=2:1s").is_stalled_reader());
        let c = client(1, 0, "stall-reader=2:1500ms");
        let (from, until) = c.stall.unwrap();
        assert_eq!((until - from).as_millis(), 1500);
        let ahead = from.saturating_duration_since(Instant::now()).as_millis();
        assert!((800..=1000).contains(&ahead), "{ahead}");
    }
}
