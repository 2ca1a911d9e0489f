//! A bandwidth ([`Rate`]): what `down=`/`up=` and the presets say, and how long a number of
//! bytes takes to serialize at it.

use std::fmt;
use std::time::Duration;

/// A bandwidth, in bits per second (always more than zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u64);

impl Rate {
    /// `bits` per second; callers pass more than zero (parsing rejects zero).
    pub const fn from_bits_per_s(bits: u64) -> Rate {
        Rate(bits)
    }
    pub fn bits_per_s(self) -> u64 {
        self.0
    }
    pub fn bytes_per_s(self) -> f64 {
        self.0 as f64 / 8.0
    }
    /// How long `bytes` take to serialize at this rate.
    pub fn time_for(self, bytes: usize) -> Duration {
        Duration::from_nanos((bytes as u128 * 8 * 1_000_000_000 / self.0.max(1) as u128) as u64)
    }
}

impl fmt::Display for Rate {
    /// The largest unit that keeps the number readable: `400kbit`, `1.44mbit`, `25mbit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scale, unit) = match self.0 {
            b if b >= 1_000_000_000 => (1e9, "gbit"),
            b if b >= 1_000_000 => (1e6, "mbit"),
            b if b >= 1_000 => (1e3, "kbit"),
            _ => (1.0, "bit"),
        };
        write!(f, "{}{unit}", self.0 as f64 / scale)
    }
}
