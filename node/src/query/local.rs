//! Serving slice tasks from this node's own table.
//!
//! Filter scans stop at their limit and cost microseconds, less than handing them to another
//! thread, so they run inline; aggregates (and filters over very large slices, which a sparse
//! filter may read to the end) go to the blocking pool so they never stall the async workers.
//! A scan checks its [`Cancel`] between days: once the caller has gone (cancelled, hedge lost,
//! deadline passed) it stops and the remaining days are not read.

use std::sync::Arc;

use overlay::proto::{SliceResult, SliceTask};
use overlay::query::{Query, QueryKind};

use super::counters::Counted;
use crate::cancel::{Cancel, CancelOnDrop};
use crate::node::Node;

/// Most rows a filter scan may read inline: at roughly 10 ns per row read, a scan that reads
/// a whole slice this size holds an async worker for about 5 ms at worst. The largest slice of
/// the real data (13 days) has about 355,000 rows.
const INLINE_SCAN_MAX_ROWS: usize = 500_000;

/// Serves tasks for slices this node holds, stopping the scans if this future is dropped
/// unfinished (its caller has gone). Each task's slice must be held here.
pub async fn serve_local_cancellable(
    node: Arc<Node>,
    query: Arc<Query>,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let cancel = Cancel::default();
    let guard = CancelOnDrop::new(cancel.clone(), || {});
    let results = serve_local(node, query, tasks, cancel).await;
    guard.finish();
    results
}

/// Serves tasks for slices this node holds. Each task's slice must be held here. Scans stop
/// between days once `cancel` is raised.
pub async fn serve_local(
    node: Arc<Node>,
    query: Arc<Query>,
    tasks: Vec<SliceTask>,
    cancel: Cancel,
) -> Vec<SliceResult> {
    if scans_inline(&node, &query, &tasks) {
        return tasks
            .iter()
            .map(|task| scan_one(&node, &query, task, &cancel))
            .collect();
    }
    let owners: Vec<String> = tasks.iter().map(|t| t.owner.clone()).collect();
    let scanned = tokio::task::spawn_blocking(move || {
        tasks
            .iter()
            .map(|task| scan_one(&node, &query, task, &cancel))
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

/// True for filter queries whose slices are small enough to read on the async worker.
fn scans_inline(node: &Node, query: &Query, tasks: &[SliceTask]) -> bool {
    if !matches!(query.kind, QueryKind::Filter { .. }) {
        return false;
    }
    let rows: usize = tasks
        .iter()
        .filter_map(|task| {
            node.partition
                .slices
                .iter()
                .find(|s| s.owner.0 == task.owner)
        })
        .flat_map(|slice| slice.dates.iter())
        .map(|date| node.table.rows_of(*date))
        .sum();
    rows <= INLINE_SCAN_MAX_ROWS
}

fn scan_one(node: &Node, query: &Query, task: &SliceTask, cancel: &Cancel) -> SliceResult {
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
    result.missing_dates = node
        .holdings
        .lacking_of(&slice.dates, |day| query.filter.accepts_date(day));
    if cancel.is_cancelled() {
        result.error = "cancelled: the caller has gone".to_string();
        return result;
    }
    match &query.kind {
        QueryKind::Filter { .. } => {
            let scanned = node.table.scan_encoded_until(
                &query.filter,
                &slice.dates,
                task.offset,
                task.limit,
                Some(cancel),
            );
            result.rows = scanned.rows;
            result.exhausted = scanned.exhausted;
            result.batch = scanned.encoded.into();
        }
        QueryKind::Aggregate(spec) => {
            let partial =
                node.table
                    .aggregate_until(&query.filter, spec, &slice.dates, Some(cancel));
            result.exhausted = true;
            result.aggregate_json = serde_json::to_string(&partial).unwrap_or_default();
        }
    }
    if cancel.is_cancelled() {
        // Stopped part-way (or finished just as the caller left): nobody reads it.
        node.routing.add(Counted::ScanStopped, 1);
        result.error = "cancelled: the caller has gone".to_string();
    }
    result
}
