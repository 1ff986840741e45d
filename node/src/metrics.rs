//! Processing-time bookkeeping and the `GetMetrics` answer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use overlay::proto::{MetricsResponse, TeamAdmission};

use crate::node::Node;

/// Queries the processing-time average spans: recent enough to follow load changes, long
/// enough not to jump with every query.
const TIME_WINDOW: usize = 200;

/// The processing times of the latest queries this node handled.
#[derive(Debug, Default)]
pub struct QueryTimes {
    window: Mutex<VecDeque<Duration>>,
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
        window.push_back(took);
    }

    /// Mean over the window, in milliseconds (0 before the first query).
    pub fn average_ms(&self) -> f64 {
        let window = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if window.is_empty() {
            return 0.0;
        }
        window.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / window.len() as f64
    }

    /// Queries handled since start.
    pub fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The node's metrics, every original field filled from live state.
pub fn snapshot(node: &Node) -> MetricsResponse {
    let admission = node.admission.snapshot();
    let (stored_results, stored_bytes) = node.results.usage();
    MetricsResponse {
        process_id: node.me.id.0.clone(),
        role: node.me.role.name().to_string(),
        team: node.me.team.clone(),
        active_requests: admission.total_active as i32,
        max_capacity: admission.max_active as i32,
        is_healthy: true,
        queue_size: stored_results as i32,
        avg_processing_time_ms: node.times.average_ms() as f32,
        data_files_loaded: node.load_report.files_loaded as i32,
        fairness_strategy: admission.strategy.name().to_string(),
        recent_logs: node.logs.recent(),
        rows_loaded: node.load_report.rows_loaded as i64,
        rows_skipped: node.load_report.rows_skipped as i64,
        queries_served: node.times.served() as i64,
        teams: admission
            .teams
            .iter()
            .map(|t| TeamAdmission {
                team: t.team.clone(),
                active: t.active as i32,
                admitted: t.admitted as i64,
                rejected: t.rejected as i64,
                queued: t.queued as i32,
                avg_wait_ms: t.avg_wait_ms,
                completed: t.completed as i64,
            })
            .collect(),
        stored_result_bytes: stored_bytes as i64,
        uptime_s: node.started.elapsed().as_secs_f64(),
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
}
