//! The page's "Checks" section: each `--check` verdict of a run, read from its checks.json
//! (docs/RUN_FORMAT.md) leniently: a run without the file has no section, an entry that does
//! not read is left out, and an unreadable file is said to be so.

use std::fmt::Write as _;
use std::path::Path;

use contract::run_dir::CheckVerdict;
use contract::run_dir::checks::CHECKS_JSON;

use super::esc;
use crate::model::Run;

/// A run's checks: None without checks.json; Err: the file is there but does not read.
pub fn load(dir: &Path) -> Option<Result<Vec<CheckVerdict>, String>> {
    let path = dir.join(CHECKS_JSON);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    let entries: Vec<serde_json::Value> = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(Ok(entries
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()))
}

/// Whether any of `runs` has checks.json.
pub fn any(runs: &[Run]) -> bool {
    runs.iter().any(|r| r.dir.join(CHECKS_JSON).is_file())
}

/// Writes the section (heading included) when any run has checks.
pub fn section(h: &mut String, runs: &[Run]) {
    if !any(runs) {
        return;
    }
    h.push_str("<h2 id=\"checks\">Checks</h2>\n");
    let compare = runs.len() > 1;
    for run in runs {
        let Some(loaded) = load(&run.dir) else {
            continue;
        };
        if compare {
            let _ = writeln!(h, "<h3>{}</h3>", esc(&run.label));
        }
        match loaded {
            Ok(v) => table(h, &v),
            Err(e) => {
                let _ = writeln!(h, "<p>{CHECKS_JSON} could not be read: {}</p>", esc(&e));
            }
        }
    }
}

fn table(h: &mut String, verdicts: &[CheckVerdict]) {
    let failed = verdicts.iter().filter(|v| !v.passed()).count();
    let _ = writeln!(
        h,
        "<p class=\"sub\">{} checks: {} passed, {failed} failed. A figure that was not measured \
         fails its check.</p>",
        verdicts.len(),
        verdicts.len() - failed
    );
    h.push_str(
        "<table><tr><th class=\"l\">check</th><th class=\"l\">technique</th>\
         <th class=\"l\">figure</th><th class=\"l\">verdict</th></tr>\n",
    );
    for v in verdicts {
        let class = if v.passed() { "holds" } else { "does-not-hold" };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td>\
             <td class=\"l\">{}</td><td class=\"l {class}\">{}</td></tr>",
            esc(&v.expr),
            esc(&v.technique),
            esc(v.detail.as_deref().unwrap_or(&v.figure)),
            esc(&v.verdict)
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_leniently_and_renders_each_verdict() {
        let dir = std::env::temp_dir().join(format!("pb-checks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load(&dir).is_none());
        std::fs::write(
            dir.join(CHECKS_JSON),
            r#"[{"expr": "sse.p99 < 50ms", "technique": "sse", "figure": "p99",
                 "value": 3200, "unit": "us", "verdict": "pass", "detail": "p99 3.2 ms"},
                {"expr": "*.lost == 0", "technique": "ws", "figure": "lost", "verdict": "fail",
                 "extra": 1},
                {"nonsense": true}]"#,
        )
        .unwrap();
        let v = load(&dir).unwrap().unwrap();
        assert_eq!(v.len(), 2);
        let mut h = String::new();
        table(&mut h, &v);
        assert!(h.contains("2 checks: 1 passed, 1 failed"), "{h}");
        assert!(h.contains("<code>sse.p99 &lt; 50ms</code>"), "{h}");
        assert!(
            h.contains("p99 3.2 ms") && h.contains("does-not-hold"),
            "{h}"
        );
        std::fs::write(dir.join(CHECKS_JSON), "{").unwrap();
        assert!(load(&dir).unwrap().is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
