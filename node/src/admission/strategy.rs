//! The fairness strategies and the pure admission decision shared by all of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::limits::AdmissionLimits;

/// Which admission rule a node applies: the config's strategy enum, so names parse and print
/// in one place.
pub use overlay::config::FairnessStrategy as Strategy;

/// Which limit caused a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The node already runs `max_active` queries.
    TotalLimit,
    /// The team already runs `per_team_limit` queries (and may not borrow).
    TeamLimit,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::TotalLimit => "node is at its total active-query limit",
            RejectReason::TeamLimit => "team is at its active-query limit",
        })
    }
}

/// Outcome of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The query may start now.
    Admit,
    /// The query must not start now, because of the given limit.
    Reject(RejectReason),
}

/// Pure admission decision for `strict`, `weighted` and `hybrid`, and the
/// immediate-admission test of `fair_queue` (which is the `strict` test; the
/// "nobody is queued" condition is checked by [`Admission`](super::Admission)).
///
/// `total_active` counts admitted, unreleased queries of all teams and
/// `team_active` those of the requesting team (so `team_active <= total_active`;
/// a larger `team_active` is treated as "no other team is active").
pub fn decide(
    strategy: Strategy,
    limits: &AdmissionLimits,
    total_active: u32,
    team_active: u32,
) -> Decision {
    match strategy {
        Strategy::Strict | Strategy::FairQueue => strict(limits, total_active, team_active),
        Strategy::Weighted => weighted(limits, total_active, team_active),
        Strategy::Hybrid => {
            let load = f64::from(total_active) / f64::from(limits.max_active);
            if load >= limits.hybrid_threshold {
                strict(limits, total_active, team_active)
            } else {
                weighted(limits, total_active, team_active)
            }
        }
    }
}

fn strict(limits: &AdmissionLimits, total_active: u32, team_active: u32) -> Decision {
    if total_active >= limits.max_active {
        Decision::Reject(RejectReason::TotalLimit)
    } else if team_active >= limits.per_team_limit {
        Decision::Reject(RejectReason::TeamLimit)
    } else {
        Decision::Admit
    }
}

fn weighted(limits: &AdmissionLimits, total_active: u32, team_active: u32) -> Decision {
    if total_active >= limits.max_active {
        return Decision::Reject(RejectReason::TotalLimit);
    }
    let others = total_active.saturating_sub(team_active);
    // `others > 0.8 * per_team_limit`, in exact integer arithmetic.
    let others_busy = u64::from(others) * 5 > u64::from(limits.per_team_limit) * 4;
    if team_active >= limits.per_team_limit && others_busy {
        Decision::Reject(RejectReason::TeamLimit)
    } else {
        Decision::Admit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTAL: Decision = Decision::Reject(RejectReason::TotalLimit);
    const TEAM: Decision = Decision::Reject(RejectReason::TeamLimit);

    /// max_active 100, per_team_limit 60, hybrid_threshold 0.8.
    fn limits() -> AdmissionLimits {
        AdmissionLimits::default()
    }

    #[test]
    fn strict_total_boundary() {
        let l = limits();
        assert_eq!(decide(Strategy::Strict, &l, 99, 0), Decision::Admit);
        assert_eq!(decide(Strategy::Strict, &l, 100, 0), TOTAL);
        assert_eq!(decide(Strategy::Strict, &l, 101, 0), TOTAL);
    }

    #[test]
    fn strict_team_boundary() {
        let l = limits();
        assert_eq!(decide(Strategy::Strict, &l, 59, 59), Decision::Admit);
        assert_eq!(decide(Strategy::Strict, &l, 60, 60), TEAM);
        // The team limit holds even when every other team is idle.
        assert_eq!(decide(Strategy::Strict, &l, 61, 61), TEAM);
        // The total limit is reported first when both are hit.
        assert_eq!(decide(Strategy::Strict, &l, 100, 60), TOTAL);
    }

    #[test]
    fn fair_queue_immediate_test_is_strict() {
        let l = limits();
        for (total, team) in [(99, 59), (100, 0), (60, 60), (59, 59), (99, 0)] {
            assert_eq!(
                decide(Strategy::FairQueue, &l, total, team),
                decide(Strategy::Strict, &l, total, team)
            );
        }
    }

    #[test]
    fn weighted_total_boundary() {
        let l = limits();
        assert_eq!(decide(Strategy::Weighted, &l, 99, 99), Decision::Admit);
        assert_eq!(decide(Strategy::Weighted, &l, 100, 100), TOTAL);
        assert_eq!(decide(Strategy::Weighted, &l, 100, 0), TOTAL);
    }

    #[test]
    fn weighted_borrows_while_others_at_most_80_percent() {
        let l = limits(); // 0.8 * 60 = 48
                          // Team at its limit, others exactly 48: may borrow.
        assert_eq!(decide(Strategy::Weighted, &l, 60 + 48, 60), TOTAL);
        let l = AdmissionLimits {
            max_active: 1000,
            ..limits()
        };
        assert_eq!(decide(Strategy::Weighted, &l, 60 + 48, 60), Decision::Admit);
        // Others just above 48: rejected.
        assert_eq!(decide(Strategy::Weighted, &l, 60 + 49, 60), TEAM);
        // Team over its limit, others idle: may keep borrowing.
        assert_eq!(decide(Strategy::Weighted, &l, 200, 200), Decision::Admit);
        // Team just under its limit: admitted whatever the others do.
        assert_eq!(
            decide(Strategy::Weighted, &l, 59 + 500, 59),
            Decision::Admit
        );
    }

    #[test]
    fn weighted_fraction_is_exact_for_non_multiples_of_five() {
        // 0.8 * 7 = 5.6: others 5 may borrow, others 6 may not.
        let l = AdmissionLimits {
            max_active: 1000,
            per_team_limit: 7,
            ..limits()
        };
        assert_eq!(decide(Strategy::Weighted, &l, 7 + 5, 7), Decision::Admit);
        assert_eq!(decide(Strategy::Weighted, &l, 7 + 6, 7), TEAM);
    }

    #[test]
    fn hybrid_is_strict_exactly_at_threshold() {
        let l = limits(); // threshold 0.8 of 100 = 80
                          // Team at its limit, others 20 (<= 48, weighted would admit).
        assert_eq!(decide(Strategy::Weighted, &l, 80, 60), Decision::Admit);
        assert_eq!(decide(Strategy::Hybrid, &l, 80, 60), TEAM);
        // Just under the threshold: weighted applies.
        assert_eq!(decide(Strategy::Hybrid, &l, 79, 60), Decision::Admit);
        // Under the threshold weighted still rejects when others are busy.
        let l = AdmissionLimits {
            max_active: 200,
            ..limits()
        }; // threshold at 160
        assert_eq!(decide(Strategy::Hybrid, &l, 60 + 49, 60), TEAM);
        assert_eq!(decide(Strategy::Hybrid, &l, 159, 150), Decision::Admit);
        assert_eq!(decide(Strategy::Hybrid, &l, 160, 150), TEAM);
        assert_eq!(decide(Strategy::Hybrid, &l, 200, 0), TOTAL);
    }

    #[test]
    fn hybrid_threshold_one_means_weighted_below_total() {
        let l = AdmissionLimits {
            hybrid_threshold: 1.0,
            ..limits()
        };
        assert_eq!(decide(Strategy::Hybrid, &l, 99, 99), Decision::Admit);
        assert_eq!(decide(Strategy::Hybrid, &l, 100, 0), TOTAL);
    }
}
