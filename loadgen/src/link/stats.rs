//! What a link counts (connections, bytes and segments delivered each way, bytes waiting in
//! its queues) and what its emulator's threads cost in CPU, read from
//! `/proc/self/task/<tid>/stat`.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Counters of one direction, shared by every connection of a link.
#[derive(Debug, Default)]
pub struct DirCounters {
    /// Bytes written to the far end.
    pub bytes: AtomicU64,
    /// Writes to the far end that finished a segment.
    pub segments: AtomicU64,
    /// Bytes waiting in the delay lines now (all connections).
    pub queued: AtomicU64,
    /// The most bytes one connection ever had waiting.
    pub queued_max: AtomicU64,
}

/// Counters of one link.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connection attempts.
    pub connects: AtomicU64,
    /// Attempts that failed (refused, timed out, could not bind).
    pub connect_failures: AtomicU64,
    /// Connections being carried now.
    pub open: AtomicU64,
    /// Client to server.
    pub up: std::sync::Arc<DirCounters>,
    /// Server to client.
    pub down: std::sync::Arc<DirCounters>,
}

/// One direction's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    pub bytes: u64,
    pub segments: u64,
    pub queued: u64,
    pub queued_max: u64,
}

/// A link's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub connects: u64,
    pub connect_failures: u64,
    pub open: u64,
    pub up: DirStats,
    pub down: DirStats,
}

impl DirCounters {
    fn snapshot(&self) -> DirStats {
        DirStats {
            bytes: self.bytes.load(Relaxed),
            segments: self.segments.load(Relaxed),
            queued: self.queued.load(Relaxed),
            queued_max: self.queued_max.load(Relaxed),
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> LinkStats {
        LinkStats {
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            open: self.open.load(Relaxed),
            up: self.up.snapshot(),
            down: self.down.snapshot(),
        }
    }
}

/// Clock ticks per second in /proc stat files (USER_HZ, 100 on every Linux ABI).
const TICKS_PER_S: f64 = 100.0;

/// The calling thread's id (Linux tid), from the /proc/thread-self link.
pub fn current_tid() -> Option<u32> {
    let target = std::fs::read_link("/proc/thread-self").ok()?;
    target.file_name()?.to_str()?.parse().ok()
}

/// User + system CPU seconds of thread `tid` of this process; `None` if it is gone.
pub fn thread_cpu_seconds(tid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    parse_stat_cpu(&stat)
}

/// User + system CPU seconds of this whole process; `None` without /proc.
pub fn process_cpu_seconds() -> Option<f64> {
    parse_stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// utime + stime (fields 14 and 15) of a /proc stat line, in seconds. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_spaces_in_the_name() {
        let line = "4242 (pb link (x)) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 1 0";
        assert_eq!(parse_stat_cpu(line), Some(2.0));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn reads_this_threads_cpu() {
        let tid = current_tid().expect("Linux has /proc/thread-self");
        assert!(thread_cpu_seconds(tid).is_some());
        assert_eq!(thread_cpu_seconds(u32::MAX), None);
    }
}
