//! The report reads back every link label the load generator writes with the numbers the
//! load generator used: `reports::link` keeps its own copy of the presets (reports cannot
//! depend on loadgen), and this test keeps the two in step.

use loadgen::link::presets::PRESETS;
use loadgen::link::{LinkSpec, parse_link_list};

fn check(spec: &LinkSpec) {
    let label = spec.label();
    let read = reports::link::parse_label(&label);
    if spec.is_none() {
        assert_eq!(read, None, "{label}");
        return;
    }
    let read = read.unwrap_or_else(|| panic!("the report cannot read {label:?}"));
    assert_eq!(read.rtt_ms, spec.rtt.as_secs_f64() * 1000.0, "{label}");
    assert_eq!(
        read.jitter_ms,
        spec.jitter.as_secs_f64() * 1000.0,
        "{label}"
    );
    assert_eq!(
        read.down_bps,
        spec.down.map(|r| r.bits_per_s() as f64),
        "{label}"
    );
}

#[test]
fn every_preset_reads_back_with_its_numbers() {
    assert_eq!(PRESETS.len(), reports::link::PRESETS.len());
    for p in PRESETS {
        let spec: LinkSpec = p.name.parse().unwrap();
        assert_eq!(spec.label(), p.name);
        check(&spec);
        let mine = reports::link::PRESETS
            .iter()
            .find(|r| r.0 == p.name)
            .unwrap();
        assert_eq!(mine.3 * 1000.0, p.up.bits_per_s() as f64, "{}", p.name);
    }
}

#[test]
fn canonical_labels_read_back_with_their_numbers() {
    for text in [
        "rtt=100ms,jitter=10ms,down=1.6mbit,up=750kbit",
        "1.5s",
        "rtt=250us",
        "fast-3g,jitter=20ms",
        "satellite,down=10mbit",
        "rtt=40ms,down=64kbyte",
        "none",
    ] {
        check(&text.parse().unwrap());
    }
    for spec in parse_link_list("0,20ms,100ms,300ms,1s").unwrap() {
        check(&spec);
    }
}
