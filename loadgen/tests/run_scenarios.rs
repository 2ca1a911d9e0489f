//! Every shipped scenario under scenarios/ parses and validates (so the suite never rots).

use loadgen::config::RunArgs;

#[test]
fn shipped_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let args = RunArgs {
                scenario: Some(p.clone()),
                ..RunArgs::default()
            };
            let cfg = args
                .resolve()
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(cfg.scenario_description.is_some(), "{}", p.display());
            names.push(p.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    assert_eq!(names, ["chat", "large-payloads", "ticker"]);
}
