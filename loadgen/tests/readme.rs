//! The README's claims about the command line hold: every option it names exists (on the
//! command it names it with), and the defaults it states are the defaults `--help` shows.

mod run_common;

use std::collections::BTreeSet;
use std::time::Duration;

use run_common::run;

fn readme() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(path).unwrap()
}

/// `pushbench COMMAND --help`, each option's entry on one line (wrapped text joined).
fn help(command: &str) -> Vec<String> {
    let o = run(&[command, "--help"], Duration::from_secs(30));
    assert!(o.status.success(), "pushbench {command} --help failed");
    let mut entries: Vec<String> = Vec::new();
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let t = line.trim();
        if t.starts_with('-') {
            entries.push(t.to_string());
        } else if let Some(last) = entries.last_mut().filter(|_| !t.is_empty()) {
            last.push(' ');
            last.push_str(t);
        }
    }
    entries
}

/// The `--long` options named in `text`.
fn options(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let name: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.len() > 1 && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert(format!("--{name}"));
        }
        rest = &rest[i + 2 + name.len()..];
    }
    out
}

/// `line` without cargo's own options: of a `cargo run ... -- ARGS` only ARGS is kept, other
/// cargo commands (`cargo test --workspace`, `cargo fmt --all`) go.
fn without_cargo(line: &str) -> String {
    line.split('`')
        .map(|piece| match piece.trim_start().strip_prefix("cargo ") {
            Some(rest) if rest.starts_with("run ") => {
                rest.split_once(" -- ").map_or("", |(_, args)| args)
            }
            Some(_) => "",
            None => piece,
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// Whether `help` has an entry for option `opt` (`--opt <VALUE>` or `--opt` alone).
fn has(help: &[String], opt: &str) -> bool {
    help.iter().any(|e| {
        e.split([' ', ','])
            .any(|w| w == opt || w.starts_with(&format!("{opt}=")))
    })
}

const COMMANDS: [&str; 8] = [
    "run", "serve", "report", "sweep", "plan", "merge", "worker", "compare",
];

#[test]
fn every_option_the_readme_names_exists() {
    let text = readme();
    let helps: Vec<(&str, Vec<String>)> = COMMANDS.iter().map(|c| (*c, help(c))).collect();
    // Named on a line with its command (`pushbench sweep ...`, `cargo run -- serve ...`):
    // that command has it.
    let lines: Vec<String> = text.lines().map(without_cargo).collect();
    for line in &lines {
        let command = helps.iter().find(|(c, _)| {
            line.contains(&format!("pushbench {c}"))
                || line.trim_start().starts_with(&format!("{c} "))
        });
        if let Some((c, h)) = command {
            for opt in options(line) {
                assert!(has(h, &opt), "README: `pushbench {c}` has no {opt}: {line}");
            }
        }
    }
    // Anywhere else: some command has it.
    for opt in options(&lines.join("\n")) {
        let found = helps.iter().any(|(_, h)| has(h, &opt));
        assert!(found, "README names {opt}, which no command has");
    }
}

#[test]
fn the_defaults_the_readme_states_are_the_defaults() {
    // The README's words, however its lines are wrapped.
    let text = readme().split_whitespace().collect::<Vec<_>>().join(" ");
    let run_help = help("run");
    // (what the README says, the option, its default as --help prints it)
    for (claim, opt, default) in [
        ("200 clients per technique", "--clients", "200"),
        ("10 messages/s", "--rate", "10"),
        ("256-byte payloads", "--payload-bytes", "256"),
        ("short poll every second", "--poll-interval", "1s"),
        ("an 8 s steady state", "--duration", "8s"),
        (
            "runs `poll`, `long-poll`, `stream`, `sse` and `ws`",
            "--techniques",
            "poll,long-poll,stream,sse,ws",
        ),
    ] {
        assert!(text.contains(claim), "README no longer says `{claim}`");
        let entry = run_help
            .iter()
            .find(|e| e.starts_with(&format!("{opt} ")))
            .unwrap_or_else(|| panic!("run has no {opt}"));
        assert!(
            entry.contains(&format!("[default: {default}]")),
            "README says `{claim}`, but {entry}"
        );
    }
}
