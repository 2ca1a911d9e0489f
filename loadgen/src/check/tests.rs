//! The parser's every error kind, units, `*`, and the verdicts on a summary.

use contract::run_dir::TechniqueSummary;

use super::*;
use crate::technique::Technique;

fn err(s: &str) -> CheckError {
    parse(s).unwrap_err()
}

#[test]
fn parses_techniques_figures_operators_and_units() {
    let c = parse(" sse.p99 < 50ms ").unwrap();
    assert_eq!(c.expr, "sse.p99 < 50ms");
    assert_eq!(c.target, Target::One(Technique::Sse));
    assert_eq!(
        (c.figure.name, c.op, c.threshold),
        ("p99", Op::Lt, 50_000.0)
    );
    let c = parse("*.lost == 0").unwrap();
    assert_eq!((c.target, c.op, c.threshold), (Target::All, Op::Eq, 0.0));
    let c = parse("long-poll.requests_per_message<=1.1").unwrap();
    assert_eq!((c.target, c.op), (Target::One(Technique::LongPoll), Op::Le));
    assert_eq!(c.threshold, 1.1);
    assert_eq!(parse("poll.p50 <= 0.6s").unwrap().threshold, 600_000.0);
    assert_eq!(parse("ws.p999 > 250 us").unwrap().op, Op::Gt);
    assert_eq!(parse("ws.max != 1µs").unwrap().op, Op::Ne);
    assert_eq!(parse("*.delivered_ratio >= 0.999").unwrap().op, Op::Ge);
    assert_eq!(
        parse("ws.server_cpu_per_1m_s < 10").unwrap().threshold,
        10.0
    );
    assert_eq!(parse("ws.server_cpu_s < 500ms").unwrap().threshold, 0.5);
    assert_eq!(
        parse("sse.server_rss < 64MiB").unwrap().threshold,
        64.0 * 1048576.0
    );
    assert_eq!(parse("sse.server_rss < 2KiB").unwrap().threshold, 2048.0);
    assert_eq!(
        parse("sse.bytes_per_message <= 300").unwrap().threshold,
        300.0
    );
    assert_eq!(
        parse("sse.bytes_per_message <= 300B").unwrap().threshold,
        300.0
    );
    assert_eq!(
        parse("sse.connect_p99 < 1ms").unwrap().figure.name,
        "connect_p99"
    );
    assert_eq!(
        parse("websocket.errors == 0").unwrap().target,
        Target::One(Technique::Ws)
    );
}

#[test]
fn every_error_kind_names_the_problem() {
    assert_eq!(err("  "), CheckError::Empty);
    assert!(matches!(err("sse.p99 50ms"), CheckError::NoOperator(_)));
    assert!(matches!(err("sse < 50ms"), CheckError::BadSubject(_)));
    assert!(matches!(err(".p99 < 50ms"), CheckError::BadSubject(_)));
    assert!(matches!(err("s se.p99 < 50ms"), CheckError::BadSubject(_)));
    let e = err("grpc.p99 < 50ms");
    assert!(matches!(&e, CheckError::UnknownTechnique { name, .. } if name == "grpc"));
    let e = err("sse.p98 < 50ms");
    assert!(matches!(&e, CheckError::UnknownFigure { name, .. } if name == "p98"));
    assert!(e.to_string().contains("p99, p999"), "{e}");
    assert!(matches!(err("sse.p99 <"), CheckError::NoThreshold(_)));
    assert!(matches!(
        err("sse.p99 < fast"),
        CheckError::BadNumber { .. }
    ));
    assert!(matches!(
        err("sse.p99 < -5ms"),
        CheckError::BadNumber { .. }
    ));
    assert!(matches!(
        err("sse.p99 < 1.2.3ms"),
        CheckError::BadNumber { .. }
    ));
    let e = err("sse.p99 < 50mins");
    assert!(matches!(&e, CheckError::UnknownUnit { unit, .. } if unit == "mins"));
    assert!(matches!(
        err("sse.p99 < 50"),
        CheckError::MissingUnit { .. }
    ));
    assert!(matches!(
        err("sse.p99 < 50MiB"),
        CheckError::WrongUnit { .. }
    ));
    assert!(matches!(err("*.lost == 0ms"), CheckError::WrongUnit { .. }));
    assert!(matches!(
        err("sse.server_rss < 5s"),
        CheckError::WrongUnit { .. }
    ));
    assert!(matches!(
        err("ws.server_cpu_s < 5KiB"),
        CheckError::WrongUnit { .. }
    ));
    for e in [
        err("sse.p99 < 50"),
        err("*.lost == 0ms"),
        err("x.p99 < 1ms"),
    ] {
        let s = e.to_string();
        assert!(!s.contains('\n') && s.starts_with('`'), "{s}");
    }
}

#[test]
fn a_technique_outside_the_run_is_refused() {
    let checks = [parse("*.lost == 0").unwrap(), parse("ws.p99 < 1s").unwrap()];
    assert!(require_techniques(&checks, &[Technique::Ws]).is_ok());
    let e = require_techniques(&checks, &[Technique::Poll, Technique::Sse]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`ws.p99 < 1s`: technique `ws` is not in this run's --techniques (poll, sse)"
    );
}

fn summary(json: &str) -> TechniqueSummary {
    serde_json::from_str(json).unwrap()
}

#[test]
fn verdicts_on_summaries_with_not_measured_failing() {
    let sse = summary(
        r#"{"technique": "sse", "expected": 100, "delivered": 100, "lost": 0, "requests": 10,
            "bytes_up": 0, "bytes_down": 30000, "server_cpu_s": 0.02,
            "latency_us": {"count": 100, "p50": 3200, "p99": 9000}}"#,
    );
    let ws = summary(
        r#"{"technique": "ws", "expected": 100, "delivered": 0, "lost": 100,
            "latency_us": {"count": 0, "p50": 0, "p99": 0}}"#,
    );
    let checks: Vec<Check> = [
        "*.lost == 0",
        "sse.p50 < 1us",
        "ws.p99 < 1s",
        "sse.p99 < 10ms",
    ]
    .iter()
    .map(|s| parse(s).unwrap())
    .collect();
    let v = judge(&checks, &[sse.clone(), ws]);
    let got: Vec<(&str, &str, Option<f64>)> = v
        .iter()
        .map(|v| (v.technique.as_str(), v.verdict.as_str(), v.value))
        .collect();
    assert_eq!(
        got,
        [
            ("sse", "pass", Some(0.0)),
            ("ws", "fail", Some(100.0)),
            ("sse", "fail", Some(3200.0)),
            ("ws", "fail", None),
            ("sse", "pass", Some(9000.0)),
        ]
    );
    assert_eq!(line(&v[0]), "check *.lost == 0 [sse]: pass (lost 0)");
    assert_eq!(line(&v[2]), "check sse.p50 < 1us: fail (p50 3.2 ms)");
    assert_eq!(line(&v[3]), "check ws.p99 < 1s: fail (p99 not measured)");
    assert_eq!(v[2].unit.as_deref(), Some("us"));
    assert_eq!(
        tally(&v),
        "5 checks: 2 passed, 3 failed (*.lost == 0 [ws], sse.p50 < 1us, ws.p99 < 1s)"
    );
    let ratio = judge(
        &[parse("sse.requests_per_message <= 0.1").unwrap()],
        std::slice::from_ref(&sse),
    );
    assert_eq!(ratio[0].verdict, "pass");
    let cpu = judge(&[parse("sse.server_cpu_per_1m_s < 300").unwrap()], &[sse]);
    assert_eq!(
        (cpu[0].verdict.as_str(), cpu[0].value),
        ("pass", Some(200.0))
    );
}

#[test]
fn docs_hold_the_figure_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CHECKS.md");
    let doc = std::fs::read_to_string(path).unwrap();
    assert!(
        doc.contains(&figures::markdown()),
        "docs/CHECKS.md: paste the table again:\n{}",
        figures::markdown()
    );
}

#[test]
fn the_figure_table_is_whole() {
    let md = figures::markdown();
    for f in figures::FIGURES {
        assert!(md.contains(&format!("`{}`", f.name)));
        assert!(figures::find(f.name).is_some());
    }
}
