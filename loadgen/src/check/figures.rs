//! The figures a check can name: one table ([`FIGURES`]) holding each figure's name, kind,
//! meaning and how it is computed from a technique's summary, so that `--help`, the docs and
//! every error list them from one place.

use contract::run_dir::TechniqueSummary;

/// What a figure measures, which decides the units its threshold may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A duration, held in µs; the threshold needs a unit (`us`, `ms`, `s`).
    Duration,
    /// CPU seconds; the threshold is a bare number of seconds, or a duration with a unit.
    Seconds,
    /// A size, held in bytes; the threshold is bytes, or `B`, `KiB`, `MiB`, `GiB`.
    Size,
    /// A count or a ratio: a bare number, no unit.
    Number,
}

impl Kind {
    /// The unit a figure of this kind is held (and written in checks.json) in.
    pub fn base_unit(self) -> Option<&'static str> {
        match self {
            Kind::Duration => Some("us"),
            Kind::Seconds => Some("s"),
            Kind::Size => Some("B"),
            Kind::Number => None,
        }
    }

    /// What a figure of this kind is called in an error.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Duration => "a duration (give a unit: us, ms, s)",
            Kind::Seconds => "CPU seconds (a bare number of seconds, or us, ms, s)",
            Kind::Size => "a size (bytes, or B, KiB, MiB, GiB)",
            Kind::Number => "a count or ratio (a bare number, no unit)",
        }
    }
}

/// One figure a check can name.
pub struct Figure {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
    /// Its value for one technique, in [`Kind::base_unit`]; None: not measured.
    pub value: fn(&TechniqueSummary) -> Option<f64>,
}

impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A latency statistic, µs; not measured when no latency was recorded.
fn latency(
    s: &TechniqueSummary,
    pick: fn(&contract::run_dir::LatencyUs) -> Option<f64>,
) -> Option<f64> {
    let l = &s.latency_us;
    l.count.filter(|&c| c > 0)?;
    pick(l)
}

/// A request-mode statistic (`ttft_us`, `itl_us`, `request.e2e_us`), µs; not measured in a
/// broadcast run or when nothing was recorded.
fn request(
    l: Option<&contract::run_dir::LatencyUs>,
    pick: fn(&contract::run_dir::LatencyUs) -> Option<u64>,
) -> Option<f64> {
    let l = l?;
    l.count.filter(|&c| c > 0)?;
    count(pick(l))
}

fn count(v: Option<u64>) -> Option<f64> {
    v.map(|n| n as f64)
}

/// `n / d`, not measured when `d` is unknown or 0.
fn ratio(n: Option<f64>, d: Option<u64>) -> Option<f64> {
    let d = d.filter(|&d| d > 0)?;
    Some(n? / d as f64)
}

fn connect(
    s: &TechniqueSummary,
    pick: fn(&contract::run_dir::Millis) -> Option<f64>,
) -> Option<f64> {
    s.connect_ms.as_ref().and_then(pick).map(|ms| ms * 1000.0)
}

/// Every figure, in the order `--help` and the docs list them.
pub const FIGURES: &[Figure] = &[
    Figure {
        name: "p50",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, median",
        value: |s| latency(s, |l| count(l.p50)),
    },
    Figure {
        name: "p90",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, 90th percentile",
        value: |s| latency(s, |l| count(l.p90)),
    },
    Figure {
        name: "p99",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, 99th percentile",
        value: |s| latency(s, |l| count(l.p99)),
    },
    Figure {
        name: "p999",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, 99.9th percentile",
        value: |s| latency(s, |l| count(l.p999)),
    },
    Figure {
        name: "max",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, highest",
        value: |s| latency(s, |l| count(l.max)),
    },
    Figure {
        name: "mean",
        kind: Kind::Duration,
        doc: "publish-to-receive latency, mean",
        value: |s| latency(s, |l| l.mean),
    },
    Figure {
        name: "connect_p50",
        kind: Kind::Duration,
        doc: "TCP connect + handshake, median (connect_ms.p50)",
        value: |s| connect(s, |m| m.p50),
    },
    Figure {
        name: "connect_p99",
        kind: Kind::Duration,
        doc: "TCP connect + handshake, 99th percentile (connect_ms.p99)",
        value: |s| connect(s, |m| m.p99),
    },
    Figure {
        name: "ttft_p50",
        kind: Kind::Duration,
        doc: "request mode: request sent to first event, median (ttft_us.p50)",
        value: |s| request(s.ttft_us.as_ref(), |l| l.p50),
    },
    Figure {
        name: "ttft_p99",
        kind: Kind::Duration,
        doc: "request mode: request sent to first event, 99th percentile (ttft_us.p99)",
        value: |s| request(s.ttft_us.as_ref(), |l| l.p99),
    },
    Figure {
        name: "itl_p50",
        kind: Kind::Duration,
        doc: "request mode: gap between consecutive events, median (itl_us.p50)",
        value: |s| request(s.itl_us.as_ref(), |l| l.p50),
    },
    Figure {
        name: "itl_p99",
        kind: Kind::Duration,
        doc: "request mode: gap between consecutive events, 99th percentile (itl_us.p99)",
        value: |s| request(s.itl_us.as_ref(), |l| l.p99),
    },
    Figure {
        name: "e2e_p99",
        kind: Kind::Duration,
        doc: "request mode: request sent to the stream's end, 99th percentile",
        value: |s| request(s.request.as_ref().map(|r| &r.e2e_us), |l| l.p99),
    },
    Figure {
        name: "lost",
        kind: Kind::Number,
        doc: "messages expected and never delivered (lost)",
        value: |s| count(s.lost),
    },
    Figure {
        name: "errors",
        kind: Kind::Number,
        doc: "errors of every kind over the phase (sum of errors)",
        value: |s| Some(s.errors_total() as f64),
    },
    Figure {
        name: "delivered",
        kind: Kind::Number,
        doc: "distinct expected messages received (delivered)",
        value: |s| count(s.delivered),
    },
    Figure {
        name: "expected",
        kind: Kind::Number,
        doc: "deliveries expected (expected)",
        value: |s| count(s.expected),
    },
    Figure {
        name: "delivered_ratio",
        kind: Kind::Number,
        doc: "delivered / expected",
        value: |s| ratio(count(s.delivered), s.expected),
    },
    Figure {
        name: "duplicates",
        kind: Kind::Number,
        doc: "messages received again (duplicates)",
        value: |s| count(s.duplicates),
    },
    Figure {
        name: "reconnects",
        kind: Kind::Number,
        doc: "connections re-opened after the first (reconnects)",
        value: |s| count(s.reconnects),
    },
    Figure {
        name: "requests_per_message",
        kind: Kind::Number,
        doc: "requests / delivered",
        value: |s| ratio(count(s.requests), s.delivered),
    },
    Figure {
        name: "bytes_per_message",
        kind: Kind::Size,
        doc: "(bytes_up + bytes_down) / delivered",
        value: |s| {
            ratio(
                s.bytes_up.zip(s.bytes_down).map(|(u, d)| (u + d) as f64),
                s.delivered,
            )
        },
    },
    Figure {
        name: "server_cpu_s",
        kind: Kind::Seconds,
        doc: "server CPU seconds in the window (server_cpu_s)",
        value: |s| s.server_cpu_s,
    },
    Figure {
        name: "server_cpu_per_1m_s",
        kind: Kind::Seconds,
        doc: "server_cpu_s × 10⁶ / delivered (CPU s per 1M deliveries)",
        value: |s| ratio(s.server_cpu_s.map(|c| c * 1e6), s.delivered),
    },
    Figure {
        name: "server_rss",
        kind: Kind::Size,
        doc: "server resident memory, peak in the window (server_rss_bytes)",
        value: |s| count(s.server_rss_bytes),
    },
    Figure {
        name: "server_rss_per_client",
        kind: Kind::Size,
        doc: "(server_rss_bytes - server_rss_idle_bytes) / clients",
        value: |s| {
            ratio(
                s.server_rss_bytes
                    .zip(s.server_rss_idle_bytes)
                    .map(|(r, i)| r.saturating_sub(i) as f64),
                s.clients,
            )
        },
    },
];

/// The figure called `name`.
pub fn find(name: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.name == name)
}

/// The figures' names, comma-separated (for errors).
pub fn names() -> String {
    FIGURES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table as Markdown (name, kind, meaning), as docs/CHECKS.md holds it.
pub fn markdown() -> String {
    let mut out = String::from("| figure | kind | meaning |\n|---|---|---|\n");
    for f in FIGURES {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            f.name,
            kind_word(f.kind),
            f.doc
        ));
    }
    out
}

/// The figures as `pushbench run --help` lists them after the options.
pub fn help() -> String {
    let mut out = String::from(
        "Checks (--check EXPR, or `checks` in a scenario): TECHNIQUE.FIGURE OP VALUE[UNIT], \
         TECHNIQUE one of poll, long-poll, stream, sse, ws or * (every technique that ran), OP \
         one of < <= > >= == !=, e.g. `sse.p99 < 50ms`, `*.lost == 0`, \
         `*.delivered_ratio >= 0.999`, `ws.server_rss < 64MiB`. A figure not measured fails \
         its check. Figures:\n",
    );
    for f in FIGURES {
        out.push_str(&format!(
            "  {:<22} {:<12} {}\n",
            f.name,
            kind_word(f.kind),
            f.doc
        ));
    }
    out.push('\n');
    out.push_str(crate::exit::HELP);
    out
}

fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Duration => "duration",
        Kind::Seconds => "CPU seconds",
        Kind::Size => "size",
        Kind::Number => "number",
    }
}
