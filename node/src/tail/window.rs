//! A peer's recent answer times: a bounded sliding window of samples, read as percentiles.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Samples kept per peer: enough for a stable p95, few enough to follow a change in a second
/// under load.
pub const WINDOW_SAMPLES: usize = 64;

/// Samples older than this are ignored: a peer idle for a while is judged afresh.
pub const WINDOW_HORIZON: Duration = Duration::from_secs(10);

/// Fewest recent samples a percentile is computed from.
pub const MIN_SAMPLES: usize = 5;

/// The latest answer times of one peer.
#[derive(Clone, Debug, Default)]
pub struct LatencyWindow {
    samples: VecDeque<(Instant, Duration)>,
    /// The recent answer times, sorted, as last read: every answer of every peer reads the
    /// medians of the peer's whole team, so sorting each window afresh each time cost a
    /// coordinator with many peers several per cent of its CPU.
    sorted: RefCell<Option<Sorted>>,
}

/// The sorted recent samples and the last instant they hold for (when the oldest of them
/// leaves the horizon).
#[derive(Clone, Debug)]
struct Sorted {
    times: Vec<Duration>,
    until: Instant,
}

impl LatencyWindow {
    /// Adds one answer time.
    pub fn record(&mut self, at: Instant, took: Duration) {
        if self.samples.len() == WINDOW_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((at, took));
        self.sorted.get_mut().take();
    }

    /// The `q` quantile (0..=1, nearest rank) of the samples within the horizon of `now`;
    /// `None` with fewer than [`MIN_SAMPLES`] of them.
    pub fn quantile(&self, now: Instant, q: f64) -> Option<Duration> {
        let mut cached = self.sorted.borrow_mut();
        let sorted = match cached.as_ref() {
            Some(sorted) if now <= sorted.until => sorted,
            _ => cached.insert(self.sort_recent(now)),
        };
        let recent = &sorted.times;
        if recent.len() < MIN_SAMPLES {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * recent.len() as f64).ceil() as usize).max(1);
        Some(recent[rank.min(recent.len()) - 1])
    }

    /// The samples within the horizon of `now`, sorted, valid until the oldest of them ages
    /// out (samples already out stay out).
    fn sort_recent(&self, now: Instant) -> Sorted {
        let recent = self
            .samples
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) <= WINDOW_HORIZON);
        let oldest = recent.clone().map(|(at, _)| *at).min();
        let mut times: Vec<Duration> = recent.map(|(_, took)| *took).collect();
        times.sort_unstable();
        Sorted {
            times,
            until: oldest.map_or(now, |at| at + WINDOW_HORIZON),
        }
    }

    /// The hedge delay toward this peer: its recent p95, within `[floor, cap]`; the cap when
    /// there are too few recent answers to tell.
    pub fn hedge_delay(&self, now: Instant, floor: Duration, cap: Duration) -> Duration {
        self.quantile(now, 0.95)
            .map_or(cap, |p95| p95.clamp(floor, cap.max(floor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn the_hedge_delay_follows_the_p95_within_floor_and_cap() {
        let (floor, cap) = (5 * MS, 100 * MS);
        let mut w = LatencyWindow::default();
        // Too few answers: the cap.
        assert_eq!(w.hedge_delay(Instant::now(), floor, cap), cap);
        for i in 1..=20u32 {
            w.record(Instant::now(), i * 2 * MS);
        }
        // p95 of 2, 4, … 40 ms is the 19th: 38 ms.
        assert_eq!(w.hedge_delay(Instant::now(), floor, cap), 38 * MS);
        let mut fast = LatencyWindow::default();
        for _ in 0..10 {
            fast.record(Instant::now(), MS);
        }
        assert_eq!(fast.hedge_delay(Instant::now(), floor, cap), floor);
        let mut slow = LatencyWindow::default();
        for _ in 0..10 {
            slow.record(Instant::now(), 900 * MS);
        }
        assert_eq!(slow.hedge_delay(Instant::now(), floor, cap), cap);
        // Old answers age out: back to the cap.
        tokio::time::advance(WINDOW_HORIZON + MS).await;
        assert_eq!(w.hedge_delay(Instant::now(), floor, cap), cap);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_keeps_the_latest_samples_only() {
        let mut w = LatencyWindow::default();
        for _ in 0..WINDOW_SAMPLES {
            w.record(Instant::now(), 50 * MS);
        }
        for _ in 0..WINDOW_SAMPLES / 2 + 1 {
            w.record(Instant::now(), MS);
        }
        assert_eq!(w.quantile(Instant::now(), 0.5), Some(MS));
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_percentile_follows_new_samples_and_samples_ageing_out() {
        let mut w = LatencyWindow::default();
        for _ in 0..5 {
            w.record(Instant::now(), 10 * MS);
        }
        tokio::time::advance(WINDOW_HORIZON / 2).await;
        for _ in 0..6 {
            w.record(Instant::now(), 30 * MS);
        }
        assert_eq!(w.quantile(Instant::now(), 0.5), Some(30 * MS));
        assert_eq!(w.quantile(Instant::now(), 0.1), Some(10 * MS));
        // A new sample is read at once, though the percentiles were just read.
        for _ in 0..20 {
            w.record(Instant::now(), 20 * MS);
        }
        assert_eq!(w.quantile(Instant::now(), 0.5), Some(20 * MS));
        assert_eq!(w.quantile(Instant::now(), 0.1), Some(10 * MS));
        // The first five age out: the fastest left is 20 ms.
        tokio::time::advance(WINDOW_HORIZON / 2 + MS).await;
        assert_eq!(w.quantile(Instant::now(), 0.1), Some(20 * MS));
    }
}
