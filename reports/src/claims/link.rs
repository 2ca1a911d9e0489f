//! The claims only a link can decide: on loopback every technique delivers within
//! a millisecond, so long poll's re-arm and short poll's interval cost nothing visible. Judged
//! from the run's own numbers when its manifest names a link (`params.link`, read by
//! [`crate::link`]); without one each says what to run to judge it.

use super::{Verdict, missing, not_measured};
use crate::colors::display_name as name;
use crate::fmt;
use crate::link::{self, LinkInfo};
use crate::model::{Figures, Run, TechniqueSummary};

/// The two claims and their rules, appended to [`super::CLAIMS`].
pub const CLAIMS: [(&str, &str); 2] = [
    (
        "Long poll pays an extra round trip per message at high message rates",
        "decided over a link (the run's --link) when messages come at least once per round \
         trip (rate × RTT ≥ 1; at lower rates every message finds a poll armed and there is \
         nothing to pay): holds when long poll's p50 exceeds that of a push technique (SSE, \
         else HTTP stream, else WebSocket) by at least a quarter of the RTT. The model \
         (docs/REPORTS.md) expects half an RTT more at the median: a message arriving while \
         the poll is being re-armed waits up to one round trip",
    ),
    (
        "On a slow link SSE beats short polling",
        "decided over a link: holds when SSE had a lower p50 than short poll and sent fewer \
         requests and no more bytes (both directions) per delivered message",
    ),
];

/// What to run when the run had no link.
const NEEDS_LINK: &str = "needs a link: run with --link rtt=200ms to judge";

fn p50_ms(t: &TechniqueSummary) -> Option<f64> {
    t.latency_us.p50.map(|v| v as f64 / 1000.0)
}

/// Three significant digits without trailing zeros: `3`, `0.4`, `3.33`.
fn num(v: f64) -> String {
    fmt::tick(fmt::sig(v).parse().unwrap_or(v))
}

fn ms(v: f64) -> String {
    format!("{} ms", fmt::sig(v))
}

/// Checks both claims against `run`.
pub fn check(run: &Run) -> [(Verdict, String); 2] {
    match link::from_params(&run.manifest.params) {
        Some(l) => [long_poll_round_trip(run, &l), sse_beats_poll(run)],
        None => [
            not_measured(NEEDS_LINK.into()),
            not_measured(NEEDS_LINK.into()),
        ],
    }
}

fn long_poll_round_trip(run: &Run, l: &LinkInfo) -> (Verdict, String) {
    let Some(lp) = run.technique("long-poll").and_then(p50_ms) else {
        return not_measured(format!(
            "not decidable: no p50 for {} (did it run?)",
            name("long-poll")
        ));
    };
    let push = ["sse", "stream", "ws"]
        .iter()
        .find_map(|t| Some((*t, run.technique(t).and_then(p50_ms)?)));
    let Some((push, push_ms)) = push else {
        return not_measured(
            "not decidable: no SSE, HTTP stream or WebSocket p50 to compare with".into(),
        );
    };
    let Some(rate) = run.manifest.param_f64("rate").filter(|r| *r > 0.0) else {
        return not_measured("not decidable: the run's message rate is unknown".into());
    };
    let rtt = l.rtt_ms;
    if rtt <= 0.0 {
        return not_measured(
            "not decidable: the link has no round-trip delay, so a re-arm costs nothing; run \
             with --link rtt=200ms to judge"
                .into(),
        );
    }
    let product = rate * rtt / 1000.0;
    let compared = format!(
        "long poll p50 {} vs {} {}: {}{} ms = {} RTT",
        ms(lp),
        name(push),
        ms(push_ms),
        if lp >= push_ms { "+" } else { "" },
        fmt::sig(lp - push_ms),
        fmt::sig((lp - push_ms) / rtt)
    );
    if product < 1.0 {
        return not_measured(format!(
            "not decidable at this rate: messages every {} against a {} round trip \
             (rate × RTT = {}), so every message finds a poll armed ({compared}); run with \
             --rate above {} msg/s to judge",
            ms(1000.0 / rate),
            ms(rtt),
            num(product),
            num(1000.0 / rtt)
        ));
    }
    (
        Verdict::from(lp - push_ms >= rtt / 4.0),
        format!(
            "{compared}, at rate × RTT = {} (messages every {}, RTT {})",
            num(product),
            ms(1000.0 / rate),
            ms(rtt)
        ),
    )
}

fn sse_beats_poll(run: &Run) -> (Verdict, String) {
    let (Some(sse), Some(poll)) = (run.technique("sse"), run.technique("poll")) else {
        let absent = if run.technique("sse").is_none() {
            "sse"
        } else {
            "poll"
        };
        return not_measured(format!("not decidable: {} did not run", name(absent)));
    };
    let (Some(s50), Some(p50)) = (p50_ms(sse), p50_ms(poll)) else {
        return not_measured(missing(
            if p50_ms(sse).is_none() { "sse" } else { "poll" },
            "p50",
        ));
    };
    let (Some(sr), Some(pr)) = (sse.requests_per_msg(), poll.requests_per_msg()) else {
        return not_measured("not decidable: requests per message unknown".into());
    };
    let (Some(sb), Some(pb)) = (sse.bytes_per_msg(), poll.bytes_per_msg()) else {
        return not_measured("not decidable: bytes per message unknown".into());
    };
    (
        Verdict::from(s50 < p50 && sr < pr && sb <= pb),
        format!(
            "p50 SSE {} vs short poll {}; requests per message {} vs {}; bytes per message \
             {} vs {}",
            ms(s50),
            ms(p50),
            fmt::sig(sr),
            fmt::sig(pr),
            fmt::bytes(sb),
            fmt::bytes(pb)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Manifest;

    /// A run at `rate` msg/s over `link` with these techniques' p50 (ms), requests and bytes
    /// (both ways) per delivered message.
    fn run(link: &str, rate: f64, techniques: &[(&str, u64, u64, u64)]) -> Run {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format": "pushbench-run", "format_version": 1,
            "params": {"rate": rate, "link": link, "publisher_link": "none"}
        }))
        .unwrap();
        let techniques = techniques
            .iter()
            .map(|(t, p50_ms, requests, bytes)| {
                serde_json::json!({"technique": t, "clients": 200, "delivered": 1000,
                    "requests": requests, "bytes_up": 0, "bytes_down": bytes,
                    "latency_us": {"count": 1000, "p50": p50_ms * 1000}})
            })
            .collect::<Vec<_>>();
        Run {
            dir: "x".into(),
            label: "x".into(),
            manifest,
            techniques: serde_json::from_value(techniques.into()).unwrap(),
            skipped: Vec::new(),
            timeseries: Vec::new(),
            histograms: Default::default(),
            request_histograms: Default::default(),
        }
    }

    #[test]
    fn without_a_link_both_say_what_to_run() {
        let r = run("none", 10.0, &[("long-poll", 1, 1000, 300_000)]);
        for (v, figure) in check(&r) {
            assert_eq!(v, Verdict::NotMeasured);
            assert_eq!(figure, "needs a link: run with --link rtt=200ms to judge");
        }
    }

    #[test]
    fn long_poll_pays_the_re_arm_at_high_rates_only() {
        // 10 msg/s over 300 ms: three messages per round trip; long poll at RTT, SSE at RTT/2.
        let on_model = [("long-poll", 302, 330, 400_000), ("sse", 151, 1, 300_000)];
        let (v, figure) = &check(&run("rtt=300ms", 10.0, &on_model))[0];
        assert_eq!(*v, Verdict::Holds, "{figure}");
        assert_eq!(
            figure,
            "long poll p50 302 ms vs SSE 151 ms: +151 ms = 0.503 RTT, at rate × RTT = 3 \
             (messages every 100 ms, RTT 300 ms)"
        );
        // Long poll as fast as SSE at that rate: the claim does not hold.
        let fast = [("long-poll", 160, 330, 400_000), ("sse", 151, 1, 300_000)];
        assert_eq!(
            check(&run("rtt=300ms", 10.0, &fast))[0].0,
            Verdict::DoesNotHold
        );
        // 2 msg/s over 200 ms: messages further apart than a round trip decide nothing.
        let low = [
            ("long-poll", 101, 1000, 300_000),
            ("stream", 100, 1, 300_000),
        ];
        let (v, figure) = &check(&run("rtt=200ms", 2.0, &low))[0];
        assert_eq!(*v, Verdict::NotMeasured);
        assert!(figure.starts_with("not decidable at this rate"), "{figure}");
        assert!(figure.contains("--rate above 5 msg/s"), "{figure}");
        // A link with bandwidth alone has no round trip to pay.
        let narrow = check(&run("down=1mbit", 10.0, &on_model))[0].clone();
        assert_eq!(narrow.0, Verdict::NotMeasured);
        assert!(narrow.1.contains("no round-trip delay"), "{}", narrow.1);
        // No push technique to compare with.
        let alone = [("long-poll", 302, 330, 400_000)];
        let (v, figure) = &check(&run("rtt=300ms", 10.0, &alone))[0];
        assert_eq!(*v, Verdict::NotMeasured);
        assert!(figure.starts_with("not decidable"), "{figure}");
    }

    #[test]
    fn sse_beats_short_poll_on_latency_requests_and_bytes() {
        let r = run(
            "fast-3g",
            10.0,
            &[("poll", 575, 100, 310_000), ("sse", 76, 1, 272_000)],
        );
        let (v, figure) = &check(&r)[1];
        assert_eq!(*v, Verdict::Holds, "{figure}");
        assert_eq!(
            figure,
            "p50 SSE 76.0 ms vs short poll 575 ms; requests per message 0.00100 vs 0.100; \
             bytes per message 272 B vs 310 B"
        );
        // SSE heavier on the wire than a poll that batches ten messages: does not hold.
        let heavy = run(
            "rtt=200ms",
            10.0,
            &[("poll", 600, 100, 250_000), ("sse", 100, 1, 272_000)],
        );
        assert_eq!(check(&heavy)[1].0, Verdict::DoesNotHold);
        let no_poll = run("rtt=200ms", 10.0, &[("sse", 100, 1, 272_000)]);
        let (v, figure) = &check(&no_poll)[1];
        assert_eq!(
            (*v, figure.as_str()),
            (
                Verdict::NotMeasured,
                "not decidable: short poll did not run"
            )
        );
    }
}
