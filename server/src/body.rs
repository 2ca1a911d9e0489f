//! Reading a publish body within its limits: at most `--max-payload-bytes`, the whole body
//! within `--body-read-timeout` of its head, and inside the server-wide budget of body bytes
//! buffered at once (`--body-buffer-bytes`). So a client that declares a large body and stalls
//! (or sends `Expect: 100-continue` and nothing) holds its connection and memory for a bounded
//! time, and all such clients together hold a bounded amount, whatever `--max-connections` is.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (declared or sent).
    TooLarge,
    /// Not complete within the body-read timeout.
    Timeout,
    /// Buffering it would take the server over its body budget.
    Budget,
    /// The connection failed or the framing was bad.
    Bad(String),
}

/// The server-wide budget of body bytes buffered at once.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    limit: usize,
}

/// Bytes taken from a [`Budget`], given back on drop.
#[derive(Debug)]
pub struct Lease<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// An empty lease.
    pub fn lease(&self) -> Lease<'_> {
        Lease {
            budget: self,
            bytes: 0,
        }
    }
}

impl Lease<'_> {
    /// Takes `n` more bytes; false (nothing taken) when that would pass the limit.
    pub fn grow(&mut self, n: usize) -> bool {
        let b = self.budget;
        let taken = b.used.fetch_update(Relaxed, Relaxed, |u| {
            u.checked_add(n).filter(|t| *t <= b.limit)
        });
        if taken.is_ok() {
            self.bytes += n;
        }
        taken.is_ok()
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Relaxed);
    }
}

/// Reads `body` (which declared `declared` bytes, if it did) whole: at most `max` bytes,
/// within `timeout`, with its bytes taken from `lease` as they are buffered (all of a declared
/// length up front, so a body that cannot fit is refused before the client sends it).
pub async fn read(
    body: Incoming,
    declared: Option<u64>,
    max: usize,
    timeout: Duration,
    lease: &mut Lease<'_>,
) -> Result<Bytes, BodyError> {
    let declared = match declared {
        Some(n) if n > max as u64 => return Err(BodyError::TooLarge),
        Some(n) => Some(n as usize),
        None => None,
    };
    if let Some(n) = declared {
        if !lease.grow(n) {
            return Err(BodyError::Budget);
        }
    }
    let collect = async {
        let mut body = body;
        let mut out = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Bad(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if out.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            if declared.is_none() && !lease.grow(data.len()) {
                return Err(BodyError::Budget);
            }
            out.extend_from_slice(&data);
        }
        Ok(Bytes::from(out))
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_stay_within_the_budget_and_give_back_on_drop() {
        let b = Budget::new(10);
        let mut a = b.lease();
        assert!(a.grow(6));
        let mut c = b.lease();
        assert!(!c.grow(5), "6 + 5 > 10");
        assert!(c.grow(4));
        assert_eq!(b.used(), 10);
        assert!(!a.grow(1));
        drop(a);
        assert_eq!(b.used(), 4);
        assert!(c.grow(6));
        drop(c);
        assert_eq!(b.used(), 0);
    }
}
