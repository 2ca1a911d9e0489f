//! Whether a technique that ran to its end failed outright: no client connected, no message
//! delivered though some were expected, or no publish accepted. Such a technique's `failure`
//! says why, and the run exits [`crate::exit::Status::TechniqueFailed`]. A technique that
//! delivered something is a measurement, however poor: judging it is the objective's job
//! (`pushbench sweep`), not this.

use std::collections::BTreeMap;

use crate::measure::TechniqueResult;
use crate::publisher::Publishing;

/// Why the technique of `r` failed outright (every reason, `; `-separated), or None.
pub fn judge(r: &TechniqueResult, publishing: Option<&Publishing>) -> Option<String> {
    let mut why = Vec::new();
    if let Some(p) = publishing.filter(|p| p.accepted == 0 && p.failed > 0) {
        why.push(format!(
            "publishing failed: the server accepted none of {} publishes{}",
            p.failed,
            p.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ));
    }
    let errors = errors_text(&r.raw.phase.error_map());
    if r.expected > 0 && r.raw.phase.delivered == 0 {
        why.push(format!(
            "no client delivered a message ({} expected): {errors}",
            r.expected
        ));
    } else if r.raw.clients > 0 && r.raw.connect.is_empty() {
        // Nothing was expected (an empty window): still, no connection was ever answered.
        why.push(format!(
            "no client connected ({} clients): {errors}",
            r.raw.clients
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// With the `restart-server` fault: the losses and failed publishes while the server was
/// down are the fault's doing, not a failure; but a technique that delivered nothing once
/// the server was back (`delivered_after`: messages delivered after the restart, None when
/// there was none) failed to recover.
pub fn after_restart(delivered_after: Option<u64>) -> Option<String> {
    (delivered_after == Some(0))
        .then(|| "no message delivered after the server was restarted".to_string())
}

/// `15 errors (http_status 15)`, or `no client error`.
fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    let total: u64 = errors.values().sum();
    if total == 0 {
        return "no client error".into();
    }
    let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "{total} error{} ({})",
        if total == 1 { "" } else { "s" },
        kinds.join(", ")
    )
}

/// `a` and `b` joined with `; ` when both are there.
pub fn join(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::technique::Technique;

    /// `clients` clients of which `answered` got an answer, `delivered` of `expected`.
    fn result(clients: u64, answered: u64, expected: u64, delivered: u64) -> TechniqueResult {
        let mut r = TechniqueResult::empty(Technique::Sse, 1, 256);
        r.raw.clients = clients;
        for _ in 0..answered {
            r.raw.connect.record(1_000).unwrap();
        }
        r.expected = expected;
        r.raw.phase.delivered = delivered;
        r
    }

    #[test]
    fn nothing_delivered_fails_with_the_errors() {
        let mut r = result(5, 5, 50, 0);
        r.raw.phase.errors[2] = 15; // http_status
        assert_eq!(
            judge(&r, None).as_deref(),
            Some("no client delivered a message (50 expected): 15 errors (http_status 15)")
        );
    }

    #[test]
    fn no_answer_fails_even_with_nothing_expected() {
        let mut r = result(2, 0, 0, 0);
        r.raw.phase.errors[0] = 1; // connect
        r.raw.phase.errors[1] = 1; // timeout
        assert_eq!(
            judge(&r, None).as_deref(),
            Some("no client connected (2 clients): 2 errors (connect 1, timeout 1)")
        );
    }

    #[test]
    fn publishing_that_never_succeeded_is_named_first() {
        let r = result(1, 1, 10, 0);
        let p = Publishing {
            accepted: 0,
            failed: 10,
            first_error: Some("HTTP 404 Not Found".into()),
        };
        assert_eq!(
            judge(&r, Some(&p)).as_deref(),
            Some(
                "publishing failed: the server accepted none of 10 publishes (first: HTTP 404 \
                 Not Found); no client delivered a message (10 expected): no client error"
            )
        );
    }

    #[test]
    fn anything_delivered_is_a_measurement() {
        let mut r = result(5, 5, 50, 1);
        r.raw.phase.errors[2] = 40;
        let p = Publishing {
            accepted: 1,
            failed: 9,
            first_error: None,
        };
        assert_eq!(judge(&r, Some(&p)), None);
        assert_eq!(judge(&result(3, 3, 0, 0), None), None, "an empty window");
        assert_eq!(
            join(Some("a".into()), Some("b".into())).as_deref(),
            Some("a; b")
        );
        assert_eq!(join(None, Some("b".into())).as_deref(), Some("b"));
    }

    #[test]
    fn a_restart_fails_only_when_nothing_came_after_it() {
        assert_eq!(after_restart(None), None, "no restart");
        assert_eq!(after_restart(Some(3)), None);
        assert_eq!(
            after_restart(Some(0)).as_deref(),
            Some("no message delivered after the server was restarted")
        );
    }
}
