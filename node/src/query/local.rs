//! Serving slice tasks from this node's own table, on the blocking pool so scans never stall
//! the async workers.

use std::sync::Arc;

use overlay::proto::{SliceResult, SliceTask};
use overlay::query::{Query, QueryKind};

use crate::node::Node;

/// Serves tasks for slices this node holds. Each task's slice must be held here.
pub async fn serve_local(
    node: Arc<Node>,
    query: Arc<Query>,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let owners: Vec<String> = tasks.iter().map(|t| t.owner.clone()).collect();
    let scanned = tokio::task::spawn_blocking(move || {
        tasks
            .iter()
            .map(|task| scan_one(&node, &query, task))
            .collect()
    });
    match scanned.await {
        Ok(results) => results,
        Err(err) => owners
            .into_iter()
            .map(|owner| SliceResult {
                owner,
                error: format!("local scan failed: {err}"),
                ..Default::default()
            })
            .collect(),
    }
}

fn scan_one(node: &Node, query: &Query, task: &SliceTask) -> SliceResult {
    let mut result = SliceResult {
        owner: task.owner.clone(),
        served_by: node.id().0.clone(),
        ..Default::default()
    };
    let Some(slice) = node
        .partition
        .slices
        .iter()
        .find(|s| s.owner.0 == task.owner)
    else {
        result.error = format!("{} has no slice owned by {}", node.id(), task.owner);
        return result;
    };
    match &query.kind {
        QueryKind::Filter { .. } => {
            let scanned =
                node.table
                    .scan_encoded(&query.filter, &slice.dates, task.offset, task.limit);
            result.rows = scanned.rows;
            result.exhausted = scanned.exhausted;
            result.batch = scanned.encoded.into();
        }
        QueryKind::Aggregate(spec) => {
            let partial = node.table.aggregate(&query.filter, spec, &slice.dates);
            result.exhausted = true;
            result.aggregate_json = serde_json::to_string(&partial).unwrap_or_default();
        }
    }
    result
}
