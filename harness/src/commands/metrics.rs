//! `harness metrics`: one node's metrics, or a table of every node of a config, followed by
//! the per-team admission counters (with goodput since start and Jain's fairness index).

use overlay::config::ClusterConfig;
use overlay::proto::MetricsResponse;

use crate::cli::MetricsArgs;
use crate::client::fetch;
use crate::fairness::{goodput_fairness, team_goodput};

/// Runs the command.
pub async fn run(args: MetricsArgs) -> anyhow::Result<()> {
    let targets: Vec<(String, String)> = match &args.node {
        Some(node) => vec![(node.clone(), node.clone())],
        None => ClusterConfig::load(&args.config)?
            .processes
            .values()
            .map(|p| (p.id.0.clone(), p.address()))
            .collect(),
    };
    let mut fetched = Vec::new();
    let mut unreachable = Vec::new();
    let total = targets.len();
    if !args.json {
        println!("{}", header_line());
    }
    for (name, address) in targets {
        match fetch(&address).await {
            Ok(m) if args.json => println!("{}", metrics_json(&m)),
            Ok(m) => {
                println!("{}", node_line(&m));
                fetched.push(m);
            }
            Err(err) if args.json => {
                println!(
                    "{}",
                    serde_json::json!({ "node": name, "address": address, "error": err.to_string() })
                );
                unreachable.push(name);
            }
            Err(err) => {
                println!("{name:<4} unreachable at {address}: {err}");
                unreachable.push(name);
            }
        }
    }
    if !fetched.is_empty() {
        print!("{}", lacking_lines(&fetched));
        println!();
        print!("{}", team_table(&fetched));
        println!();
        print!("{}", tail_table(&fetched));
    }
    if !unreachable.is_empty() {
        anyhow::bail!(
            "{} of {} nodes unreachable: {}",
            unreachable.len(),
            total,
            unreachable.join(", ")
        );
    }
    Ok(())
}

/// The node table's header.
fn header_line() -> String {
    format!(
        "{:<4} {:<12} {:<6} {:<9} {:>6} {:>5} {:>6} {:>9} {:>6} {:>9} {:>7} {:<16} {:<10}",
        "id",
        "role",
        "team",
        "status",
        "active",
        "peak",
        "queue",
        "avg ms",
        "files",
        "rows",
        "days",
        "fingerprint",
        "strategy"
    )
}

/// One node's row of the node table.
fn node_line(m: &MetricsResponse) -> String {
    format!(
        "{:<4} {:<12} {:<6} {:<9} {:>6} {:>5} {:>6} {:>9.2} {:>6} {:>9} {:>7} {:<16} {:<10}",
        m.process_id,
        m.role,
        m.team,
        if m.is_healthy { "healthy" } else { "unhealthy" },
        m.active_requests,
        m.peak_active_requests,
        m.queue_size,
        m.avg_processing_time_ms,
        m.data_files_loaded,
        m.rows_loaded,
        format!("{}/{}", m.days_held.len(), m.days_assigned),
        m.data_fingerprint,
        m.fairness_strategy
    )
}

/// One line per node lacking some of its assigned days, naming them (answers needing them are
/// partial).
pub fn lacking_lines(nodes: &[MetricsResponse]) -> String {
    nodes
        .iter()
        .filter(|m| !m.days_lacking.is_empty())
        .map(|m| {
            format!(
                "{} lacks {} of its {} assigned day(s): {}\n",
                m.process_id,
                m.days_lacking.len(),
                m.days_assigned,
                m.days_lacking.join(", ")
            )
        })
        .collect()
}

/// Per node: peer calls, and the tail-tolerance counters — hedges sent (and of them sent free,
/// the peer suspected) and won, calls cancelled (hedges lost) and abandoned (the caller went
/// away), scans stopped, ejections.
pub fn tail_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:>10} {:>8} {:>6} {:>8} {:>10} {:>10} {:>8} {:>10} {:>8}\n",
        "id",
        "calls",
        "hedges",
        "free",
        "won",
        "cancelled",
        "abandoned",
        "stopped",
        "ejections",
        "ejected"
    );
    for m in nodes {
        let r = m.routing.unwrap_or_default();
        out += &format!(
            "{:<4} {:>10} {:>8} {:>6} {:>8} {:>10} {:>10} {:>8} {:>10} {:>8}\n",
            m.process_id,
            r.peer_calls,
            r.hedges_sent,
            r.hedges_free,
            r.hedges_won,
            r.calls_cancelled,
            r.calls_abandoned,
            r.scans_stopped,
            r.ejections,
            r.ejected_now
        );
    }
    out
}

/// The per-team admission counters of every node, one row per (node, team), and one line per
/// node with its rejections by strategy and the fairness of its teams' goodput.
pub fn team_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:<8} {:>3} {:>6} {:>5} {:>9} {:>8} {:>6} {:>6} {:>6} {:>7} {:>6} {:>8} {:>8} {:>9} {:>10}\n",
        "id",
        "team",
        "w",
        "active",
        "peak",
        "admitted",
        "rejected",
        "team",
        "total",
        "full",
        "timeout",
        "queued",
        "avg wait",
        "max wait",
        "succeeded",
        "goodput/s"
    );
    for m in nodes {
        let goodput = team_goodput(None, m);
        for (t, g) in m.teams.iter().zip(&goodput) {
            out.push_str(&format!(
                "{:<4} {:<8} {:>3} {:>6} {:>5} {:>9} {:>8} {:>6} {:>6} {:>6} {:>7} {:>6} {:>8.1} {:>8.1} {:>9} {:>10.2}\n",
                m.process_id,
                t.team,
                t.weight,
                t.active,
                t.peak_active,
                t.admitted,
                t.rejected,
                t.rejected_team_limit,
                t.rejected_total_limit,
                t.rejected_queue_full,
                t.rejected_queue_timeout,
                t.queued,
                t.avg_wait_ms,
                t.max_wait_ms,
                t.succeeded,
                g.goodput_per_s
            ));
        }
        let by_strategy: Vec<String> = m
            .rejected_by_strategy
            .iter()
            .filter(|r| r.rejected > 0)
            .map(|r| format!("{} {}", r.strategy, r.rejected))
            .collect();
        let jain = |weighted| {
            goodput_fairness(&goodput, weighted).map_or("-".to_string(), |j| format!("{j:.3}"))
        };
        if !m.teams.is_empty() {
            out.push_str(&format!(
                "{:<4} rejected by strategy: {}; Jain's index of goodput {} (weighted {})\n",
                m.process_id,
                if by_strategy.is_empty() {
                    "none".to_string()
                } else {
                    by_strategy.join(", ")
                },
                jain(false),
                jain(true)
            ));
        }
    }
    out
}

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
    json
}

#[cfg(test)]
mod tests {
    use overlay::proto::{StrategyRejections, TeamAdmission};

    use super::*;

    fn sample() -> MetricsResponse {
        let team = |name: &str, weight, succeeded| TeamAdmission {
            team: name.to_string(),
            weight,
            admitted: succeeded + 1,
            succeeded,
            peak_active: 3,
            rejected: 7,
            rejected_team_limit: 7,
            ..Default::default()
        };
        MetricsResponse {
            process_id: "A".into(),
            uptime_s: 10.0,
            teams: vec![team("green", 1, 10), team("pink", 2, 20)],
            rejected_by_strategy: vec![
                StrategyRejections {
                    strategy: "strict".into(),
                    rejected: 14,
                },
                StrategyRejections {
                    strategy: "weighted".into(),
                    rejected: 0,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn nodes_lacking_days_get_a_line_naming_them() {
        let mut lacking = sample();
        lacking.days_assigned = 2;
        lacking.days_lacking = vec!["20200810".into(), "20200814".into()];
        let text = lacking_lines(&[sample(), lacking]);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("lacks 2 of its 2 assigned day(s): 20200810, 20200814"),
            "{text}"
        );
        let json = metrics_json(&sample());
        assert!(json["days_lacking"].as_array().is_some_and(Vec::is_empty));
    }

    #[test]
    fn json_carries_the_admission_counters_and_fairness() {
        let json = metrics_json(&sample());
        let pink = &json["teams"][1];
        assert_eq!(pink["peak_active"], 3);
        assert_eq!(pink["rejected_team_limit"], 7);
        assert_eq!(pink["goodput_per_s"], 2.0);
        assert_eq!(json["rejected_by_strategy"][0]["rejected"], 14);
        assert!((json["fairness"]["jain_index"].as_f64().unwrap() - 0.9).abs() < 1e-12);
        assert!((json["fairness"]["weighted_jain_index"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tail_counters_are_listed_per_node_and_in_json() {
        let mut m = sample();
        m.routing = Some(overlay::proto::RoutingStats {
            peer_calls: 1000,
            hedges_sent: 40,
            hedges_free: 12,
            hedges_won: 31,
            calls_cancelled: 33,
            ejections: 2,
            ..Default::default()
        });
        let table = tail_table(std::slice::from_ref(&m));
        let row = table.lines().nth(1).expect("one row");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[1..6], ["1000", "40", "12", "31", "33"], "{table}");
        assert_eq!(metrics_json(&m)["routing"]["hedges_won"], 31);
        assert_eq!(metrics_json(&m)["routing"]["hedges_free"], 12);
    }

    #[test]
    fn table_lists_each_team_and_the_rejecting_strategies() {
        let table = team_table(&[sample()]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[1].starts_with("A    green"), "{table}");
        assert!(
            lines[3].contains("rejected by strategy: strict 14;"),
            "{table}"
        );
        assert!(lines[3].contains("0.900 (weighted 1.000)"), "{table}");
    }
}
