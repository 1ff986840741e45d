//! Demand-aware fairness: what each team asked for, what it got, and what a fair split of the
//! measured capacity would have given it.
//!
//! Jain's index over raw goodput ignores demand: two teams offering load 3 : 1 on an idle
//! cluster are both served in full, yet their goodput scores (3 + 1)² / (2 · (9 + 1)) = 0.80.
//! The reference here is the **weighted max-min fair share** (progressive filling, as in
//! Bertsekas and Gallager, *Data Networks*, §6.5.2): capacity is handed out in proportion to
//! the weights; a team that needs less than its portion keeps only its demand, and what it
//! leaves is shared among the others the same way, until capacity or demand runs out. No team
//! can then get more without taking from a team that has less (per unit of weight).
//!
//! The **demand-aware index** is Jain's index (R. Jain, D. Chiu, W. Hawe, "A Quantitative
//! Measure of Fairness and Discrimination for Resource Allocation in Shared Computer Systems",
//! DEC-TR-301, 1984) of `served ÷ fair share` per team with some demand: 1.0 when every team's
//! demand is met and when capacity is split max-min fairly by weight; it falls towards `1/n`
//! as one team takes what others were due. Capacity is what the cluster was measured to serve
//! (the caller chooses: one step's total goodput, or the best any strategy reached at that
//! level, so a strategy that leaves capacity idle is not excused).

use serde::{Deserialize, Serialize};

use super::jain_index;
use crate::stats::{per_second, StepMeasure};
use crate::workload::Tenant;

/// One team's demand and service over a measured window, as rates per second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamShare {
    /// The team.
    pub team: String,
    /// Its weight (entitlement), at least 1.
    pub weight: u32,
    /// Requests it issued per second (each request once, whatever its retries).
    pub offered_per_s: f64,
    /// Requests answered per second.
    pub served_per_s: f64,
    /// Its weighted max-min fair share of the capacity, per second.
    pub fair_per_s: f64,
}

impl TeamShare {
    /// Share of its own demand that was served (1 when it asked for nothing).
    pub fn served_share(&self) -> f64 {
        if self.offered_per_s > 0.0 {
            self.served_per_s / self.offered_per_s
        } else {
            1.0
        }
    }
}

/// Weighted max-min fair allocation of `capacity` to teams with these `demands` and
/// `weights` (same length; a weight below 1 counts as 1; negative demands as 0). No team gets
/// more than it asked for; the allocations add up to `min(capacity, Σ demand)`.
pub fn max_min_fair_share(demands: &[f64], weights: &[f64], capacity: f64) -> Vec<f64> {
    let mut share = vec![0.0; demands.len()];
    let mut open: Vec<usize> = (0..demands.len()).filter(|&i| demands[i] > 0.0).collect();
    let mut left = capacity.max(0.0);
    while !open.is_empty() && left > 1e-12 {
        let total_weight: f64 = open.iter().map(|&i| weights[i].max(1.0)).sum();
        let per_weight = left / total_weight;
        // Teams whose remaining need fits in their portion are satisfied and leave the pool.
        let (satisfied, still): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| demands[i] - share[i] <= per_weight * weights[i].max(1.0));
        if satisfied.is_empty() {
            for &i in &open {
                share[i] += per_weight * weights[i].max(1.0);
            }
            break;
        }
        for &i in &satisfied {
            left -= demands[i] - share[i];
            share[i] = demands[i];
        }
        open = still;
    }
    share
}

/// Fills in each team's fair share of `capacity` (per second) from its offered load.
pub fn with_fair_shares(mut teams: Vec<TeamShare>, capacity: f64) -> Vec<TeamShare> {
    let demands: Vec<f64> = teams.iter().map(|t| t.offered_per_s).collect();
    let weights: Vec<f64> = teams.iter().map(|t| f64::from(t.weight)).collect();
    for (team, fair) in teams
        .iter_mut()
        .zip(max_min_fair_share(&demands, &weights, capacity))
    {
        team.fair_per_s = fair;
    }
    teams
}

/// The demand-aware index: Jain's index of served ÷ fair share over the teams with a fair
/// share; `None` when no team had one (no demand, or nothing served at all).
pub fn demand_index(teams: &[TeamShare]) -> Option<f64> {
    let ratios: Vec<f64> = teams
        .iter()
        .filter(|t| t.fair_per_s > 0.0)
        .map(|t| t.served_per_s / t.fair_per_s)
        .collect();
    jain_index(&ratios)
}

/// Jain's index of goodput ÷ weight, which ignores demand: kept beside the demand-aware index
/// for comparison with earlier reports.
pub fn plain_index(teams: &[TeamShare]) -> Option<f64> {
    let x: Vec<f64> = teams
        .iter()
        .map(|t| t.served_per_s / f64::from(t.weight.max(1)))
        .collect();
    jain_index(&x)
}

/// A step's (or level's) fairness: per team, the reference, and both indices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepFairness {
    /// The capacity shared out, requests answered per second.
    pub capacity_per_s: f64,
    /// Per team, in the workload's order.
    pub teams: Vec<TeamShare>,
    /// Jain's index of served ÷ fair share (see the module doc).
    pub demand_index: Option<f64>,
    /// Jain's index of goodput ÷ weight, which ignores demand.
    pub plain_index: Option<f64>,
}

impl StepFairness {
    /// The figures of `measure` for these tenants, against `capacity_per_s` (raised to what the
    /// step itself served when lower).
    pub fn of(measure: &StepMeasure, tenants: &[Tenant], capacity_per_s: f64) -> StepFairness {
        let rate = |n: u64| per_second(n, measure.elapsed_s);
        let teams: Vec<TeamShare> = tenants
            .iter()
            .map(|t| {
                let series = measure.teams.get(&t.team).cloned().unwrap_or_default();
                TeamShare {
                    team: t.team.clone(),
                    weight: t.weight.max(1),
                    offered_per_s: rate(series.total()),
                    served_per_s: rate(series.ok.count()),
                    fair_per_s: 0.0,
                }
            })
            .collect();
        let served: f64 = teams.iter().map(|t| t.served_per_s).sum();
        let capacity_per_s = capacity_per_s.max(served);
        let teams = with_fair_shares(teams, capacity_per_s);
        StepFairness {
            capacity_per_s,
            demand_index: demand_index(&teams),
            plain_index: plain_index(&teams),
            teams,
        }
    }
}

/// An index for a table cell: three decimals, or `-` when there is nothing to judge.
pub fn index_text(index: Option<f64>) -> String {
    index.map_or("-".to_string(), |i| format!("{i:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str, weight: u32, offered: f64, served: f64) -> TeamShare {
        TeamShare {
            team: name.to_string(),
            weight,
            offered_per_s: offered,
            served_per_s: served,
            fair_per_s: 0.0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn no_contention_scores_one_where_plain_jain_scores_point_eight() {
        // 3 : 1 offered, equal weights, everything served: capacity 40 covers all demand.
        let teams = with_fair_shares(
            vec![team("green", 1, 30.0, 30.0), team("pink", 1, 10.0, 10.0)],
            40.0,
        );
        assert!(close(teams[0].fair_per_s, 30.0) && close(teams[1].fair_per_s, 10.0));
        assert!(close(demand_index(&teams).unwrap(), 1.0));
        assert!(close(teams[1].served_share(), 1.0));
        // (30 + 10)² / (2 · (900 + 100)) = 0.8
        assert!(close(plain_index(&teams).unwrap(), 0.8));
    }

    #[test]
    fn weighted_max_min_splits_by_hand() {
        // Capacity 12, weights 2 : 1 : 1, demands 10, 1, 10.
        // Round 1: 12 / 4 = 3 per weight → 6, 3, 3; team b needs only 1: satisfied, 11 left.
        // Round 2: 11 / 3 per weight → a 7.33, c 3.67; both need more: done.
        let fair = max_min_fair_share(&[10.0, 1.0, 10.0], &[2.0, 1.0, 1.0], 12.0);
        assert!(close(fair[1], 1.0));
        assert!(close(fair[0], 22.0 / 3.0) && close(fair[2], 11.0 / 3.0));
        assert!(close(fair.iter().sum::<f64>(), 12.0));
        // Demand below capacity: everyone gets its demand; zero demand gets nothing.
        assert_eq!(
            max_min_fair_share(&[2.0, 0.0], &[1.0, 1.0], 10.0),
            [2.0, 0.0]
        );
        // Both want more: 2 : 1 by weight.
        let fair = max_min_fair_share(&[100.0, 100.0], &[2.0, 1.0], 30.0);
        assert!(close(fair[0], 20.0) && close(fair[1], 10.0));
        // Served exactly the weighted max-min split scores 1.
        let teams = with_fair_shares(
            vec![team("a", 2, 100.0, 20.0), team("b", 1, 100.0, 10.0)],
            30.0,
        );
        assert!(close(demand_index(&teams).unwrap(), 1.0));
    }

    #[test]
    fn a_starved_team_scores_low() {
        // Both ask 20/s of a 20/s cluster; green got it all, pink nothing.
        let teams = with_fair_shares(
            vec![team("green", 1, 20.0, 20.0), team("pink", 1, 20.0, 0.0)],
            20.0,
        );
        assert!(close(teams[0].fair_per_s, 10.0) && close(teams[1].fair_per_s, 10.0));
        // Ratios 2 and 0: (2)² / (2 · 4) = 0.5.
        assert!(close(demand_index(&teams).unwrap(), 0.5));
        assert!(close(teams[1].served_share(), 0.0));
        // Nothing asked, nothing to judge.
        assert_eq!(
            demand_index(&with_fair_shares(vec![team("a", 1, 0.0, 0.0)], 5.0)),
            None
        );
    }
}
