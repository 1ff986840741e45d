//! `harness metrics --json`: every field group of `GetMetrics` as a JSON object.

use overlay::proto::MetricsResponse;

use crate::fairness::{goodput_fairness, team_goodput};

/// The metrics as a JSON object (field names as in the proto), plus per-team goodput since
/// start and Jain's index of it under `fairness`.
pub fn metrics_json(m: &MetricsResponse) -> serde_json::Value {
    let goodput = team_goodput(None, m);
    let mut json = serde_json::json!({
        "process_id": m.process_id, "role": m.role, "team": m.team,
        "active_requests": m.active_requests, "max_capacity": m.max_capacity, "is_healthy": m.is_healthy,
        "queue_size": m.queue_size, "avg_processing_time_ms": m.avg_processing_time_ms,
        "data_files_loaded": m.data_files_loaded, "fairness_strategy": m.fairness_strategy,
        "recent_logs": m.recent_logs, "rows_loaded": m.rows_loaded, "rows_skipped": m.rows_skipped,
        "queries_served": m.queries_served, "stored_result_bytes": m.stored_result_bytes, "uptime_s": m.uptime_s,
        "peak_active_requests": m.peak_active_requests, "per_team_limit": m.per_team_limit,
        "hybrid_threshold": m.hybrid_threshold, "queue_capacity": m.queue_capacity,
        "queue_timeout_ms": m.queue_timeout_ms,
        "rejected_by_strategy": m.rejected_by_strategy.iter().map(|r| serde_json::json!({
            "strategy": r.strategy, "rejected": r.rejected,
        })).collect::<Vec<_>>(),
        "teams": m.teams.iter().zip(&goodput).map(|(t, g)| serde_json::json!({
            "team": t.team, "weight": t.weight, "active": t.active, "peak_active": t.peak_active,
            "admitted": t.admitted, "rejected": t.rejected,
            "rejected_team_limit": t.rejected_team_limit, "rejected_total_limit": t.rejected_total_limit,
            "rejected_queue_full": t.rejected_queue_full, "rejected_queue_timeout": t.rejected_queue_timeout,
            "queued": t.queued, "avg_wait_ms": t.avg_wait_ms, "max_wait_ms": t.max_wait_ms,
            "completed": t.completed, "succeeded": t.succeeded, "goodput_per_s": g.goodput_per_s,
        })).collect::<Vec<_>>(),
        "routing": m.routing.as_ref().map(|r| serde_json::json!({
            "peer_calls": r.peer_calls, "peer_call_failures": r.peer_call_failures,
            "retries": r.retries, "failovers": r.failovers, "unserved": r.unserved,
            "coordinated": r.coordinated, "hedges_sent": r.hedges_sent, "hedges_free": r.hedges_free, "hedges_won": r.hedges_won,
            "calls_cancelled": r.calls_cancelled, "calls_abandoned": r.calls_abandoned,
            "scans_stopped": r.scans_stopped, "ejections": r.ejections, "ejected_now": r.ejected_now,
        })),
        "fairness": {
            "jain_index": goodput_fairness(&goodput, false),
            "weighted_jain_index": goodput_fairness(&goodput, true),
        },
    });
    json["days_assigned"] = m.days_assigned.into();
    json["days_held"] = m.days_held.clone().into();
    json["days_lacking"] = m.days_lacking.clone().into();
    json["data_fingerprint"] = m.data_fingerprint.clone().into();
    health_json(m, &mut json);
    json
}

/// State, peers and breakers, hooks, faults, control, membership and skipped rows.
fn health_json(m: &MetricsResponse, json: &mut serde_json::Value) {
    json["state"] = m.state.clone().into();
    json["state_since_s"] = m.state_since_s.into();
    json["state_times"] = m.state_times.iter().map(|s| serde_json::json!({
        "state": s.state, "entered": s.entered, "time_s": s.time_s, "probability": s.probability,
    })).collect();
    json["state_transitions"] = m.state_transitions.iter().map(|t| serde_json::json!({
        "from": t.from, "to": t.to, "reason": t.reason, "at_s": t.at_s, "unix_ms": t.unix_ms,
    })).collect();
    json["neighbors"] = m.neighbors.iter().map(|n| serde_json::json!({
        "id": n.id, "status": n.status, "breaker": n.breaker,
        "consecutive_failures": n.consecutive_failures, "last_rtt_ms": n.last_rtt_ms,
        "failures_detected": n.failures_detected, "recoveries_detected": n.recoveries_detected,
        "last_change_unix_ms": n.last_change_unix_ms,
    })).collect();
    json["hooks"] = m.hooks.as_ref().map_or(serde_json::Value::Null, |h| {
        serde_json::json!({
            "triggered": h.triggered, "succeeded": h.succeeded, "failed": h.failed,
            "dropped": h.dropped, "timed_out": h.timed_out, "registered": h.registered,
        })
    });
    json["active_faults"] = m.active_faults.iter().map(|f| serde_json::json!({
        "id": f.id, "kind": f.kind, "peer": f.peer, "delay_ms": f.delay_ms,
        "probability": f.probability, "duration_ms": f.duration_ms, "remaining_s": f.remaining_s,
    })).collect();
    json["control_enabled"] = m.control_enabled.into();
    json["membership"] = m.membership.as_ref().map_or(serde_json::Value::Null, |s| {
        serde_json::json!({
            "protocol": s.protocol, "messages_sent": s.messages_sent,
            "messages_received": s.messages_received, "bytes_sent": s.bytes_sent,
            "bytes_received": s.bytes_received, "datagrams_dropped": s.datagrams_dropped,
            "drops": s.drops.iter().map(|d| serde_json::json!({
                "reason": d.reason, "count": d.count,
            })).collect::<Vec<_>>(),
            "members_alive": s.members_alive, "members_suspect": s.members_suspect,
            "members_down": s.members_down, "refutations": s.refutations,
            "open_channels": s.open_channels,
        })
    });
    json["skipped_rows"] = m
        .skipped_rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "reason": r.reason, "count": r.count, "first": r.first,
            })
        })
        .collect();
}
