//! `--link` values: every key and unit, the presets, lists, and every malformed form's
//! one-line error.

use std::time::Duration;

use clap::Parser;
use loadgen::link::presets::PRESETS;
use loadgen::link::spec::{HELP, preset_names};
use loadgen::link::{LinkSpec, LinkSpecError, Rate, parse_link_list, queue_bound};

fn spec(s: &str) -> LinkSpec {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> LinkSpecError {
    match s.parse::<LinkSpec>() {
        Ok(l) => panic!("{s} parsed as {l}"),
        Err(e) => e,
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn bits(v: u64) -> Option<Rate> {
    Some(Rate::from_bits_per_s(v))
}

#[test]
fn every_key() {
    let l = spec("rtt=100ms,jitter=10ms,down=1.6mbit,up=750kbit");
    assert_eq!(l.rtt, ms(100));
    assert_eq!(l.one_way(), ms(50));
    assert_eq!(l.jitter, ms(10));
    assert_eq!(l.down, bits(1_600_000));
    assert_eq!(l.up, bits(750_000));
    assert!(!l.is_none());
    // Keys in any order, spaces around items, any case.
    let l = spec(" UP=1Mbit , RTT=1.5S ");
    assert_eq!((l.rtt, l.up, l.down), (ms(1500), bits(1_000_000), None));
}

#[test]
fn delay_units() {
    assert_eq!(spec("rtt=250us").rtt, Duration::from_micros(250));
    assert_eq!(spec("rtt=250µs").rtt, Duration::from_micros(250));
    assert_eq!(spec("rtt=20ms").rtt, ms(20));
    assert_eq!(spec("rtt=0.5ms").rtt, Duration::from_micros(500));
    assert_eq!(spec("rtt=2s").rtt, ms(2000));
    assert_eq!(spec("rtt=600s").rtt, Duration::from_secs(600));
    assert_eq!(spec("jitter=0").jitter, Duration::ZERO);
}

#[test]
fn rate_units() {
    assert_eq!(spec("down=512bit").down, bits(512));
    assert_eq!(spec("down=750kbit").down, bits(750_000));
    assert_eq!(spec("down=1.6mbit").down, bits(1_600_000));
    assert_eq!(spec("down=1gbit").down, bits(1_000_000_000));
    assert_eq!(spec("down=100byte").down, bits(800));
    assert_eq!(spec("down=100kbyte").down, bits(800_000));
    assert_eq!(spec("down=2mbyte").down, bits(16_000_000));
    assert_eq!(spec("down=1gbyte").down, bits(8_000_000_000));
    let r = Rate::from_bits_per_s(1_000_000);
    assert_eq!(r.time_for(65536), Duration::from_nanos(524_288_000));
}

#[test]
fn bare_delay_means_rtt_and_zero_means_none() {
    assert_eq!(spec("100ms"), spec("rtt=100ms"));
    assert_eq!(spec("100ms,down=1mbit"), spec("rtt=100ms,down=1mbit"));
    for none in ["0", "none", "NONE", "off", "rtt=0", "rtt=0ms,jitter=0"] {
        assert!(spec(none).is_none(), "{none}");
        assert_eq!(spec(none).to_string(), "none");
    }
}

#[test]
fn presets_carry_their_numbers() {
    let f = spec("fast-3g");
    assert_eq!(
        (f.rtt, f.down, f.up),
        (ms(150), bits(1_440_000), bits(675_000))
    );
    assert_eq!(f.label(), "fast-3g");
    let s = spec("slow-3g");
    assert_eq!(
        (s.rtt, s.down, s.up),
        (ms(400), bits(400_000), bits(400_000))
    );
    let s4 = spec("slow-4g");
    assert_eq!((s4.rtt, s4.down, s4.up), (f.rtt, f.down, f.up));
    let f4 = spec("fast-4g");
    assert_eq!(
        (f4.rtt, f4.down, f4.up),
        (ms(60), bits(8_100_000), bits(1_350_000))
    );
    let d = spec("DSL");
    assert_eq!(
        (d.rtt, d.down, d.up),
        (ms(50), bits(1_500_000), bits(384_000))
    );
    let g = spec("satellite");
    assert_eq!(
        (g.rtt, g.down, g.up),
        (ms(600), bits(25_000_000), bits(3_000_000))
    );
    for p in PRESETS {
        assert!(!p.source.is_empty(), "{} has no source", p.name);
        assert_eq!(spec(p.name).label(), p.name);
    }
}

#[test]
fn keys_after_a_preset_override_it() {
    let l = spec("fast-3g,jitter=20ms");
    assert_eq!(
        (l.rtt, l.jitter, l.down),
        (ms(150), ms(20), bits(1_440_000))
    );
    assert_eq!(l.label(), "rtt=150ms,jitter=20ms,down=1.44mbit,up=675kbit");
    assert_eq!(spec("satellite,rtt=700ms").rtt, ms(700));
    assert_eq!(spec("satellite,700ms").rtt, ms(700));
}

#[test]
fn display_parses_back_to_the_same_link() {
    let mut all: Vec<LinkSpec> = PRESETS.iter().map(|p| spec(p.name)).collect();
    all.push(spec("rtt=250us,jitter=1.5s,down=512bit,up=2gbit"));
    all.push(spec("rtt=1s,up=100kbyte"));
    all.push(LinkSpec::none());
    for l in all {
        let back = spec(&l.to_string());
        assert_eq!(
            (back.rtt, back.jitter, back.down, back.up),
            (l.rtt, l.jitter, l.down, l.up)
        );
    }
    assert_eq!(
        spec("satellite").to_string(),
        "rtt=600ms,down=25mbit,up=3mbit"
    );
}

#[test]
fn link_lists() {
    let l = parse_link_list("0,20ms,100ms,300ms,1s").unwrap();
    let rtts: Vec<_> = l.iter().map(|s| s.rtt).collect();
    assert_eq!(rtts, [0, 20, 100, 300, 1000].map(ms));
    assert!(l[0].is_none());
    assert_eq!(
        parse_link_list("rtt=100ms,down=1mbit").unwrap(),
        [spec("rtt=100ms,down=1mbit")]
    );
    let two = parse_link_list("rtt=100ms,down=1mbit;fast-3g").unwrap();
    assert_eq!(two, [spec("rtt=100ms,down=1mbit"), spec("fast-3g")]);
    assert_eq!(parse_link_list("none,satellite").unwrap().len(), 2);
    assert!(matches!(
        parse_link_list("20ms,bogus"),
        Err(LinkSpecError::UnknownPreset { .. })
    ));
}

#[test]
fn every_malformed_form_is_named() {
    use LinkSpecError as E;
    assert!(matches!(err(""), E::Empty));
    assert!(matches!(err("rtt=1ms,"), E::Empty));
    assert!(matches!(err("loss=1%"), E::UnknownKey { key, .. } if key == "loss"));
    assert!(matches!(err("fast-5g"), E::UnknownPreset { name } if name == "fast-5g"));
    assert!(matches!(err("rtt"), E::UnknownPreset { .. }));
    assert!(matches!(err("rtt=1ms,dsl"), E::PresetNotFirst { .. }));
    assert!(matches!(err("rtt=-5ms"), E::NegativeDelay { .. }));
    assert!(matches!(err("-5ms"), E::NegativeDelay { .. }));
    assert!(matches!(err("jitter=-1s"), E::NegativeDelay { .. }));
    assert!(matches!(err("rtt=100"), E::DelayWithoutUnit { .. }));
    assert!(matches!(err("rtt=fast"), E::BadDelay { .. }));
    assert!(matches!(err("rtt=10parsecs"), E::BadDelay { .. }));
    assert!(matches!(err("rtt="), E::BadDelay { .. }));
    assert!(matches!(err("rtt=601s"), E::DelayTooLong { .. }));
    assert!(matches!(err("down=1000"), E::RateWithoutUnit { .. }));
    assert!(matches!(err("up=1.6"), E::RateWithoutUnit { .. }));
    assert!(matches!(err("down=0kbit"), E::BadRate { .. }));
    assert!(matches!(err("down=-1mbit"), E::BadRate { .. }));
    assert!(matches!(err("down=1mbps"), E::BadRate { .. }));
    assert!(matches!(err("down=fast"), E::BadRate { .. }));
    assert!(matches!(err("rtt=1ms,rtt=2ms"), E::Duplicate { key } if key == "rtt"));
    assert!(matches!(err("100ms,rtt=2ms"), E::Duplicate { .. }));
}

#[test]
fn errors_are_one_line_listing_keys_and_presets() {
    for bad in [
        "",
        "loss=1%",
        "fast-5g",
        "rtt=-5ms",
        "down=1000",
        "rtt=1ms,rtt=1ms",
    ] {
        let text = err(bad).to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.ends_with(HELP), "{text}");
        assert!(!text.contains("Error") && !text.contains('{'), "{text}");
    }
    for key in ["rtt=", "jitter=", "down=", "up="] {
        assert!(HELP.contains(key), "{key}");
    }
    for name in preset_names() {
        assert!(HELP.contains(name), "HELP does not list {name}");
    }
    assert_eq!(
        err("down=1000").to_string(),
        format!(
            "'down=1000': a bandwidth needs a unit (kbit, mbit, gbit or kbyte, mbyte per \
             second); {HELP}"
        )
    );
}

#[test]
fn queue_bound_is_a_bdp_plus_slack() {
    let one_mbit = Rate::from_bits_per_s(1_000_000);
    assert_eq!(
        queue_bound(Some(one_mbit), ms(100)),
        12_500 + loadgen::link::QUEUE_SLACK
    );
    assert_eq!(queue_bound(None, ms(100)), loadgen::link::UNLIMITED_QUEUE);
}

/// A command line with `--link`, as `pushbench run` will have.
#[derive(Debug, Parser)]
struct Cli {
    #[arg(long, default_value = "none")]
    link: LinkSpec,
}

#[test]
fn clap_reports_a_bad_link_in_one_line_with_exit_status_2() {
    let ok = Cli::try_parse_from(["x", "--link", "fast-3g"]).unwrap();
    assert_eq!(ok.link.rtt, ms(150));
    let e = Cli::try_parse_from(["x", "--link", "rtt=100ms,loss=1%"]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(text.contains("unknown key 'loss'"), "{text}");
    assert!(text.contains("satellite"), "{text}");
}

#[test]
fn serde_keeps_a_link_as_its_label() {
    for text in [
        "fast-3g",
        "rtt=150ms,jitter=20ms,down=1.44mbit,up=675kbit",
        "none",
    ] {
        let l = spec(text);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<LinkSpec>(&json).unwrap(), l);
    }
    let e = serde_json::from_str::<LinkSpec>("\"rtt=-1ms\"").unwrap_err();
    assert!(e.to_string().contains("a delay cannot be negative"), "{e}");
}
