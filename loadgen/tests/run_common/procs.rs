//! Watching the processes a `pushbench` command starts, from outside, as a user would: its
//! descendants (from /proc), the port its server child listens on, that server's `/stats`.
//! Tests wait on these (with a bounded deadline) instead of sleeping for a guessed time.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::wait_until;

/// The descendants of `pid` (from /proc/<pid>/task/*/children), `pid` excluded.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        i += 1;
        for c in children(p) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.remove(0);
    out
}

/// The children of `pid` (from /proc/<pid>/task/*/children).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// The command line of `pid`, words joined by spaces ("" once it is gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// True once `pid` no longer runs (gone, or a zombie nobody reaped yet).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// The loopback port `pid` listens on (its first listening IPv4 TCP socket): the socket
/// inodes among its descriptors, matched against /proc/<pid>/net/tcp.
pub fn listening_port(pid: u32) -> Option<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let l = link.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok()?;
    tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // f[1] local address (hex ip:port), f[3] state (0A = LISTEN), f[9] inode.
        if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
            u16::from_str_radix(f[1].rsplit_once(':')?.1, 16).ok()
        } else {
            None
        }
    })
}

/// `GET /stats` of the server at `addr`, parsed (None while it does not answer 200).
pub fn stats(addr: SocketAddr) -> Option<serde_json::Value> {
    let t = Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, t).ok()?;
    s.set_read_timeout(Some(t)).ok()?;
    s.set_write_timeout(Some(t)).ok()?;
    write!(
        s,
        "GET /stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(body).ok()
}

/// The `pushbench serve` process among the descendants of `parent`, and where it listens.
pub fn server_child(parent: u32) -> Option<(u32, SocketAddr)> {
    descendants(parent).into_iter().find_map(|p| {
        if !cmdline(p).contains(" serve ") {
            return None;
        }
        let port = listening_port(p)?;
        Some((p, SocketAddr::from(([127, 0, 0, 1], port))))
    })
}

/// Waits (at most `limit`) until the server that `pushbench` (pid `parent`) started answers a
/// `/stats` for which `pred` holds; returns the server's pid and that document. Panics after
/// `limit`, saying `what` was awaited and what was seen last.
pub fn wait_for_server_stats(
    parent: u32,
    limit: Duration,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> (u32, serde_json::Value) {
    let mut last = None;
    let mut found = None;
    let held = wait_until(limit, || {
        let Some((pid, addr)) = server_child(parent) else {
            return false;
        };
        let Some(s) = stats(addr) else {
            return false;
        };
        let ok = pred(&s);
        if ok {
            found = Some((pid, s));
        } else {
            last = Some(s);
        }
        ok
    });
    match found {
        Some(f) if held => f,
        _ => panic!("never saw {what} within {limit:?}; last /stats: {last:?}"),
    }
}

/// `/stats`' figure `key` of `technique` (0 when absent).
pub fn technique_figure(s: &serde_json::Value, technique: &str, key: &str) -> u64 {
    s["techniques"][technique][key].as_u64().unwrap_or(0)
}
