//! Serving slice tasks from this node's own table.
//!
//! Filter scans stop at their limit and cost microseconds, less than handing them to another
//! thread, so they run inline; aggregates (and filters over very large slices, which a sparse
//! filter may read to the end) go to the blocking pool so they never stall the async workers.
//! A scan checks its [`Cancel`] between days: once the caller has gone (cancelled, hedge lost,
//! deadline passed) it stops and the remaining days are not read. An injected `stall` fault
//! holds the work here, after admission and with the permit held, as a slow disk or a pause
//! inside the work would; it too ends when the caller goes.

use std::sync::Arc;

use overlay::proto::{SliceErrorKind, SliceResult, SliceTask};
use overlay::query::{Query, QueryKind};

use super::context::QueryContext;
use super::counters::Counted;
use super::failure::{failed, failure};
use super::route::RouteContext;
use crate::cancel::{Cancel, CancelOnDrop};
use crate::faults::Traffic;
use tracing::Instrument as _;

/// Most rows a filter scan may read inline: at roughly 10 ns per row read, a scan that reads
/// a whole slice this size holds an async worker for about 5 ms at worst. The largest slice of
/// the real data (13 days) has about 355,000 rows.
const INLINE_SCAN_MAX_ROWS: usize = 500_000;

/// The reason of a scan stopped because its caller went away.
const CALLER_GONE: &str = "cancelled: the caller has gone";

/// Serves tasks for slices this node holds for `route`, stopping the scans if this future is
/// dropped unfinished (its caller has gone; counted as a stopped scan). Each task's slice must
/// be held here.
pub async fn serve_local_cancellable(
    cx: QueryContext,
    route: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let cancel = Cancel::default();
    let routing = cx.routing.clone();
    let guard = CancelOnDrop::new(cancel.clone(), move || {
        routing.add(Counted::ScanStopped, 1);
    });
    let stall = cx.faults.stall_for(caller(route));
    if !stall.is_zero() {
        tokio::time::sleep(stall).await;
    }
    let scan = crate::trace::span!("local_scan", slices = tasks.len());
    let results = serve_local(cx, route.query.clone(), tasks, cancel)
        .instrument(scan)
        .await;
    guard.finish();
    results
}

/// Whose work a route is: the peer just before this node on its path, or a client when this
/// node is the coordinator.
fn caller(route: &RouteContext) -> Traffic<'_> {
    match route.hops.len().checked_sub(2).map(|at| &route.hops[at]) {
        Some(peer) => Traffic::Peer(peer),
        None => Traffic::Client,
    }
}

/// Serves tasks for slices this node holds. Each task's slice must be held here. Scans stop
/// between days once `cancel` is raised.
pub async fn serve_local(
    cx: QueryContext,
    query: Arc<Query>,
    tasks: Vec<SliceTask>,
    cancel: Cancel,
) -> Vec<SliceResult> {
    if scans_inline(&cx, &query, &tasks) {
        return tasks
            .iter()
            .map(|task| scan_one(&cx, &query, task, &cancel))
            .collect();
    }
    let owners: Vec<String> = tasks.iter().map(|t| t.owner.clone()).collect();
    let scanned = tokio::task::spawn_blocking(move || {
        tasks
            .iter()
            .map(|task| scan_one(&cx, &query, task, &cancel))
            .collect()
    });
    match scanned.await {
        Ok(results) => results,
        Err(err) => owners
            .into_iter()
            .map(|owner| {
                let why = format!("local scan failed: {err}");
                failed(&owner, SliceErrorKind::ScanFailed, why)
            })
            .collect(),
    }
}

/// True for filter queries whose slices are small enough to read on the async worker.
fn scans_inline(cx: &QueryContext, query: &Query, tasks: &[SliceTask]) -> bool {
    if !matches!(query.kind, QueryKind::Filter { .. }) {
        return false;
    }
    let rows: usize = tasks
        .iter()
        .filter_map(|task| cx.partition.slice_of(&task.owner))
        .flat_map(|slice| slice.dates.iter())
        .map(|date| cx.table.rows_of(*date))
        .sum();
    rows <= INLINE_SCAN_MAX_ROWS
}

fn scan_one(cx: &QueryContext, query: &Query, task: &SliceTask, cancel: &Cancel) -> SliceResult {
    let mut result = SliceResult {
        owner: task.owner.clone(),
        served_by: cx.id.0.clone(),
        ..Default::default()
    };
    let Some(slice) = cx.partition.slice_of(&task.owner) else {
        let why = format!("{} has no slice owned by {}", cx.id, task.owner);
        result.failure = Some(failure(SliceErrorKind::UnknownSlice, why));
        return result;
    };
    result.missing_dates = cx
        .holdings
        .lacking_of(&slice.dates, |day| query.filter.accepts_date(day));
    if cancel.is_cancelled() {
        result.failure = Some(failure(SliceErrorKind::Cancelled, CALLER_GONE));
        return result;
    }
    match &query.kind {
        QueryKind::Filter { .. } => {
            let scanned = cx.table.scan_encoded_until(
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
            let partial = cx
                .table
                .aggregate_until(&query.filter, spec, &slice.dates, Some(cancel));
            result.exhausted = true;
            result.aggregate = Some((&partial).into());
        }
    }
    if cancel.is_cancelled() {
        // Stopped part-way (or finished just as the caller left; counted by the guard that
        // raised the flag): nobody reads it.
        result.failure = Some(failure(SliceErrorKind::Cancelled, CALLER_GONE));
    }
    result
}
