//! `harness metrics`: one node's metrics, or a table of every node of a config.

use overlay::config::ClusterConfig;
use overlay::proto::{MetricsRequest, MetricsResponse};

use crate::cli::MetricsArgs;
use crate::client::connect;

/// Fetches one node's metrics.
pub async fn fetch(address: &str) -> anyhow::Result<MetricsResponse> {
    let mut client = connect(address).await?;
    Ok(client.get_metrics(MetricsRequest {}).await?.into_inner())
}

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
    if !args.json {
        println!(
            "{:<4} {:<12} {:<6} {:<9} {:>6} {:>6} {:>9} {:>6} {:>9} {:<10}",
            "id",
            "role",
            "team",
            "status",
            "active",
            "queue",
            "avg ms",
            "files",
            "rows",
            "strategy"
        );
    }
    for (name, address) in targets {
        match fetch(&address).await {
            Ok(m) if args.json => println!("{}", metrics_json(&m)),
            Ok(m) => println!(
                "{:<4} {:<12} {:<6} {:<9} {:>6} {:>6} {:>9.2} {:>6} {:>9} {:<10}",
                m.process_id,
                m.role,
                m.team,
                if m.is_healthy { "healthy" } else { "unhealthy" },
                m.active_requests,
                m.queue_size,
                m.avg_processing_time_ms,
                m.data_files_loaded,
                m.rows_loaded,
                m.fairness_strategy
            ),
            Err(err) if args.json => println!(
                "{}",
                serde_json::json!({ "node": name, "address": address, "error": err.to_string() })
            ),
            Err(err) => println!("{name:<4} unreachable at {address}: {err}"),
        }
    }
    Ok(())
}

/// The metrics as a JSON object (field names as in the proto).
pub fn metrics_json(m: &MetricsResponse) -> serde_json::Value {
    serde_json::json!({
        "process_id": m.process_id, "role": m.role, "team": m.team,
        "active_requests": m.active_requests, "max_capacity": m.max_capacity, "is_healthy": m.is_healthy,
        "queue_size": m.queue_size, "avg_processing_time_ms": m.avg_processing_time_ms,
        "data_files_loaded": m.data_files_loaded, "fairness_strategy": m.fairness_strategy,
        "recent_logs": m.recent_logs, "rows_loaded": m.rows_loaded, "rows_skipped": m.rows_skipped,
        "queries_served": m.queries_served, "stored_result_bytes": m.stored_result_bytes, "uptime_s": m.uptime_s,
        "teams": m.teams.iter().map(|t| serde_json::json!({
            "team": t.team, "active": t.active, "admitted": t.admitted, "rejected": t.rejected,
            "queued": t.queued, "avg_wait_ms": t.avg_wait_ms, "completed": t.completed,
        })).collect::<Vec<_>>(),
    })
}
