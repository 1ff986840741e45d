//! `harness metrics`: one node's metrics, or a table of every node of a config, followed by
//! the per-team admission counters (with goodput since start and Jain's fairness index).

use overlay::config::ClusterConfig;
use overlay::proto::MetricsResponse;

use crate::cli::MetricsArgs;
use crate::client::fetch;
use crate::fairness::{goodput_fairness, team_goodput};

mod health;
mod json;
#[cfg(test)]
mod tests;

pub use health::health_tables;
pub use json::metrics_json;

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
        println!();
        print!("{}", health_tables(&fetched));
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

/// Per node: routing work (peer calls and failures, retries, failovers, slices left
/// unserved, queries coordinated) and the tail-tolerance counters — hedges sent (and of them sent free, the peer suspected) and won, calls
/// cancelled (hedges lost) and abandoned (the caller went away), scans stopped, ejections.
pub fn tail_table(nodes: &[MetricsResponse]) -> String {
    let row = |cells: [String; 15]| {
        let [id, rest @ ..] = cells;
        let rest: Vec<String> = rest.iter().map(|c| format!("{c:>9}")).collect();
        format!("{id:<4} {}\n", rest.join(" "))
    };
    let mut out = row([
        "id",
        "calls",
        "failed",
        "retries",
        "failovers",
        "unserved",
        "coord",
        "hedges",
        "free",
        "won",
        "cancelled",
        "abandoned",
        "stopped",
        "ejections",
        "ejected",
    ]
    .map(String::from));
    for m in nodes {
        let r = m.routing.unwrap_or_default();
        out += &row([
            m.process_id.clone(),
            r.peer_calls.to_string(),
            r.peer_call_failures.to_string(),
            r.retries.to_string(),
            r.failovers.to_string(),
            r.unserved.to_string(),
            r.coordinated.to_string(),
            r.hedges_sent.to_string(),
            r.hedges_free.to_string(),
            r.hedges_won.to_string(),
            r.calls_cancelled.to_string(),
            r.calls_abandoned.to_string(),
            r.scans_stopped.to_string(),
            r.ejections.to_string(),
            r.ejected_now.to_string(),
        ]);
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
