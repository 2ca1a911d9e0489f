//! The claims about recovering from faults, judged from the runs' `fault` figures
//! ([`crate::recovery`]): for each recovery behaviour measured and each technique, "SSE
//! recovers without loss after a drop"; and, when runs of both behaviours were given together,
//! "resuming loses less than classic for WebSocket". Each gets holds / does not hold / not
//! measured with the figure that decided it, like the usual claims, but over all the runs at
//! once (a comparison of behaviours needs two runs), so the page shows them in a table of
//! their own. With several runs of one behaviour, the comparison takes the first of each.

use super::Verdict;
use crate::colors::{self, display_name as name};
use crate::fmt;
use crate::model::Run;
use crate::recovery::{self, Row, Series};

/// The rule of "… recovers without loss after a drop".
pub const LOSSLESS_RULE: &str = "holds when the technique lost no message in the steady-state \
     window (lost = 0) while the faults cut at least one of its connections (cuts = drops + \
     idle cuts > 0); not measured when no connection was cut";

/// The rule of "resuming loses less than classic for …".
pub const LESS_RULE: &str = "decided when runs of both recovery behaviours are reported \
     together: holds when the resuming run's loss per 1,000 cuts is below the classic run's \
     (both need cuts > 0); equal losses, zero included, do not hold";

/// One claim about recovery, judged over the runs given.
#[derive(Debug, Clone)]
pub struct RecoveryClaim {
    pub claim: String,
    pub rule: &'static str,
    pub verdict: Verdict,
    /// The figure that decided it (or what was missing).
    pub figure: String,
}

/// A loss per 1,000 cuts as the page writes it, to one decimal as the run records it, without
/// a trailing `.0`: `3,000`, `2,333.3`, `37.5`, `0`.
pub fn per_1000(v: f64) -> String {
    let tenths = (v.max(0.0) * 10.0).round() as u64;
    match tenths % 10 {
        0 => fmt::count(tenths / 10),
        d => format!("{}.{d}", fmt::count(tenths / 10)),
    }
}

/// Lost, cuts and loss per 1,000 cuts of a row, or why it cannot be judged.
fn loss(row: &Row) -> Result<(u64, u64, f64), String> {
    let who = name(row.name());
    let Some(cuts) = row.cuts() else {
        return Err(format!("no cut count for {who}"));
    };
    if cuts == 0 {
        return Err(format!("no connection of {who} was cut (0 cuts)"));
    }
    let Some(lost) = row.technique.lost else {
        return Err(format!("no loss count for {who}"));
    };
    let per = row
        .lost_per_1000_cuts()
        .unwrap_or(lost as f64 * 1000.0 / cuts as f64);
    Ok((lost, cuts, per))
}

fn lossless(row: &Row) -> (Verdict, String) {
    match loss(row) {
        Err(why) => (Verdict::NotMeasured, why),
        Ok((0, cuts, _)) => (
            Verdict::Holds,
            format!("0 lost over {}", fmt::plural(cuts, "cut")),
        ),
        Ok((lost, cuts, per)) => (
            Verdict::DoesNotHold,
            format!(
                "{} lost per 1,000 cuts ({} lost over {})",
                per_1000(per),
                fmt::count(lost),
                fmt::plural(cuts, "cut")
            ),
        ),
    }
}

/// How a series is named in a claim: its behaviour, with the run when the behaviour repeats.
fn series_name(s: &Series) -> String {
    if s.label == s.behaviour {
        s.behaviour.clone()
    } else {
        format!("{}, {}", s.behaviour, s.run.label)
    }
}

fn row_of<'a>(rows: &[Row<'a>], s: &Series, technique: &str) -> Option<Row<'a>> {
    rows.iter()
        .find(|r| std::ptr::eq(r.run, s.run) && r.name() == technique)
        .copied()
}

fn less(rows: &[Row], (res, cla): (&Series, &Series), technique: &str) -> (Verdict, String) {
    let side = |s: &Series| match row_of(rows, s, technique) {
        None => Err(format!(
            "{} has no fault figures in the {} run",
            name(technique),
            s.behaviour
        )),
        Some(r) => loss(&r).map_err(|why| format!("{why} in the {} run", s.behaviour)),
    };
    match (side(res), side(cla)) {
        (Ok((rl, rc, rp)), Ok((cl, cc, cp))) => (
            Verdict::from(rp < cp),
            format!(
                "resuming {} vs classic {} lost per 1,000 cuts ({} over {} vs {} over {})",
                per_1000(rp),
                per_1000(cp),
                fmt::count(rl),
                fmt::plural(rc, "cut"),
                fmt::count(cl),
                fmt::plural(cc, "cut")
            ),
        ),
        (Err(why), _) | (_, Err(why)) => (Verdict::NotMeasured, why),
    }
}

/// Every recovery claim over `runs`, in the table's order: each behaviour's techniques, then
/// the comparisons. Empty when no run had faults.
pub fn check(runs: &[Run]) -> Vec<RecoveryClaim> {
    let rows = recovery::rows(runs);
    let series = recovery::series(runs);
    let mut out = Vec::new();
    for s in &series {
        for row in rows.iter().filter(|r| std::ptr::eq(r.run, s.run)) {
            let (verdict, figure) = lossless(row);
            out.push(RecoveryClaim {
                claim: format!(
                    "{} recovers without loss after a drop ({})",
                    name(row.name()),
                    series_name(s)
                ),
                rule: LOSSLESS_RULE,
                verdict,
                figure,
            });
        }
    }
    let first = |b: &str| series.iter().find(|s| s.behaviour == b);
    if let (Some(res), Some(cla)) = (first("resuming"), first("classic")) {
        let mut names: Vec<&str> = rows.iter().map(|r| r.name()).collect();
        names.sort_by_key(|n| colors::order_key(n));
        names.dedup();
        for t in names {
            let (verdict, figure) = less(&rows, (res, cla), t);
            out.push(RecoveryClaim {
                claim: format!("Resuming loses less than classic for {}", name(t)),
                rule: LESS_RULE,
                verdict,
                figure,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::tests::{entry, run};

    fn verdict<'a>(claims: &'a [RecoveryClaim], claim: &str) -> &'a RecoveryClaim {
        claims
            .iter()
            .find(|c| c.claim == claim)
            .unwrap_or_else(|| panic!("no claim {claim}"))
    }

    #[test]
    fn each_behaviour_then_the_comparison() {
        let runs = [
            run(
                "c",
                "classic",
                serde_json::json!([entry("sse", 0, Some(40)), entry("ws", 37, Some(1000))]),
            ),
            run(
                "r",
                "resuming",
                serde_json::json!([entry("sse", 0, Some(40)), entry("ws", 0, Some(0))]),
            ),
        ];
        let c = check(&runs);
        let names: Vec<&str> = c.iter().map(|c| c.claim.as_str()).collect();
        assert_eq!(
            names,
            [
                "SSE recovers without loss after a drop (resuming)",
                "WebSocket recovers without loss after a drop (resuming)",
                "SSE recovers without loss after a drop (classic)",
                "WebSocket recovers without loss after a drop (classic)",
                "Resuming loses less than classic for SSE",
                "Resuming loses less than classic for WebSocket",
            ]
        );
        let sse = verdict(&c, "SSE recovers without loss after a drop (resuming)");
        assert_eq!(
            (sse.verdict, sse.figure.as_str()),
            (Verdict::Holds, "0 lost over 40 cuts")
        );
        let ws = verdict(&c, "WebSocket recovers without loss after a drop (classic)");
        assert_eq!(ws.verdict, Verdict::DoesNotHold);
        assert_eq!(
            ws.figure,
            "37 lost per 1,000 cuts (37 lost over 1,000 cuts)"
        );
        // No connection cut: nothing to judge.
        let idle = verdict(
            &c,
            "WebSocket recovers without loss after a drop (resuming)",
        );
        assert_eq!(idle.verdict, Verdict::NotMeasured);
        let both = verdict(&c, "Resuming loses less than classic for WebSocket");
        assert_eq!(both.verdict, Verdict::NotMeasured, "{}", both.figure);
        assert!(both.figure.contains("resuming run"), "{}", both.figure);
        // Both lossless: resuming does not lose less.
        let tie = verdict(&c, "Resuming loses less than classic for SSE");
        assert_eq!(tie.verdict, Verdict::DoesNotHold);
        assert_eq!(
            tie.figure,
            "resuming 0 vs classic 0 lost per 1,000 cuts (0 over 40 cuts vs 0 over 40 cuts)"
        );
    }

    #[test]
    fn losses_per_1000_cuts_read_as_recorded() {
        let shown: Vec<String> = [3000.0, 2333.3, 37.5, 37.0, 0.0, 0.04]
            .into_iter()
            .map(per_1000)
            .collect();
        assert_eq!(shown, ["3,000", "2,333.3", "37.5", "37", "0", "0"]);
    }

    #[test]
    fn one_behaviour_makes_no_comparison_and_no_faults_no_claims() {
        let runs = [run(
            "r",
            "resuming",
            serde_json::json!([entry("ws", 3, Some(2))]),
        )];
        let c = check(&runs);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].figure,
            "1,500 lost per 1,000 cuts (3 lost over 2 cuts)"
        );
        let plain = [run(
            "p",
            "resuming",
            serde_json::json!([entry("ws", 3, None)]),
        )];
        assert!(check(&plain).is_empty());
    }
}
