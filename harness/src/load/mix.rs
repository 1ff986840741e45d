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
    /// Renders every (query, team) combination. With `sent_as`, every team's requests name
    /// that team to the node (the one-hop baseline's single node knows only its own team) and
    /// are still counted under their own.
    pub fn new(mix: &[MixEntry], tenants: &[Tenant], sent_as: Option<&str>) -> Self {
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
                        let team = sent_as.unwrap_or(&tenant.team);
                        params.insert("team".to_string(), team.into());
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

    /// Each team's share of the requests, summing to 1.
    pub fn shares(&self) -> Vec<f64> {
        self.team_cumulative
            .iter()
            .scan(0.0, |prev, &edge| {
                let share = edge - *prev;
                *prev = edge;
                Some(share)
            })
            .collect()
    }

    /// The team each of `workers` lanes works for, shares apportioned by largest remainder
    /// with at least one lane per team; `None` when there are fewer lanes than teams (then
    /// every request draws its team).
    pub fn lane_teams(&self, workers: usize) -> Option<Vec<usize>> {
        if workers < self.teams.len() {
            return None;
        }
        let counts = apportion(workers, &self.shares(), 1);
        Some(
            counts
                .iter()
                .enumerate()
                .flat_map(|(team, &n)| std::iter::repeat_n(team, n))
                .collect(),
        )
    }
}

/// Splits `total` into whole parts by `shares` (summing to 1), each part at least `floor`
/// (`total` must be at least `floor` × parts), the rest by largest remainder (Hamilton's
/// method).
pub fn apportion(total: usize, shares: &[f64], floor: usize) -> Vec<usize> {
    let spare = total.saturating_sub(floor * shares.len());
    let exact: Vec<f64> = shares.iter().map(|s| s * spare as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize + floor).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = total.saturating_sub(counts.iter().sum::<usize>());
    for &part in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[part] += 1;
        left -= 1;
    }
    counts
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
        let m = PreparedMix::new(&mix(), &tenants(&[0.75, 0.25]), None);
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
    fn the_baseline_sends_every_team_as_its_own_but_counts_each_apart() {
        let m = PreparedMix::new(&mix(), &tenants(&[0.75, 0.25]), Some("t0"));
        match m.call(0, 1) {
            Call::Query(spec) => {
                assert_eq!(spec.params, r#"{"team":"t0"}"#);
                assert_eq!(spec.client_id, "harness-t1");
            }
            Call::Metrics => panic!("expected a query"),
        }
        assert_eq!(m.teams, ["t0", "t1"]);
    }

    #[test]
    fn apportioning_keeps_the_floor_and_the_total() {
        assert_eq!(apportion(10, &[0.9, 0.1], 1), vec![8, 2]);
        assert_eq!(apportion(7, &[0.5, 0.5], 0), vec![4, 3]);
        assert_eq!(apportion(0, &[0.5, 0.5], 0), vec![0, 0]);
        assert_eq!(
            apportion(48, &[800.0 / 950.0, 150.0 / 950.0], 1),
            vec![40, 8]
        );
    }

    #[test]
    fn lanes_are_apportioned_with_one_per_team() {
        let m = PreparedMix::new(&mix(), &tenants(&[0.75, 0.25]), None);
        assert_eq!(m.lane_teams(1), None);
        assert_eq!(m.lane_teams(2), Some(vec![0, 1]));
        let lanes = m.lane_teams(100).unwrap();
        assert_eq!(lanes.iter().filter(|&&t| t == 0).count(), 75);
        assert_eq!(lanes.len(), 100);
        let lanes = m.lane_teams(10).unwrap();
        assert_eq!(lanes.iter().filter(|&&t| t == 1).count(), 3);
    }
}
