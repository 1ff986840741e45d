//! When each query of a step is due, and when the step stops issuing queries.
//!
//! Open loop follows oha: every send time is computed from one absolute start (evenly spaced
//! or with exponential gaps), never from when the previous answer came back, so a stalled
//! cluster shows its queueing in the latencies instead of slowing the generator down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::mix::apportion;
use crate::workload::{LoadMode, StepLength};

/// One query to send.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    /// When it is due (closed loop: when it was taken).
    pub due: Instant,
    /// Due during warm-up: not counted.
    pub warmup: bool,
    /// Uniform draw for the query of the mix.
    pub query_draw: f64,
    /// Uniform draw for the team.
    pub team_draw: f64,
    /// Open loop by duration: the end of the measured window. A request still waiting for a
    /// free lane then is demand the step did not serve; it is counted as such, not sent, so
    /// a backlog neither stretches the step nor hides from the served share.
    pub send_by: Option<Instant>,
}

struct State {
    next_offset_s: f64,
    rng: ChaCha8Rng,
}

/// Hands out tickets until the step's length is reached.
pub struct Schedule {
    mode: LoadMode,
    /// When the step started.
    pub start: Instant,
    /// When the measured window opens.
    pub warmup_end: Instant,
    measure_end: Option<Instant>,
    measured_target: Option<u64>,
    measured_taken: AtomicU64,
    state: Mutex<State>,
}

impl Schedule {
    /// A schedule starting now.
    pub fn new(mode: LoadMode, warmup: Duration, length: StepLength, seed: u64) -> Schedule {
        Schedule::starting(Instant::now(), mode, warmup, length, seed)
    }

    /// Open loop: one schedule per team, all starting now, each at the team's `share` of the
    /// rate (and of a measured request count) with draws of its own, so no team's requests
    /// wait behind another's in the generator.
    pub fn per_team(
        mode: LoadMode,
        warmup: Duration,
        length: StepLength,
        seed: u64,
        shares: &[f64],
    ) -> Vec<Schedule> {
        let start = Instant::now();
        let counts = match length {
            StepLength::Requests(n) => {
                apportion(usize::try_from(n).unwrap_or(usize::MAX), shares, 0)
            }
            StepLength::Seconds(_) => vec![0; shares.len()],
        };
        shares
            .iter()
            .zip(counts)
            .enumerate()
            .map(|(team, (&share, count))| {
                let mode = match mode {
                    LoadMode::Open { rate, poisson } => LoadMode::Open {
                        rate: rate * share,
                        poisson,
                    },
                    LoadMode::Closed => LoadMode::Closed,
                };
                let length = match length {
                    StepLength::Requests(_) => StepLength::Requests(count as u64),
                    seconds => seconds,
                };
                let seed = seed ^ (team as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Schedule::starting(start, mode, warmup, length, seed)
            })
            .collect()
    }

    fn starting(
        start: Instant,
        mode: LoadMode,
        warmup: Duration,
        length: StepLength,
        seed: u64,
    ) -> Schedule {
        let warmup_end = start + warmup;
        let (measure_end, measured_target) = match length {
            StepLength::Seconds(s) => (Some(warmup_end + Duration::from_secs_f64(s)), None),
            StepLength::Requests(n) => (None, Some(n)),
        };
        Schedule {
            mode,
            start,
            warmup_end,
            measure_end,
            measured_target,
            measured_taken: AtomicU64::new(0),
            state: Mutex::new(State {
                next_offset_s: 0.0,
                rng: ChaCha8Rng::seed_from_u64(seed),
            }),
        }
    }

    /// The next ticket, or `None` when the step has issued all it should.
    pub fn take(&self) -> Option<Ticket> {
        let (due, query_draw, team_draw) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let due = match self.mode {
                LoadMode::Closed => Instant::now(),
                LoadMode::Open { rate, poisson } => {
                    let due = self.start + Duration::from_secs_f64(state.next_offset_s);
                    let gap = if poisson {
                        let u: f64 = state.rng.random();
                        -(1.0 - u).ln() / rate
                    } else {
                        1.0 / rate
                    };
                    state.next_offset_s += gap;
                    due
                }
            };
            let query_draw: f64 = state.rng.random();
            let team_draw: f64 = state.rng.random();
            (due, query_draw, team_draw)
        };
        if self.measure_end.is_some_and(|end| due >= end) {
            return None;
        }
        let warmup = due < self.warmup_end;
        if !warmup {
            if let Some(target) = self.measured_target {
                if self.measured_taken.fetch_add(1, Ordering::SeqCst) >= target {
                    return None;
                }
            }
        }
        Some(Ticket {
            due,
            warmup,
            query_draw,
            team_draw,
            send_by: match self.mode {
                LoadMode::Open { .. } => self.measure_end,
                LoadMode::Closed => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_tickets_are_evenly_spaced_from_one_start() {
        let s = Schedule::new(
            LoadMode::Open {
                rate: 100.0,
                poisson: false,
            },
            Duration::from_millis(50),
            StepLength::Requests(10),
            1,
        );
        let tickets: Vec<Ticket> = std::iter::from_fn(|| s.take()).collect();
        // 5 warm-up tickets (0..50 ms) then exactly 10 measured.
        assert_eq!(tickets.iter().filter(|t| t.warmup).count(), 5);
        assert_eq!(tickets.iter().filter(|t| !t.warmup).count(), 10);
        let gap = tickets[7].due - tickets[6].due;
        assert!((gap.as_secs_f64() - 0.01).abs() < 1e-6);
        assert!((tickets[9].due - s.start).as_secs_f64() - 0.09 < 1e-6);
    }

    #[test]
    fn open_loop_by_duration_stops_at_the_window_end() {
        let s = Schedule::new(
            LoadMode::Open {
                rate: 1000.0,
                poisson: true,
            },
            Duration::ZERO,
            StepLength::Seconds(0.5),
            1,
        );
        let tickets: Vec<Ticket> = std::iter::from_fn(|| s.take()).collect();
        assert!((400..600).contains(&tickets.len()), "{}", tickets.len());
        let end = s.warmup_end + Duration::from_millis(500);
        assert!(tickets.iter().all(|t| t.send_by == Some(end)));
    }

    #[test]
    fn each_team_has_its_own_rate_and_its_share_of_a_request_count() {
        let open = LoadMode::Open {
            rate: 1000.0,
            poisson: false,
        };
        let shares = [0.8, 0.2];
        let teams = Schedule::per_team(open, Duration::ZERO, StepLength::Requests(10), 1, &shares);
        let counts: Vec<usize> = teams
            .iter()
            .map(|s| std::iter::from_fn(|| s.take()).count())
            .collect();
        assert_eq!(counts, vec![8, 2]);
        assert_eq!(teams[0].start, teams[1].start, "one start for every team");
        let teams = Schedule::per_team(open, Duration::ZERO, StepLength::Seconds(0.1), 1, &shares);
        let tickets: Vec<Vec<Ticket>> = teams
            .iter()
            .map(|s| std::iter::from_fn(|| s.take()).collect())
            .collect();
        // 800/s and 200/s for 0.1 s (one either way for the rounding of the last offset).
        assert!(
            (79..=81).contains(&tickets[0].len()),
            "{}",
            tickets[0].len()
        );
        assert!(
            (19..=21).contains(&tickets[1].len()),
            "{}",
            tickets[1].len()
        );
        let gap = tickets[1][1].due - tickets[1][0].due;
        assert!((gap.as_secs_f64() - 0.005).abs() < 1e-6, "200/s: {gap:?}");
    }

    #[test]
    fn closed_loop_counts_measured_requests() {
        let s = Schedule::new(
            LoadMode::Closed,
            Duration::ZERO,
            StepLength::Seconds(1.0),
            1,
        );
        assert!(
            s.take().is_some_and(|t| t.send_by.is_none()),
            "a closed loop has no backlog"
        );
        let s = Schedule::new(LoadMode::Closed, Duration::ZERO, StepLength::Requests(3), 1);
        assert_eq!(std::iter::from_fn(|| s.take()).count(), 3);
    }
}
