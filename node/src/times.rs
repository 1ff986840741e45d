//! Processing times of the latest queries: the `avg_processing_time_ms` of the metrics and
//! the latency sample of the node's own state.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Queries the processing-time average spans: recent enough to follow load changes, long
/// enough not to jump with every query.
const TIME_WINDOW: usize = 200;

/// The processing times of the latest queries this node handled.
#[derive(Debug, Default)]
pub struct QueryTimes {
    window: Mutex<VecDeque<(Instant, Duration)>>,
    served: std::sync::atomic::AtomicU64,
}

impl QueryTimes {
    /// Records one query's processing time.
    pub fn record(&self, took: Duration) {
        self.served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if window.len() == TIME_WINDOW {
            window.pop_front();
        }
        window.push_back((Instant::now(), took));
    }

    /// Mean over the window, in milliseconds (0 before the first query).
    pub fn average_ms(&self) -> f64 {
        self.average_ms_since(None)
    }

    /// Mean over the queries of the window that finished within `span`, in milliseconds (0
    /// when none did, so an idle node reads as fast).
    pub fn average_ms_within(&self, span: Duration) -> f64 {
        self.average_ms_since(Instant::now().checked_sub(span))
    }

    fn average_ms_since(&self, since: Option<Instant>) -> f64 {
        let window = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (sum, count) = window
            .iter()
            .rev()
            .take_while(|(at, _)| since.is_none_or(|since| *at >= since))
            .fold((0.0, 0u32), |(sum, n), (_, took)| {
                (sum + took.as_secs_f64(), n + 1)
            });
        if count == 0 {
            0.0
        } else {
            sum * 1000.0 / f64::from(count)
        }
    }

    /// Queries handled since start.
    pub fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_spans_the_latest_window() {
        let times = QueryTimes::default();
        assert_eq!(times.average_ms(), 0.0);
        for _ in 0..TIME_WINDOW {
            times.record(Duration::from_millis(100));
        }
        for _ in 0..TIME_WINDOW {
            times.record(Duration::from_millis(10));
        }
        assert!((times.average_ms() - 10.0).abs() < 1e-9);
        assert_eq!(times.served(), 2 * TIME_WINDOW as u64);
    }

    #[test]
    fn the_recent_average_forgets_old_queries() {
        let times = QueryTimes::default();
        times.record(Duration::from_millis(10));
        assert!((times.average_ms_within(Duration::from_secs(60)) - 10.0).abs() < 1e-9);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(times.average_ms_within(Duration::from_millis(10)), 0.0);
        assert!((times.average_ms() - 10.0).abs() < 1e-9);
    }
}
