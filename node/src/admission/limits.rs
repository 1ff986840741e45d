//! The limits an [`Admission`](super::Admission) enforces.

use std::collections::BTreeMap;
use std::time::Duration;

/// The limits in force (already validated by the config loader).
#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionLimits {
    /// Most queries running at once on the node, all teams (default 100).
    pub max_active: u32,
    /// Most queries running at once for one team (default 60).
    pub per_team_limit: u32,
    /// Load ratio `total_active / max_active` from which `hybrid` applies
    /// `strict` (default 0.8, in `(0, 1]`).
    pub hybrid_threshold: f64,
    /// Round-robin weight of each team under `fair_queue`; a missing team
    /// (or a weight of 0) counts as weight 1.
    pub team_weights: BTreeMap<String, u32>,
    /// `fair_queue`: most waiting queries per team (default 64).
    pub queue_capacity: u32,
    /// `fair_queue`: longest wait when the caller gives no deadline (default 2 s).
    pub queue_timeout: Duration,
}

impl AdmissionLimits {
    /// The round-robin weight of `team`: its configured weight, at least 1.
    pub fn weight(&self, team: &str) -> u32 {
        self.team_weights.get(team).copied().unwrap_or(1).max(1)
    }
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_active: 100,
            per_team_limit: 60,
            hybrid_threshold: 0.8,
            team_weights: BTreeMap::new(),
            queue_capacity: 64,
            queue_timeout: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let l = AdmissionLimits::default();
        assert_eq!(l.max_active, 100);
        assert_eq!(l.per_team_limit, 60);
        assert_eq!(l.hybrid_threshold, 0.8);
        assert!(l.team_weights.is_empty());
        assert_eq!(l.queue_capacity, 64);
        assert_eq!(l.queue_timeout, Duration::from_secs(2));
    }

    #[test]
    fn weights_default_to_one() {
        let mut l = AdmissionLimits::default();
        l.team_weights.insert("a".into(), 3);
        l.team_weights.insert("zero".into(), 0);
        assert_eq!(l.weight("a"), 3);
        assert_eq!(l.weight("missing"), 1);
        assert_eq!(l.weight("zero"), 1);
    }
}
