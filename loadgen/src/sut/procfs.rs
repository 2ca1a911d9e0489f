//! What Linux's /proc says about a process (CPU seconds and resident memory, through the
//! server's `procinfo`, and its descendants), this process's descriptor limit, and the machine
//! (CPU model, cores, memory, kernel, hostname) and its TIME_WAIT sockets. Parsed by the
//! `procfs` crate.

use std::fs;

use procfs::net::TcpState;
use procfs::process::{LimitValue, Process};
use procfs::{CpuInfo, Current as _, Meminfo};
use server::procinfo;

/// CPU time and resident memory of one process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// Samples process `pid` ("self" for this process). `None` if it is gone or /proc is absent.
pub fn sample(pid: &str) -> Option<ProcSample> {
    let u = if pid == "self" {
        procinfo::own_usage()?
    } else {
        procinfo::usage(pid.parse().ok()?)?
    };
    Some(ProcSample {
        cpu_s: u.cpu_seconds,
        rss_bytes: u.rss_bytes,
    })
}

/// `pid` and its descendants (the children of each of their threads), `pid` first.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 4096 {
        let p = out[i];
        i += 1;
        let Some(tasks) = i32::try_from(p)
            .ok()
            .and_then(|p| Process::new(p).ok())
            .and_then(|p| p.tasks().ok())
        else {
            continue;
        };
        for c in tasks.flatten().filter_map(|t| t.children().ok()).flatten() {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Samples `pid` and its descendants, summed (CPU seconds and RSS): a server started as a
/// supervisor with worker processes counts as all of them. `None` if `pid` is gone.
pub fn sample_tree(pid: u32) -> Option<ProcSample> {
    let mut total = sample(&pid.to_string())?;
    for c in process_tree(pid).into_iter().skip(1) {
        if let Some(s) = sample(&c.to_string()) {
            total.cpu_s += s.cpu_s;
            total.rss_bytes += s.rss_bytes;
        }
    }
    Some(total)
}

/// The soft limit on open files of this process (`ulimit -n`).
pub fn fd_soft_limit() -> Option<u64> {
    let limits = Process::myself().ok()?.limits().ok()?;
    match limits.max_open_files.soft_limit {
        LimitValue::Unlimited => Some(u64::MAX),
        LimitValue::Value(n) => Some(n),
    }
}

/// Memory available for new processes without swapping (`MemAvailable`), bytes.
pub fn mem_available() -> Option<u64> {
    Meminfo::current().ok()?.mem_available
}

/// TCP sockets in TIME_WAIT now (IPv4 and IPv6); `None` without /proc/net.
pub fn time_wait_sockets() -> Option<u64> {
    let mut n = 0;
    let mut any = false;
    for table in [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
    {
        any = true;
        n += table
            .iter()
            .filter(|e| e.state == TcpState::TimeWait)
            .count() as u64;
    }
    any.then_some(n)
}

/// Reads the machine description.
pub fn machine() -> contract::run_dir::Machine {
    let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let cpu_model = CpuInfo::current()
        .ok()
        .and_then(|c| c.model_name(0).map(|m| m.trim().to_string()));
    let kernel = match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(t), Some(r)) => Some(format!("{t} {r} {}", std::env::consts::ARCH)),
        _ => None,
    };
    contract::run_dir::Machine {
        hostname: read("/proc/sys/kernel/hostname"),
        cpu_model,
        cores: Some(
            std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
        ),
        memory_bytes: Meminfo::current().ok().map(|m| m.mem_total),
        kernel,
        os: Some(std::env::consts::OS.to_string()),
        arch: Some(std::env::consts::ARCH.to_string()),
        fd_limit: fd_soft_limit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_self() {
        let s = sample("self").expect("/proc/self");
        assert!(s.rss_bytes > 0);
        assert!(fd_soft_limit().unwrap() > 0);
        assert!(mem_available().unwrap() > 0);
        let m = machine();
        assert!(m.cores >= Some(1));
        assert!(m.memory_bytes.unwrap() >= mem_available().unwrap());
        assert!(sample("no-such-pid").is_none());

        // A connection closed first by its client leaves that side in TIME_WAIT.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(client);
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &server, &mut buf).unwrap(), 0);
        drop(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while time_wait_sockets().unwrap() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no TIME_WAIT socket seen"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn samples_a_process_tree() {
        // A shell and its `sleep`: two processes whose memory is still once they have
        // exec'd, so the tree's sum can be checked exactly (this test process's own RSS
        // moves with the tests running beside it).
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .unwrap();
        let root = shell.id();
        let tree = process_tree(std::process::id());
        assert!(tree.contains(&root), "{tree:?}");
        let rss = |tree: &[u32]| -> Vec<u64> {
            tree.iter()
                .filter_map(|p| sample(&p.to_string()).map(|s| s.rss_bytes))
                .collect()
        };
        // Both must have started and exec'd (a forked child briefly shows no RSS) and their
        // memory must hold still across the sample (a fresh process still faults pages in).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (tree, parts, all) = loop {
            let tree = process_tree(root);
            let before = rss(&tree);
            let all = sample_tree(root).unwrap();
            let after = rss(&tree);
            if tree.len() == 2 && before.len() == 2 && before == after && !before.contains(&0) {
                break (tree, before, all);
            }
            assert!(std::time::Instant::now() < deadline, "{tree:?} {before:?}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(tree[0], root);
        assert_eq!(
            all.rss_bytes,
            parts.iter().sum::<u64>(),
            "{tree:?} {parts:?}"
        );
        assert!(all.rss_bytes > parts[0], "the child's memory is counted");
        let _ = std::process::Command::new("kill")
            .arg(tree[1].to_string())
            .status();
        let _ = shell.kill();
        let _ = shell.wait();
    }
}
