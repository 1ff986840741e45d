//! The weighted query mix and the teams' shares: which query a request carries and for which
//! team, with every (query, team) params string rendered once before the step starts.

use crate::client::QuerySpec;
use crate::workload::{MixEntry, Tenant};
use overlay::proto::RecordFormat;

/// What a request does.
#[derive(Clone, Debug)]
pub enum Call {
    /// `Query` then `GetChunk` to the last chunk.
    Query(QuerySpec),
    /// One `GetMetrics` (measures the harness and the transport, not the query path).
    Metrics,
}

/// The mix, ready to draw from.
#[derive(Debug)]
pub struct PreparedMix {
    /// Query names, by index.
    pub queries: Vec<String>,
    /// Team names, by index.
    pub teams: Vec<String>,
    query_cumulative: Vec<f64>,
    team_cumulative: Vec<f64>,
    /// calls[query][team]
    calls: Vec<Vec<Call>>,
}

/// Index of the bucket that `u` in [0, 1) falls into, over cumulative weights ending at 1.
pub fn pick(cumulative: &[f64], u: f64) -> usize {
    cumulative
        .iter()
        .position(|&edge| u < edge)
        .unwrap_or(cumulative.len().saturating_sub(1))
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let weights: Vec<f64> = weights.collect();
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect()
}

impl PreparedMix {
    /// Renders every (query, team) combination.
    pub fn new(mix: &[MixEntry], tenants: &[Tenant]) -> Self {
        let calls = mix
            .iter()
            .map(|entry| {
                tenants
                    .iter()
                    .map(|tenant| {
                        if entry.query_type == "metrics" {
                            return Call::Metrics;
                        }
                        let mut params = entry.params.clone();
                        params.insert("team".to_string(), tenant.team.clone().into());
                        Call::Query(QuerySpec {
                            query_type: entry.query_type.clone(),
                            params: serde_json::Value::Object(params).to_string(),
                            format: RecordFormat::Typed,
                            chunk_size: 0,
                            client_id: format!("harness-{}", tenant.team),
                        })
                    })
                    .collect()
            })
            .collect();
        PreparedMix {
            queries: mix.iter().map(|m| m.name.clone()).collect(),
            teams: tenants.iter().map(|t| t.team.clone()).collect(),
            query_cumulative: cumulative(mix.iter().map(|m| m.weight)),
            team_cumulative: cumulative(tenants.iter().map(|t| t.share)),
            calls,
        }
    }

    /// The query for a uniform draw in [0, 1).
    pub fn query_for(&self, u: f64) -> usize {
        pick(&self.query_cumulative, u)
    }

    /// The team for a uniform draw in [0, 1).
    pub fn team_for(&self, u: f64) -> usize {
        pick(&self.team_cumulative, u)
    }

    /// The call for a query and team.
    pub fn call(&self, query: usize, team: usize) -> &Call {
        &self.calls[query][team]
    }

    /// Closed loop: the team each of `workers` lanes works for, shares apportioned by largest
    /// remainder with at least one lane per team; `None` when there are fewer lanes than teams
    /// (then every request draws its team).
    pub fn lane_teams(&self, workers: usize) -> Option<Vec<usize>> {
        let teams = self.teams.len();
        if workers < teams {
            return None;
        }
        let shares: Vec<f64> = self
            .team_cumulative
            .iter()
            .scan(0.0, |prev, &edge| {
                let share = edge - *prev;
                *prev = edge;
                Some(share)
            })
            .collect();
        let spare = workers - teams;
        let exact: Vec<f64> = shares.iter().map(|s| s * spare as f64).collect();
        let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize + 1).collect();
        let mut order: Vec<usize> = (0..teams).collect();
        order.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor()))
        });
        let mut left = workers - counts.iter().sum::<usize>();
        for &team in order.iter().cycle() {
            if left == 0 {
                break;
            }
            counts[team] += 1;
            left -= 1;
        }
        Some(
            counts
                .iter()
                .enumerate()
                .flat_map(|(team, &n)| std::iter::repeat_n(team, n))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants(shares: &[f64]) -> Vec<Tenant> {
        shares
            .iter()
            .enumerate()
            .map(|(i, &share)| Tenant {
                team: format!("t{i}"),
                share,
                weight: 1,
                rate: None,
            })
            .collect()
    }

    fn mix() -> Vec<MixEntry> {
        vec![
            MixEntry {
                name: "a".into(),
                query_type: "filter".into(),
                weight: 3.0,
                params: serde_json::Map::new(),
            },
            MixEntry {
                name: "b".into(),
                query_type: "metrics".into(),
                weight: 1.0,
                params: serde_json::Map::new(),
            },
        ]
    }

    #[test]
    fn draws_follow_the_weights() {
        let m = PreparedMix::new(&mix(), &tenants(&[0.75, 0.25]));
        assert_eq!(m.query_for(0.0), 0);
        assert_eq!(m.query_for(0.74), 0);
        assert_eq!(m.query_for(0.75), 1);
        assert_eq!(m.team_for(0.8), 1);
        match m.call(0, 1) {
            Call::Query(spec) => assert_eq!(spec.params, r#"{"team":"t1"}"#),
            Call::Metrics => panic!("expected a query"),
        }
        assert!(matches!(m.call(1, 0), Call::Metrics));
    }

    #[test]
    fn lanes_are_apportioned_with_one_per_team() {
        let m = PreparedMix::new(&mix(), &tenants(&[0.75, 0.25]));
        assert_eq!(m.lane_teams(1), None);
        assert_eq!(m.lane_teams(2), Some(vec![0, 1]));
        let lanes = m.lane_teams(100).unwrap();
        assert_eq!(lanes.iter().filter(|&&t| t == 0).count(), 75);
        assert_eq!(lanes.len(), 100);
        let lanes = m.lane_teams(10).unwrap();
        assert_eq!(lanes.iter().filter(|&&t| t == 1).count(), 3);
    }
}
