//! Checked, not copied: what each node reports through `GetMetrics` (strategy and admission
//! limits) against what the workload asked for, before a strategy's steps are measured.

use overlay::proto::MetricsResponse;

use crate::workload::Workload;

/// Every difference between the workload's settings for `strategy` and what the nodes report,
/// as sentences naming the node (empty when they agree). `nodes` are (id, metrics) of the
/// nodes that answered.
pub fn mismatches(
    w: &Workload,
    strategy: &str,
    nodes: &[(String, MetricsResponse)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, m) in nodes {
        if m.fairness_strategy != strategy {
            out.push(format!(
                "node {id} reports strategy '{}', the run is measuring '{strategy}'",
                m.fairness_strategy
            ));
        }
        if let Some(limit) = w.max_active {
            if i64::from(m.max_capacity) != i64::from(limit) {
                out.push(format!(
                    "node {id} reports max_active {}, the workload sets cluster.max_active = {limit}",
                    m.max_capacity
                ));
            }
        }
        if let Some(limit) = w.per_team_limit {
            if i64::from(m.per_team_limit) != i64::from(limit) {
                out.push(format!(
                    "node {id} reports per_team_limit {}, the workload sets cluster.per_team_limit = {limit}",
                    m.per_team_limit
                ));
            }
        }
        if let Some(t) = w.hybrid_threshold {
            if (m.hybrid_threshold - t).abs() > 1e-9 {
                out.push(format!(
                    "node {id} reports hybrid_threshold {}, the workload sets cluster.hybrid_threshold = {t}",
                    m.hybrid_threshold
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn workload() -> Workload {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join("workloads/fairness_sweep.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut spec = crate::workload::validate::parse(&path, &text).unwrap();
        spec.cluster.config = spec.cluster.config.map(|c| root.join(c));
        crate::workload::validate::validate(&path, spec).unwrap()
    }

    fn node(strategy: &str, max: i32, per_team: i32) -> MetricsResponse {
        MetricsResponse {
            fairness_strategy: strategy.to_string(),
            max_capacity: max,
            per_team_limit: per_team,
            hybrid_threshold: 0.75,
            ..Default::default()
        }
    }

    #[test]
    fn nodes_that_run_something_else_are_named() {
        let w = workload();
        let agree = [("A".to_string(), node("strict", 24, 16))];
        assert!(mismatches(&w, "strict", &agree).is_empty());
        let differ = [
            ("A".to_string(), node("weighted", 24, 16)),
            ("B".to_string(), node("strict", 100, 16)),
        ];
        let found = mismatches(&w, "strict", &differ);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("node A reports strategy 'weighted'"));
        assert!(found[1].contains("node B reports max_active 100") && found[1].contains("= 24"));
    }
}
