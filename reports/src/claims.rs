//! The "usual claims" table: what people say about these techniques, checked against one run.
//! Each claim has a precise rule (shown on the page as written here) and gets "holds", "does
//! not hold" or "not measured" (a technique or figure missing), with the figure that decided it.
//! The last claims are those only a run over an emulated link can decide ([`link`]); the
//! claims about recovering from faults, judged over all the runs at once, are in [`recovery`];
//! those about streaming a response token by token, of a request run, in [`request`].

mod link;
pub mod recovery;
pub mod request;

use crate::colors::display_name as name;
use crate::fmt;
use crate::model::{Figures, Run, TechniqueSummary};

/// The outcome of one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    DoesNotHold,
    NotMeasured,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::NotMeasured => "not measured",
        }
    }
    fn from(holds: bool) -> Self {
        if holds {
            Verdict::Holds
        } else {
            Verdict::DoesNotHold
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Claim {
    pub claim: &'static str,
    /// The rule that decides it, in words.
    pub rule: &'static str,
    pub verdict: Verdict,
    /// The figure that decided it (or what was missing).
    pub figure: String,
}

/// The claims, in order, with their rules.
pub const CLAIMS: [(&str, &str); 7] = [
    (
        "Short poll wastes requests",
        "holds when at least half of short poll's requests in the steady-state window were \
         answered with nothing new (empty_responses / requests ≥ 50%)",
    ),
    (
        "Long poll cuts requests",
        "holds when long poll sent fewer requests per delivered message than short poll",
    ),
    (
        "SSE is lighter than WebSocket on the wire",
        "holds when SSE moved fewer bytes per delivered message than WebSocket (both \
         directions, counted at the client sockets)",
    ),
    (
        "SSE is lighter than WebSocket in server memory",
        "holds when SSE's server RSS per connection ((peak − idle) / clients) is below \
         WebSocket's; not measured when the server's idle RSS grew by 20% or more between \
         techniques (memory kept from an earlier technique makes later figures read low)",
    ),
    (
        "SSE is lighter than WebSocket in server CPU",
        "holds when SSE's server CPU per 1,000 delivered messages is below WebSocket's",
    ),
    (
        "HTTP streaming needs one request per connection",
        "holds when the stream clients sent no more requests in the steady-state window than \
         they had connections to open (requests ≤ clients + reconnects) while receiving more \
         messages than that: no request per message",
    ),
    (
        "SSE needs one request per connection",
        "holds when the SSE clients sent no more requests in the steady-state window than they \
         had connections to open (requests ≤ clients + reconnects) while receiving more \
         messages than that: no request per message",
    ),
];

/// Every claim with its rule, in the table's order: the usual ones, then the link's.
pub fn rules() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    CLAIMS.iter().chain(link::CLAIMS.iter())
}

fn not_measured(what: String) -> (Verdict, String) {
    (Verdict::NotMeasured, what)
}

fn missing(technique: &str, figure: &str) -> String {
    format!("no {figure} for {}", name(technique))
}

/// Compares a figure of SSE against WebSocket: lower is lighter. `range` names the figure in
/// a repeated run's ranges ([`crate::repeat`]).
fn lighter(
    run: &Run,
    (figure, range): (&str, &str),
    value: impl Fn(&TechniqueSummary) -> Option<f64>,
    (num, unit): (fn(f64) -> String, &str),
) -> (Verdict, String) {
    let show = |v: f64| format!("{}{unit}", num(v));
    let get = |t: &str| run.technique(t).and_then(&value);
    match (get("sse"), get("ws")) {
        (Some(s), Some(w)) => spread(
            run,
            ("sse", "ws", range),
            (
                Verdict::from(s < w),
                format!("SSE {} vs WebSocket {}", show(s), show(w)),
            ),
            num,
        ),
        (None, _) => not_measured(missing("sse", figure)),
        (_, None) => not_measured(missing("ws", figure)),
    }
}

/// In a repeated run, a comparison of techniques `a` and `b` on figure `range` calls no
/// difference when their min–max over the repetitions overlap: the outcome becomes "not
/// measured", with both ranges. Otherwise `outcome` stands.
fn spread(
    run: &Run,
    (a, b, range): (&str, &str, &str),
    outcome: (Verdict, String),
    show: impl Fn(f64) -> String,
) -> (Verdict, String) {
    let (Some(ta), Some(tb)) = (run.technique(a), run.technique(b)) else {
        return outcome;
    };
    if !crate::repeat::overlap(ta, tb, range) {
        return outcome;
    }
    let span = |t: &TechniqueSummary| {
        crate::repeat::range(t, range)
            .map(|(lo, hi)| format!("{}–{}", show(lo), show(hi)))
            .unwrap_or_default()
    };
    (
        Verdict::NotMeasured,
        format!(
            "{} (medians), but over the repetitions {} ranged {} and {} {}: the ranges \
             overlap, so no difference is called",
            outcome.1,
            name(a),
            span(ta),
            name(b),
            span(tb)
        ),
    )
}

fn one_request(run: &Run, technique: &str) -> (Verdict, String) {
    let Some(t) = run.technique(technique) else {
        return not_measured(format!("{} did not run", name(technique)));
    };
    if t.request.is_some() {
        // Each stream is a request of its own there: the claim is about a broadcast.
        return not_measured(
            "a request run: one request per stream by design (see Request-scoped streams)".into(),
        );
    }
    match (t.requests, t.clients, t.delivered) {
        (Some(req), Some(clients), Some(delivered)) => {
            let opened = clients + t.reconnects.unwrap_or(0);
            if delivered <= opened {
                return not_measured(format!(
                    "only {} messages delivered to {} connections: too few to tell",
                    fmt::count(delivered),
                    fmt::count(opened)
                ));
            }
            (
                Verdict::from(req <= opened),
                format!(
                    "{} for {} and {}, {} delivered ({} requests per message)",
                    fmt::plural(req, "request"),
                    fmt::plural(clients, "client"),
                    fmt::plural(t.reconnects.unwrap_or(0), "reconnect"),
                    fmt::plural(delivered, "message"),
                    fmt::sig(req as f64 / delivered as f64)
                ),
            )
        }
        _ => not_measured(missing(technique, "request, client or delivery count")),
    }
}

/// Checks every claim against `run`.
pub fn check(run: &Run) -> Vec<Claim> {
    let rpm = |t: &str| {
        run.technique(t)
            .and_then(TechniqueSummary::requests_per_msg)
    };
    let outcomes: [(Verdict, String); 7] = [
        match run.technique("poll") {
            Some(t) => match (t.empty_responses, t.requests) {
                (Some(e), Some(r)) if r > 0 => (
                    Verdict::from(e as f64 / r as f64 >= 0.5),
                    format!(
                        "{} of {} short-poll requests empty ({})",
                        fmt::count(e),
                        fmt::count(r),
                        fmt::percent(e as f64 / r as f64)
                    ),
                ),
                _ => not_measured(missing("poll", "request counts")),
            },
            None => not_measured(format!("{} did not run", name("poll"))),
        },
        match (rpm("long-poll"), rpm("poll")) {
            (Some(l), Some(p)) => spread(
                run,
                ("long-poll", "poll", crate::repeat::REQUESTS_PER_MSG),
                (
                    Verdict::from(l < p),
                    format!(
                        "long poll {} vs short poll {} requests per message",
                        fmt::sig(l),
                        fmt::sig(p)
                    ),
                ),
                fmt::sig,
            ),
            (None, _) => not_measured(missing("long-poll", "requests per message")),
            (_, None) => not_measured(missing("poll", "requests per message")),
        },
        lighter(
            run,
            ("bytes per message", crate::repeat::BYTES_PER_MSG),
            TechniqueSummary::bytes_per_msg,
            (fmt::bytes, " per message"),
        ),
        {
            let (v, figure) = lighter(
                run,
                ("memory per connection", crate::repeat::RSS_PER_CLIENT),
                TechniqueSummary::rss_per_conn,
                (fmt::bytes, " per connection"),
            );
            if v != Verdict::NotMeasured
                && crate::findings::memory_caveat(&run.techniques).is_some()
            {
                // Per-connection memory read after an earlier technique grew the heap is not
                // comparable: saying "holds" on it would claim more than was measured.
                (
                    Verdict::NotMeasured,
                    format!(
                        "{figure}, but the server's idle RSS grew between techniques, so \
                         these are not comparable (see the caution in the findings)"
                    ),
                )
            } else {
                (v, figure)
            }
        },
        lighter(
            run,
            ("CPU per message", crate::repeat::CPU_PER_1M),
            TechniqueSummary::cpu_ms_per_1k_msgs,
            (fmt::sig, " ms per 1,000 messages"),
        ),
        one_request(run, "stream"),
        one_request(run, "sse"),
    ];
    rules()
        .zip(outcomes.into_iter().chain(link::check(run)))
        .map(|((claim, rule), (verdict, figure))| Claim {
            claim,
            rule,
            verdict,
            figure,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(techniques: serde_json::Value) -> Run {
        Run::for_test(techniques)
    }

    fn verdicts(r: &Run) -> Vec<Verdict> {
        check(r).iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn nothing_ran_means_nothing_measured() {
        let r = run(serde_json::json!([]));
        assert!(verdicts(&r).iter().all(|v| *v == Verdict::NotMeasured));
    }

    #[test]
    fn a_closed_loop_poll_wastes_requests_and_long_poll_cuts_them() {
        let r = run(serde_json::json!([
            {"technique": "poll", "clients": 10, "delivered": 100, "requests": 5000,
             "empty_responses": 4900},
            {"technique": "long-poll", "clients": 10, "delivered": 100, "requests": 101},
            {"technique": "stream", "clients": 10, "delivered": 100, "requests": 100,
             "reconnects": 0},
            {"technique": "sse", "clients": 10, "delivered": 100, "requests": 3,
             "reconnects": 3, "bytes_up": 0, "bytes_down": 30000},
            {"technique": "ws", "clients": 10, "delivered": 100, "bytes_up": 0,
             "bytes_down": 27000},
        ]));
        let c = check(&r);
        assert_eq!(c[0].verdict, Verdict::Holds, "{}", c[0].figure);
        assert_eq!(
            c[0].figure,
            "4,900 of 5,000 short-poll requests empty (98.0%)"
        );
        assert_eq!(c[1].verdict, Verdict::Holds);
        // SSE moved 300 B per message, WebSocket 270 B: not lighter on the wire.
        assert_eq!(c[2].verdict, Verdict::DoesNotHold);
        assert_eq!(c[3].verdict, Verdict::NotMeasured);
        // A stream that sent a request per message.
        assert_eq!(c[5].verdict, Verdict::DoesNotHold, "{}", c[5].figure);
        assert_eq!(c[6].verdict, Verdict::Holds, "{}", c[6].figure);
    }

    #[test]
    fn memory_read_after_the_heap_grew_is_not_compared() {
        let mut techniques = serde_json::json!([
            {"technique": "sse", "clients": 100, "server_rss_bytes": 12_000_000u64,
             "server_rss_idle_bytes": 11_000_000u64},
            {"technique": "ws", "clients": 100, "server_rss_bytes": 13_500_000u64,
             "server_rss_idle_bytes": 12_000_000u64},
        ]);
        let c = check(&run(techniques.clone()));
        assert_eq!(c[3].verdict, Verdict::Holds, "{}", c[3].figure);
        // The same figures, but SSE ran after something that left the heap 2x larger.
        techniques[0]["server_rss_idle_bytes"] = 6_000_000u64.into();
        techniques[0]["server_rss_bytes"] = 7_000_000u64.into();
        let c = check(&run(techniques));
        assert_eq!(c[3].verdict, Verdict::NotMeasured, "{}", c[3].figure);
        assert!(c[3].figure.contains("not comparable"), "{}", c[3].figure);
    }

    #[test]
    fn overlapping_repetitions_call_no_difference() {
        let rep = |lo: f64, hi: f64| {
            serde_json::json!({"count": 3, "figures": {
                "bytes_per_message": {"min": lo, "median": lo, "max": hi}}})
        };
        let mut techniques = serde_json::json!([
            {"technique": "sse", "delivered": 100, "bytes_up": 0, "bytes_down": 27000,
             "repetitions": rep(260.0, 290.0)},
            {"technique": "ws", "delivered": 100, "bytes_up": 0, "bytes_down": 30000,
             "repetitions": rep(280.0, 310.0)},
        ]);
        let c = check(&run(techniques.clone()));
        assert_eq!(c[2].verdict, Verdict::NotMeasured, "{}", c[2].figure);
        assert!(
            c[2].figure.contains("SSE ranged 260 B–290 B"),
            "{}",
            c[2].figure
        );
        techniques[1]["repetitions"] = rep(295.0, 310.0);
        let c = check(&run(techniques));
        assert_eq!(c[2].verdict, Verdict::Holds, "{}", c[2].figure);
    }

    #[test]
    fn too_few_messages_cannot_decide_one_request() {
        let r = run(serde_json::json!([
            {"technique": "sse", "clients": 10, "delivered": 5, "requests": 0, "reconnects": 0},
        ]));
        assert_eq!(check(&r)[6].verdict, Verdict::NotMeasured);
    }
}
