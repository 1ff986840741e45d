//! Per-team goodput and Jain's fairness index, computed from the admission counters a node
//! reports in `GetMetrics` (`TeamAdmission`); [`demand`] weighs what teams got against what
//! they asked for. [`jain_index`] is the harness's one implementation of Jain's index.
//!
//! Goodput of a team is the rate of its queries the node answered successfully
//! (`succeeded`), over an interval between two snapshots of the same node, or since the node
//! started. Jain's index of `n` shares `x₁ … xₙ` is `(Σx)² / (n · Σx²)`: 1 when every team
//! gets the same, `1/n` when one team gets everything (R. Jain, D. Chiu, W. Hawe, "A
//! Quantitative Measure of Fairness and Discrimination for Resource Allocation in Shared
//! Computer Systems", DEC-TR-301, 1984). The weighted form divides each team's goodput by its
//! `fair_queue` weight first, so a 2:1 split between teams weighted 2 and 1 scores 1.

pub mod demand;

use overlay::proto::{MetricsResponse, TeamAdmission};
use serde::Serialize;

/// What one team got from one node over an interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamGoodput {
    /// The team.
    pub team: String,
    /// Its `fair_queue` weight as the node reports it (at least 1).
    pub weight: u32,
    /// Queries admitted in the interval.
    pub admitted: i64,
    /// Queries rejected in the interval (every reason).
    pub rejected: i64,
    /// Queries answered successfully in the interval.
    pub succeeded: i64,
    /// `succeeded` per second of the interval.
    pub goodput_per_s: f64,
}

/// Per-team goodput of one node between `before` and `after` (two snapshots of the same node,
/// `after` taken later), or since the node started when `before` is `None`. Teams are in the
/// node's order (by name); a team first seen after `before` counts from zero.
pub fn team_goodput(before: Option<&MetricsResponse>, after: &MetricsResponse) -> Vec<TeamGoodput> {
    let seconds = after.uptime_s - before.map_or(0.0, |b| b.uptime_s);
    after
        .teams
        .iter()
        .map(|now| {
            let earlier = before.and_then(|b| b.teams.iter().find(|t| t.team == now.team));
            let delta = |field: fn(&TeamAdmission) -> i64| field(now) - earlier.map_or(0, field);
            let succeeded = delta(|t| t.succeeded);
            TeamGoodput {
                team: now.team.clone(),
                weight: now.weight.max(1),
                admitted: delta(|t| t.admitted),
                rejected: delta(|t| t.rejected),
                succeeded,
                goodput_per_s: if seconds > 0.0 {
                    succeeded as f64 / seconds
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Jain's fairness index of `shares`; `None` when there is nothing to compare (no shares, or
/// all zero).
pub fn jain_index(shares: &[f64]) -> Option<f64> {
    let sum: f64 = shares.iter().sum();
    let sum_of_squares: f64 = shares.iter().map(|x| x * x).sum();
    if shares.is_empty() || sum_of_squares <= 0.0 {
        return None;
    }
    Some(sum * sum / (shares.len() as f64 * sum_of_squares))
}

/// Jain's index of the teams' goodput as is (`weighted` false) or divided by their weights.
pub fn goodput_fairness(teams: &[TeamGoodput], weighted: bool) -> Option<f64> {
    let shares: Vec<f64> = teams
        .iter()
        .map(|t| {
            if weighted {
                t.goodput_per_s / f64::from(t.weight.max(1))
            } else {
                t.goodput_per_s
            }
        })
        .collect();
    jain_index(&shares)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str, weight: u32, admitted: i64, succeeded: i64) -> TeamAdmission {
        TeamAdmission {
            team: name.to_string(),
            weight,
            admitted,
            succeeded,
            rejected: 1,
            ..Default::default()
        }
    }

    fn snapshot(uptime_s: f64, teams: Vec<TeamAdmission>) -> MetricsResponse {
        MetricsResponse {
            uptime_s,
            teams,
            ..Default::default()
        }
    }

    #[test]
    fn jain_index_bounds() {
        assert_eq!(jain_index(&[]), None);
        assert_eq!(jain_index(&[0.0, 0.0]), None);
        assert!((jain_index(&[5.0, 5.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((jain_index(&[9.0, 0.0]).unwrap() - 0.5).abs() < 1e-12);
        // 2:1 → 9 / (2 · 5) = 0.9.
        assert!((jain_index(&[2.0, 1.0]).unwrap() - 0.9).abs() < 1e-12);
    }

    #[test]
    fn goodput_over_an_interval_and_since_start() {
        let before = snapshot(10.0, vec![team("green", 1, 5, 4)]);
        let after = snapshot(
            12.0,
            vec![team("green", 1, 25, 24), team("pink", 2, 40, 40)],
        );
        let interval = team_goodput(Some(&before), &after);
        assert_eq!(interval[0].succeeded, 20);
        assert_eq!(interval[0].rejected, 0);
        assert!((interval[0].goodput_per_s - 10.0).abs() < 1e-12);
        assert_eq!((interval[1].succeeded, interval[1].weight), (40, 2));
        assert!((interval[1].goodput_per_s - 20.0).abs() < 1e-12);
        // 10 vs 20 per second is unfair as is, and exactly fair for weights 1 and 2.
        assert!((goodput_fairness(&interval, false).unwrap() - 0.9).abs() < 1e-12);
        assert!((goodput_fairness(&interval, true).unwrap() - 1.0).abs() < 1e-12);

        let since_start = team_goodput(None, &after);
        assert!((since_start[0].goodput_per_s - 2.0).abs() < 1e-12);
        assert_eq!(team_goodput(Some(&after), &after)[0].goodput_per_s, 0.0);
    }
}
