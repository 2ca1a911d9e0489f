//! What Linux's /proc says about a process: CPU seconds, resident memory, open descriptors.
//! The one reader of these figures: the server's `/stats`, the load generator's sampling of
//! its child server and of itself, and the benchmarks all call it. The parsing is the `procfs`
//! crate's; CPU ticks are converted with the kernel's own clock tick (`USER_HZ`), not a
//! constant.

use procfs::WithCurrentSystemInfo as _;
use procfs::process::Process;

/// A process's CPU time and resident memory at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// The usage of process `pid`; `None` when it is gone (or there is no /proc).
pub fn usage(pid: u32) -> Option<Usage> {
    of(&Process::new(i32::try_from(pid).ok()?).ok()?)
}

/// The usage of this process.
pub fn own_usage() -> Option<Usage> {
    of(&Process::myself().ok()?)
}

/// The descriptors this process has open.
pub fn own_open_fds() -> Option<u64> {
    Some(Process::myself().ok()?.fd_count().ok()? as u64)
}

/// The calling thread's id (Linux tid), from the `/proc/thread-self` link.
pub fn current_tid() -> Option<u32> {
    let target = std::fs::read_link("/proc/thread-self").ok()?;
    target.file_name()?.to_str()?.parse().ok()
}

/// User + system CPU seconds of thread `tid` of this process; `None` if it is gone.
pub fn own_thread_cpu_seconds(tid: u32) -> Option<f64> {
    let task = Process::myself()
        .ok()?
        .task_from_tid(i32::try_from(tid).ok()?)
        .ok()?;
    let stat = task.stat().ok()?;
    Some((stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64)
}

fn of(p: &Process) -> Option<Usage> {
    let stat = p.stat().ok()?;
    let ticks = (stat.utime + stat.stime) as f64;
    Some(Usage {
        cpu_seconds: ticks / procfs::ticks_per_second() as f64,
        rss_bytes: stat.rss_bytes().get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_a_child() {
        // Burn a little CPU so the figure is above zero at the kernel's tick.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let me = own_usage().expect("/proc/self");
        assert!(me.cpu_seconds > 0.0 && me.cpu_seconds < 3600.0, "{me:?}");
        assert!(me.rss_bytes > 1 << 20, "{me:?}");
        assert_eq!(
            usage(std::process::id()).map(|u| u.rss_bytes > 0),
            Some(true)
        );
        assert!(own_open_fds().unwrap() >= 3);
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        // Between its fork and its exec the child may show no memory of its own yet.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while usage(child.id())
            .expect("the child's /proc entry")
            .rss_bytes
            == 0
        {
            assert!(std::time::Instant::now() < deadline, "the child has no RSS");
            std::thread::yield_now();
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(usage(u32::MAX), None);
    }

    #[test]
    fn reads_this_threads_cpu() {
        let tid = current_tid().expect("Linux has /proc/thread-self");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let s = own_thread_cpu_seconds(tid).expect("this thread's stat");
        assert!(s > 0.0 && s < 3600.0, "{s}");
        assert_eq!(own_thread_cpu_seconds(u32::MAX), None);
    }
}
