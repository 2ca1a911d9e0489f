//! Human-readable numbers with units for the page and the charts (the CSV keeps raw numbers).

/// A latency axis tick given in µs: `100 µs`, `2 ms`, `10 s` (no trailing zeros).
pub fn latency_tick(us: f64) -> String {
    if us < 1_000.0 {
        format!("{} µs", tick(us.round()))
    } else if us < 1_000_000.0 {
        format!("{} ms", tick((us / 1_000.0 * 1e3).round() / 1e3))
    } else {
        format!("{} s", tick((us / 1_000_000.0 * 1e3).round() / 1e3))
    }
}

/// A latency given in µs, in the unit that reads best: `850 µs`, `1.24 ms`, `2.31 s`.
pub fn latency_us(us: f64) -> String {
    if us < 999.5 {
        format!("{us:.0} µs")
    } else if us < 999_500.0 {
        format!("{} ms", sig(us / 1_000.0))
    } else {
        format!("{} s", sig(us / 1_000_000.0))
    }
}

/// Three significant figures, without a trailing `.0` on large values: `1.24`, `12.4`, `124`,
/// `0.0125`, `0.000625`.
pub fn sig(v: f64) -> String {
    fn decimals(a: f64) -> usize {
        if a >= 100.0 || a == 0.0 {
            0
        } else {
            (2.0 - a.log10().floor()) as usize
        }
    }
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let d = decimals(v.abs());
    let s = format!("{v:.d$}");
    // Rounding can carry into the next power of ten (0.9999 → 1.000): use its precision.
    let rounded: f64 = s.parse().unwrap_or(v);
    let d2 = decimals(rounded.abs());
    if d2 < d { format!("{v:.d2$}") } else { s }
}

/// An axis tick: the shortest plain decimal, no trailing zeros: `0.001`, `0.5`, `20`, `2500`.
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{:.6}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A byte count: `612 B`, `11.2 KiB`, `1.43 MiB`, `2.10 GiB`.
pub fn bytes(b: f64) -> String {
    const K: f64 = 1024.0;
    if b.abs() < K {
        format!("{b:.0} B")
    } else if b.abs() < K * K {
        format!("{} KiB", sig(b / K))
    } else if b.abs() < K * K * K {
        format!("{} MiB", sig(b / K / K))
    } else {
        format!("{} GiB", sig(b / K / K / K))
    }
}

/// An integer with thousands separators: `12,345`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and a noun, plural unless n is 1: `1 request`, `3 requests`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", count(n))
    }
}

/// A share (0..1) as a percentage: `99.5%`; 100% only when exactly 1.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if share < 1.0 && p > 99.95 {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

/// `Some(v)` formatted by `f`, or `n/a`.
pub fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "n/a".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(latency_us(850.0), "850 µs");
        assert_eq!(latency_us(1_240.0), "1.24 ms");
        assert_eq!(latency_us(2_310_000.0), "2.31 s");
        assert_eq!(latency_us(999_935.0), "1.00 s");
        assert_eq!(latency_us(999.7), "1.00 ms");
        assert_eq!(bytes(612.0), "612 B");
        assert_eq!(bytes(11_468.8), "11.2 KiB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(percent(0.99999), "99.999%");
        assert_eq!(sig(0.0125), "0.0125");
        assert_eq!(sig(0.9999), "1.00");
        assert_eq!(sig(99.96), "100");
        assert_eq!(sig(0.000625), "0.000625");
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(0.001), "0.001");
        assert_eq!(tick(2.5), "2.5");
    }
}
