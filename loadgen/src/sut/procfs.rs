//! Reads what Linux's /proc says about a process (CPU seconds, resident memory), this
//! process's descriptor limit, and the machine (CPU model, cores, memory, kernel, hostname).

use std::fs;

/// Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI).
const TICKS_PER_S: f64 = 100.0;

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
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_s: parse_stat_cpu(&stat)?,
        rss_bytes: parse_status_kb(&status, "VmRSS:")? * 1024,
    })
}

/// `pid` and its descendants (from /proc/<pid>/task/*/children), `pid` first.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 4096 {
        let p = out[i];
        i += 1;
        let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(text) = fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in text
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if !out.contains(&c) {
                    out.push(c);
                }
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

/// User + system CPU seconds from the text of /proc/<pid>/stat.
pub fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces; the fields after its `)` are fixed.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After `)`: state is index 0 (field 3), utime is field 14 -> index 11, stime index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_S)
}

/// A `Key:   123 kB` line of /proc/<pid>/status or /proc/meminfo, in kB.
pub fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits.
pub fn fd_soft_limit() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

/// Reads the machine description.
pub fn machine() -> contract::run_dir::Machine {
    let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let cpu_model = read("/proc/cpuinfo").and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
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
        memory_bytes: read("/proc/meminfo")
            .and_then(|m| parse_status_kb(&m, "MemTotal:"))
            .map(|k| k * 1024),
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
    fn parses_stat_with_spaces_in_name() {
        let stat = "4242 (my prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
    }

    #[test]
    fn samples_self() {
        let s = sample("self").expect("/proc/self");
        assert!(s.rss_bytes > 0);
        assert!(fd_soft_limit().unwrap() > 0);
        assert!(machine().cores >= Some(1));
    }

    #[test]
    fn samples_a_process_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let tree = process_tree(me);
        assert_eq!(tree[0], me);
        assert!(tree.contains(&child.id()), "{tree:?}");
        let one = sample("self").unwrap();
        let all = sample_tree(me).unwrap();
        assert!(all.rss_bytes > one.rss_bytes);
        let _ = child.kill();
        let _ = child.wait();
    }
}
