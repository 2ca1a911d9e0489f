//! histograms/<technique>.hlog: each technique's steady-state latency histogram in the
//! HdrHistogram interval-log format (V2, deflate-compressed), so runs merge exactly later.

use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

/// Writes one interval covering the window (`start`, `len`) tagged with `tag`.
pub fn write_hlog(
    path: &Path,
    h: &Histogram<u64>,
    run_start: SystemTime,
    start: SystemTime,
    len: Duration,
    tag: &str,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment("pushbench publish-to-receive latency, microseconds")
            .with_start_time(run_start)
            .with_base_time(run_start)
            .begin_log_with(&mut buf, &mut ser)?;
        let offset = start.duration_since(run_start).unwrap_or(Duration::ZERO);
        w.write_histogram(h, offset, len, Tag::new(tag))
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    }
    std::fs::write(path, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn round_trips() {
        let mut h = crate::stats::new_histogram();
        for v in [100, 200, 300_000] {
            h.record(v).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("pb-hlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sse.hlog");
        let t = SystemTime::now();
        write_hlog(
            &p,
            &h,
            t,
            t + Duration::from_secs(2),
            Duration::from_secs(8),
            "sse",
        )
        .unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let mut found = 0;
        for e in IntervalLogIterator::new(&bytes) {
            if let Ok(LogEntry::Interval(i)) = e {
                assert_eq!(i.tag().map(|t| t.as_str().to_string()), Some("sse".into()));
                assert!((i.max() - 300_000.0).abs() < 300.0, "{}", i.max());
                assert_eq!(i.duration(), Duration::from_secs(8));
                assert!(!i.encoded_histogram().is_empty());
                found += 1;
            }
        }
        assert_eq!(found, 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
