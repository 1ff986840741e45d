//! Latency recording in HDR histograms and the summary figures printed from them.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram records, in microseconds (an hour): anything slower is clamped.
const MAX_RECORDABLE_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_RECORDABLE_US, 3).expect("static histogram bounds are valid")
}

/// Records one latency, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = (latency.as_micros() as u64).clamp(1, MAX_RECORDABLE_US);
    histogram.saturating_record(micros);
}

/// The usual figures of a latency distribution, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarizes a histogram (all zero when empty).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            min_ms: ms(histogram.min()),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_one_to_a_hundred_ms() {
        let mut histogram = new_histogram();
        for ms in 1..=100 {
            record(&mut histogram, Duration::from_millis(ms));
        }
        let summary = LatencySummary::of(&histogram);
        assert_eq!(summary.count, 100);
        assert!((summary.mean_ms - 50.5).abs() < 0.1);
        assert!((summary.p50_ms - 50.0).abs() < 0.1);
        assert!((summary.p99_ms - 99.0).abs() < 0.1);
        assert!((summary.max_ms - 100.0).abs() < 0.1);
        assert_eq!(
            LatencySummary::of(&new_histogram()),
            LatencySummary::default()
        );
    }
}
