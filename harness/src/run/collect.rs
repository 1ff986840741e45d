//! After a strategy's steps: every node's metrics turned into the report's snapshots, state
//! changes and logs (proto → results model).

use std::collections::BTreeMap;
use std::path::Path;

use overlay::config::{ClusterConfig, NodeId};
use overlay::date::DateKey;
use overlay::proto::{MetricsResponse, TeamAdmission};

use crate::client::fetch;
use crate::cluster::launcher::{log_tail, LocalCluster};
use crate::results::{ProcessSnapshot, StateChange, TeamAdmissionSnapshot};

/// What the nodes reported at the end of a strategy's run.
pub(super) struct Collected {
    /// Each node's figures.
    pub processes: Vec<ProcessSnapshot>,
    /// Each node's recent log lines.
    pub logs: BTreeMap<String, Vec<String>>,
    /// Every node's state changes since the cluster was up, oldest first.
    pub state_changes: Vec<StateChange>,
    /// The same, one line each.
    pub state_transitions: Vec<String>,
}

/// Asks every node once for its metrics and turns them into the results model; `up_ms` is
/// when the cluster was up (state changes are timed from it). With `data_root` (the nodes'
/// data is on this machine), each node's data fingerprint is recomputed from the files.
pub(super) async fn collect(
    config: &ClusterConfig,
    cluster: Option<&LocalCluster>,
    up_ms: u64,
    data_root: Option<&Path>,
) -> Collected {
    let metrics = final_metrics(config).await;
    let state_changes = state_changes(config, &metrics, up_ms);
    let state_transitions = state_changes
        .iter()
        .map(|c| {
            format!(
                "{:>8.2} s  {}: {} -> {} ({})",
                c.at_s, c.node, c.from, c.to, c.reason
            )
        })
        .collect();
    Collected {
        processes: snapshot(config, &metrics, data_root),
        logs: collect_logs(config, &metrics, cluster),
        state_changes,
        state_transitions,
    }
}

/// Every node's metrics at the end of a strategy's run, each asked once; a node that does
/// not answer is missing.
async fn final_metrics(config: &ClusterConfig) -> BTreeMap<NodeId, MetricsResponse> {
    let mut metrics = BTreeMap::new();
    for p in config.processes.values() {
        if let Ok(m) = fetch(&p.address()).await {
            metrics.insert(p.id.clone(), m);
        }
    }
    metrics
}

/// Every node's state transitions since `since_ms` (as the nodes still remember them), oldest
/// first, timed from `since_ms`.
fn state_changes(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
    since_ms: u64,
) -> Vec<StateChange> {
    let mut changes = Vec::new();
    for p in config.processes.values() {
        if let Some(m) = metrics.get(&p.id) {
            changes.extend(
                m.state_transitions
                    .iter()
                    .filter(|t| t.unix_ms >= since_ms as i64)
                    .map(|t| StateChange {
                        at_s: (t.unix_ms as f64 - since_ms as f64) / 1000.0,
                        node: p.id.0.clone(),
                        from: t.from.clone(),
                        to: t.to.clone(),
                        reason: t.reason.clone(),
                    }),
            );
        }
    }
    changes.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    changes
}

/// One team's admission figures as a node reports them.
pub(super) fn admission_of(t: &TeamAdmission) -> TeamAdmissionSnapshot {
    TeamAdmissionSnapshot {
        team: t.team.clone(),
        active: t.active,
        admitted: t.admitted,
        rejected: t.rejected,
        queued: t.queued,
        avg_wait_ms: t.avg_wait_ms,
        completed: t.completed,
    }
}

/// Each node's figures at the end of the run (`unreachable` when it did not answer).
fn snapshot(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
    data_root: Option<&Path>,
) -> Vec<ProcessSnapshot> {
    config
        .processes
        .values()
        .map(|p| {
            let address = p.address();
            match metrics.get(&p.id) {
                Some(m) => ProcessSnapshot {
                    id: p.id.0.clone(),
                    address,
                    role: m.role.clone(),
                    team: m.team.clone(),
                    status: if m.is_healthy { "healthy" } else { "unhealthy" }.to_string(),
                    active: m.active_requests,
                    queue: m.queue_size,
                    avg_ms: f64::from(m.avg_processing_time_ms),
                    files: m.data_files_loaded,
                    rows: m.rows_loaded,
                    queries_served: m.queries_served,
                    strategy: m.fairness_strategy.clone(),
                    teams: m.teams.iter().map(admission_of).collect(),
                    days_assigned: m.days_assigned,
                    days_held: m.days_held.clone(),
                    data_fingerprint: m.data_fingerprint.clone(),
                    fingerprint_matches: data_root.map(|root| {
                        recomputed_fingerprint(root, &m.days_held) == m.data_fingerprint
                    }),
                },
                None => ProcessSnapshot {
                    id: p.id.0.clone(),
                    address,
                    role: p.role.name().to_string(),
                    team: p.team.clone(),
                    status: "unreachable".to_string(),
                    ..Default::default()
                },
            }
        })
        .collect()
}

/// Each node's recent log lines: as it reports them, or the tail of its log file when it
/// reports none (a local node that is down).
fn collect_logs(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
    cluster: Option<&LocalCluster>,
) -> BTreeMap<String, Vec<String>> {
    config
        .processes
        .values()
        .map(|p| {
            let recent = match metrics.get(&p.id) {
                Some(m) if !m.recent_logs.is_empty() => m.recent_logs.clone(),
                _ => cluster
                    .and_then(|c| c.nodes.get(&p.id))
                    .map(|n| log_tail(&n.log_path).lines().map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            (p.id.0.clone(), recent)
        })
        .collect()
}

/// The fingerprint of the files of `days` (`YYYYMMDD`) under `root`, as a node computes it.
pub fn recomputed_fingerprint(root: &Path, days: &[String]) -> String {
    let days: Vec<DateKey> = days.iter().filter_map(|d| d.parse().ok()).collect();
    overlay::dataset::fingerprint(root, &days)
}
