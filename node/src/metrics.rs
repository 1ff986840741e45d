//! The `GetMetrics` answer, every field filled from live state.

use overlay::proto::{HookStats, MetricsResponse, SkippedRows, StrategyRejections, TeamAdmission};

use crate::admission::TeamCounters;
use crate::health::state::NodeState;
use crate::hooks::HookCounts;
use crate::membership::PROTOCOL;

use crate::node::Node;

/// The node's metrics, every original field filled from live state.
pub fn snapshot(node: &Node) -> MetricsResponse {
    let admission = node.admission.snapshot();
    let limits = node.admission.limits();
    let (stored_results, stored_bytes) = node.results.usage();
    let (state, state_since_s, state_times, state_transitions) = node.state.metrics();
    let membership = node
        .membership
        .to_proto(PROTOCOL, node.peer_clients.open_channels());
    MetricsResponse {
        process_id: node.me.id.0.clone(),
        role: node.me.role.name().to_string(),
        team: node.me.team.clone(),
        active_requests: saturate(admission.total_active),
        max_capacity: saturate(admission.max_active),
        is_healthy: state != NodeState::Failing.name(),
        queue_size: stored_results as i32,
        avg_processing_time_ms: node.times.average_ms() as f32,
        data_files_loaded: node.load_report.files_loaded as i32,
        fairness_strategy: admission.strategy.name().to_string(),
        recent_logs: node.logs.recent(),
        rows_loaded: node.load_report.rows_loaded as i64,
        rows_skipped: node.load_report.rows_skipped as i64,
        queries_served: node.times.served() as i64,
        teams: admission
            .teams
            .iter()
            .map(|t| team_admission(t, limits.weight(&t.team)))
            .collect(),
        stored_result_bytes: stored_bytes as i64,
        uptime_s: node.started.elapsed().as_secs_f64(),
        rejected_by_strategy: admission
            .rejected_by_strategy
            .iter()
            .map(|r| StrategyRejections {
                strategy: r.strategy.name().to_string(),
                rejected: wide(r.rejected),
            })
            .collect(),
        peak_active_requests: saturate(admission.peak_total_active),
        per_team_limit: saturate(limits.per_team_limit),
        hybrid_threshold: limits.hybrid_threshold,
        queue_capacity: saturate(limits.queue_capacity),
        queue_timeout_ms: limits.queue_timeout.as_millis().min(i64::MAX as u128) as i64,
        state,
        state_since_s,
        state_times,
        state_transitions,
        neighbors: node.peer_health.snapshot(),
        hooks: Some(hook_stats(&node.hooks.counts())),
        routing: Some(
            node.routing
                .to_proto(node.tail.ejections(), node.tail.ejected_now()),
        ),
        active_faults: node.faults.list(),
        control_enabled: node.control.enabled,
        days_assigned: i32::try_from(node.holdings.assigned.len()).unwrap_or(i32::MAX),
        days_held: node.holdings.held.iter().map(ToString::to_string).collect(),
        days_lacking: node
            .holdings
            .lacking
            .iter()
            .map(ToString::to_string)
            .collect(),
        data_fingerprint: node.holdings.fingerprint.clone(),
        skipped_rows: node
            .load_report
            .skipped
            .iter()
            .map(|rows| SkippedRows {
                reason: rows.reason.name().to_string(),
                count: wide(rows.count),
                first: rows.first.clone(),
            })
            .collect(),
        membership: Some(membership),
    }
}

/// Hook counters on the wire.
fn hook_stats(counts: &HookCounts) -> HookStats {
    HookStats {
        triggered: wide(counts.triggered),
        succeeded: wide(counts.succeeded),
        failed: wide(counts.failed),
        dropped: wide(counts.dropped),
        timed_out: wide(counts.timed_out),
        registered: counts.registered as u32,
    }
}

/// One team's admission counters on the wire.
fn team_admission(t: &TeamCounters, weight: u32) -> TeamAdmission {
    TeamAdmission {
        team: t.team.clone(),
        active: saturate(t.active),
        admitted: wide(t.admitted),
        rejected: wide(t.rejected),
        queued: saturate(t.queued),
        avg_wait_ms: t.avg_wait_ms,
        completed: wide(t.completed),
        peak_active: saturate(t.peak_active),
        rejected_team_limit: wide(t.rejected_team_limit),
        rejected_total_limit: wide(t.rejected_total_limit),
        rejected_queue_full: wide(t.rejected_queue_full),
        rejected_queue_timeout: wide(t.rejected_queue_timeout),
        max_wait_ms: t.max_wait_ms,
        succeeded: wide(t.succeeded),
        weight,
    }
}

/// A `u32` count as the proto's `int32`, saturating.
fn saturate(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A `u64` counter as the proto's `int64`, saturating.
fn wide(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_counters_map_to_the_wire() {
        let counters = TeamCounters {
            team: "pink".to_string(),
            active: 2,
            peak_active: 5,
            admitted: 40,
            rejected: 9,
            rejected_team_limit: 4,
            rejected_total_limit: 3,
            rejected_queue_full: 1,
            rejected_queue_timeout: 1,
            queued: 3,
            avg_wait_ms: 1.5,
            max_wait_ms: 12.0,
            completed: 38,
            succeeded: 30,
        };
        let wire = team_admission(&counters, 2);
        assert_eq!(
            (
                wire.team.as_str(),
                wire.active,
                wire.peak_active,
                wire.weight
            ),
            ("pink", 2, 5, 2)
        );
        assert_eq!(
            (
                wire.admitted,
                wire.rejected,
                wire.rejected_team_limit,
                wire.rejected_total_limit,
                wire.rejected_queue_full,
                wire.rejected_queue_timeout
            ),
            (40, 9, 4, 3, 1, 1)
        );
        assert_eq!((wire.completed, wire.succeeded, wire.queued), (38, 30, 3));
        assert_eq!((wire.avg_wait_ms, wire.max_wait_ms), (1.5, 12.0));
        assert_eq!(wide(u64::MAX), i64::MAX);
        assert_eq!(saturate(u32::MAX), i32::MAX);
    }
}
