//! The `/metrics` document: a `/stats` document (one process's or a whole cluster's) in the
//! Prometheus text exposition format.

use std::fmt::Write as _;

use contract::stats::{GenerateCounters, Stats, TechniqueCounters};

use crate::metrics::Technique;
use crate::protocol::Protocol;

/// Renders a `/stats` document (one process's or a whole cluster's) in the Prometheus text
/// exposition format. Missing numbers read as 0.
pub fn prometheus(stats: &Stats) -> String {
    let zero = TechniqueCounters::default();
    let of = |t: Technique| stats.technique(t.name()).unwrap_or(&zero);
    let mut s = String::with_capacity(4096);
    for (i, (name, _)) in zero.counters().into_iter().enumerate() {
        let _ = writeln!(s, "# TYPE pushbench_{name}_total counter");
        for t in Technique::ALL {
            let v = of(t).counters()[i].1;
            let _ = writeln!(
                s,
                "pushbench_{name}_total{{technique=\"{}\"}} {v}",
                t.name()
            );
        }
    }
    let gen_zero = GenerateCounters::default();
    for (i, (name, _)) in gen_zero.counters().into_iter().enumerate() {
        let _ = writeln!(s, "# TYPE pushbench_generate_{name}_total counter");
        for t in Technique::ALL {
            let v = of(t).generate.counters()[i].1;
            let _ = writeln!(
                s,
                "pushbench_generate_{name}_total{{technique=\"{}\"}} {v}",
                t.name()
            );
        }
    }
    let _ = writeln!(s, "# TYPE pushbench_generate_streams_open gauge");
    for t in Technique::ALL {
        let v = of(t).generate.streams_open;
        let _ = writeln!(
            s,
            "pushbench_generate_streams_open{{technique=\"{}\"}} {v}",
            t.name()
        );
    }
    let _ = writeln!(s, "# TYPE pushbench_connections gauge");
    for t in Technique::ALL {
        let v = of(t).connections;
        let _ = writeln!(s, "pushbench_connections{{technique=\"{}\"}} {v}", t.name());
    }
    let protocol = |p: Protocol| stats.protocols.get(p.name()).copied().unwrap_or_default();
    let _ = writeln!(s, "# TYPE pushbench_connections_total counter");
    for p in Protocol::ALL {
        let v = protocol(p).total;
        let _ = writeln!(
            s,
            "pushbench_connections_total{{protocol=\"{}\"}} {v}",
            p.name()
        );
    }
    let _ = writeln!(s, "# TYPE pushbench_protocol_connections gauge");
    for p in Protocol::ALL {
        let v = protocol(p).open;
        let _ = writeln!(
            s,
            "pushbench_protocol_connections{{protocol=\"{}\"}} {v}",
            p.name()
        );
    }
    let globals = [
        ("pushbench_published_total", "counter", stats.published),
        (
            "pushbench_connection_errors_total",
            "counter",
            stats.connection_errors,
        ),
        (
            "pushbench_rejected_connections_total",
            "counter",
            stats.rejected_connections,
        ),
        (
            "pushbench_body_timeouts_total",
            "counter",
            stats.body_timeouts,
        ),
        (
            "pushbench_body_buffer_rejections_total",
            "counter",
            stats.body_buffer_rejections,
        ),
        (
            "pushbench_child_restarts_total",
            "counter",
            stats.child_restarts,
        ),
        (
            "pushbench_tls_handshake_failures_total",
            "counter",
            stats.tls_handshake_failures,
        ),
        ("pushbench_topics", "gauge", stats.topics),
        ("pushbench_processes", "gauge", stats.processes),
    ];
    for (name, kind, v) in globals {
        let _ = writeln!(s, "# TYPE {name} {kind}\n{name} {v}");
    }
    if let Some(b) = &stats.broker {
        broker(&mut s, b);
    }
    let p = stats.process.unwrap_or_default();
    let _ = writeln!(
        s,
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}",
        p.cpu_seconds
    );
    let _ = writeln!(
        s,
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
        p.rss_bytes
    );
    let _ = writeln!(
        s,
        "# TYPE process_open_fds gauge\nprocess_open_fds {}",
        p.open_fds
    );
    s
}

/// The broker's gauges and counters (`--broker`), labelled with its kind.
fn broker(s: &mut String, b: &contract::stats::BrokerStatus) {
    let rows = [
        (
            "pushbench_broker_connected",
            "gauge",
            u64::from(b.connected),
        ),
        (
            "pushbench_broker_connected_processes",
            "gauge",
            b.connected_processes,
        ),
        (
            "pushbench_broker_disconnects_total",
            "counter",
            b.disconnects,
        ),
        ("pushbench_broker_received_total", "counter", b.received),
        ("pushbench_broker_backfilled_total", "counter", b.backfilled),
        ("pushbench_broker_gaps_total", "counter", b.gaps),
        ("pushbench_broker_refused_total", "counter", b.refused),
    ];
    for (name, kind, v) in rows {
        let _ = writeln!(
            s,
            "# TYPE {name} {kind}\n{name}{{broker=\"{}\"}} {v}",
            b.kind
        );
    }
    let _ = writeln!(
        s,
        "# TYPE pushbench_broker_lost_seconds gauge\npushbench_broker_lost_seconds{{broker=\"{}\"}} {}",
        b.kind, b.lost_for_s
    );
}
