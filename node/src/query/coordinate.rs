//! The coordinator: plans a client query over the partition map and assembles the answer.
//!
//! Phases, each a small function: pick the slices whose days can match → split the limit among
//! them → serve the tasks (locally and through peers) → for filter queries, run further rounds
//! for the shortfall of slices that ran dry → merge in partition order. Slices no live holder
//! could serve are reported as missing, by date and node, never dropped silently; so are the
//! days a holder reports lacking on its disk (`SliceResult.missing_dates`).

use overlay::aggregate::AggregatePartial;
use overlay::config::NodeId;
use overlay::partition::Slice;
use overlay::proto::{SliceErrorKind, SliceFailure, SliceResult, SliceTask};
use overlay::query::{AggregateSpec, Filter, QueryKind};

use super::context::QueryContext;
use super::failure::kind;
use super::merge::{merge_partials, next_round_shares, split_evenly, SliceProgress};
use super::route::{serve_tasks, RouteContext};
use crate::results::{Answer, RecordPart};

/// Most rounds a filter query runs: each round either meets the limit or exhausts at least
/// one slice, so the slice count bounds it; this caps pathological configs.
const MAX_ROUNDS: usize = 16;

/// What the coordinator produced.
#[derive(Debug)]
pub struct Coordinated {
    /// The records or aggregate rows.
    pub answer: Answer,
    /// Days no live holder could serve (`YYYYMMDD`).
    pub missing_dates: Vec<String>,
    /// Owners of the slices that could not be served.
    pub missing_nodes: Vec<String>,
    /// Some slice was refused by admission control downstream.
    pub rejected_downstream: bool,
    /// Nodes that served slices, in the order they first answered.
    pub served_by: Vec<String>,
}

/// Runs a parsed client query over the cluster.
pub async fn coordinate(cx: &QueryContext, ctx: &RouteContext) -> Coordinated {
    let slices: Vec<&Slice> = cx
        .partition
        .slices
        .iter()
        .filter(|slice| {
            slice
                .dates
                .iter()
                .any(|d| ctx.query.filter.accepts_date(*d))
        })
        .collect();
    match &ctx.query.kind {
        QueryKind::Filter { limit } => filter_rounds(cx, ctx, &slices, *limit).await,
        QueryKind::Aggregate(spec) => aggregate_once(cx, ctx, &slices, spec).await,
    }
}

fn task(slice: &Slice, limit: u32, offset: u32) -> SliceTask {
    SliceTask {
        owner: slice.owner.0.clone(),
        limit,
        offset,
        holders: slice.holders.iter().map(|h| h.0.clone()).collect(),
    }
}

async fn filter_rounds(
    cx: &QueryContext,
    ctx: &RouteContext,
    slices: &[&Slice],
    limit: u32,
) -> Coordinated {
    let mut progress = vec![SliceProgress::default(); slices.len()];
    let mut parts: Vec<Vec<RecordPart>> = slices.iter().map(|_| Vec::new()).collect();
    let mut errors: Vec<Option<SliceFailure>> = vec![None; slices.len()];
    let mut lacking: Vec<Vec<String>> = vec![Vec::new(); slices.len()];
    let mut shares = split_evenly(limit, slices.len());
    let mut served_by = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let tasks: Vec<SliceTask> = slices
            .iter()
            .zip(&shares)
            .zip(&progress)
            .filter(|((_, share), _)| **share > 0)
            .map(|((slice, share), p)| task(slice, *share, p.rows))
            .collect();
        if tasks.is_empty() {
            break;
        }
        for mut result in serve_tasks(cx, ctx, tasks).await {
            note_server(&mut served_by, &result);
            let Some(index) = index_of(slices, &result) else {
                continue;
            };
            if !result.missing_dates.is_empty() {
                lacking[index] = std::mem::take(&mut result.missing_dates);
            }
            absorb_records(
                result,
                &mut progress[index],
                &mut parts[index],
                &mut errors[index],
            );
        }
        shares = next_round_shares(limit, &progress);
        if shares.is_empty() {
            break;
        }
    }
    let _merge = crate::trace::span!("merge", slices = slices.len()).entered();
    let missing = missing(&cx.id, &ctx.query.filter, slices, &errors, &lacking);
    coordinated(
        Answer::Records(parts.into_iter().flatten().collect()),
        missing,
        served_by,
    )
}

fn absorb_records(
    result: SliceResult,
    progress: &mut SliceProgress,
    parts: &mut Vec<RecordPart>,
    error: &mut Option<SliceFailure>,
) {
    if let Some(failure) = result.failure {
        progress.failed = true;
        *error = Some(failure);
        return;
    }
    // Batches are checked when a chunk first needs their rows (see `RecordPart::batch`); a
    // typed chunk spanning whole slices passes them on untouched.
    progress.rows += result.rows;
    progress.exhausted = result.exhausted;
    if result.rows > 0 {
        parts.push(RecordPart::new(result.batch, result.rows as usize));
    }
}

async fn aggregate_once(
    cx: &QueryContext,
    ctx: &RouteContext,
    slices: &[&Slice],
    spec: &AggregateSpec,
) -> Coordinated {
    let tasks = slices.iter().map(|slice| task(slice, 0, 0)).collect();
    let mut partials: Vec<AggregatePartial> = vec![AggregatePartial::default(); slices.len()];
    let mut errors: Vec<Option<SliceFailure>> = vec![None; slices.len()];
    let mut lacking: Vec<Vec<String>> = vec![Vec::new(); slices.len()];
    let mut served_by = Vec::new();
    for mut result in serve_tasks(cx, ctx, tasks).await {
        note_server(&mut served_by, &result);
        let Some(index) = index_of(slices, &result) else {
            continue;
        };
        lacking[index] = std::mem::take(&mut result.missing_dates);
        if let Some(failure) = result.failure.take() {
            errors[index] = Some(failure);
            continue;
        }
        // A served slice without groups had no matching rows.
        partials[index] = result.aggregate.take().map(Into::into).unwrap_or_default();
    }
    let _merge = crate::trace::span!("merge", slices = slices.len()).entered();
    let missing = missing(&cx.id, &ctx.query.filter, slices, &errors, &lacking);
    let answer = Answer::Aggregate(merge_partials(&partials).rows(spec, &missing.dates));
    coordinated(answer, missing, served_by)
}

/// Where the result's slice sits among the query's slices.
fn index_of(slices: &[&Slice], result: &SliceResult) -> Option<usize> {
    slices
        .iter()
        .position(|slice| slice.owner.as_str() == result.owner)
}

fn note_server(served_by: &mut Vec<String>, result: &SliceResult) {
    if !result.served_by.is_empty() && !served_by.contains(&result.served_by) {
        served_by.push(result.served_by.clone());
    }
}

/// What a query could not get, and whether admission refused part of the work.
struct Missing {
    dates: Vec<String>,
    nodes: Vec<String>,
    rejected_downstream: bool,
}

fn coordinated(answer: Answer, missing: Missing, served_by: Vec<String>) -> Coordinated {
    Coordinated {
        answer,
        missing_dates: missing.dates,
        missing_nodes: missing.nodes,
        rejected_downstream: missing.rejected_downstream,
        served_by,
    }
}

/// Names the slices no holder served, by owner and by the days the query wanted of them,
/// and the slices served without some days because their holder lacks them (`lacking`, per
/// slice, as the holder reported them): those days and owners are missing just the same.
fn missing(
    me: &NodeId,
    filter: &Filter,
    slices: &[&Slice],
    errors: &[Option<SliceFailure>],
    lacking: &[Vec<String>],
) -> Missing {
    let mut missing_dates = Vec::new();
    let mut missing_nodes = Vec::new();
    let mut rejected_downstream = false;
    for ((slice, error), lacking) in slices.iter().zip(errors).zip(lacking) {
        let Some(error) = error else {
            // Only days of this slice count, so a confused peer cannot name others.
            let lacking: Vec<String> = slice
                .dates
                .iter()
                .map(ToString::to_string)
                .filter(|day| lacking.contains(day))
                .collect();
            if !lacking.is_empty() {
                tracing::warn!(slice = %slice.owner, "[Coordinator] {}: the holder of the slice of {} lacks {} of its day(s): {}", me, slice.owner, lacking.len(), lacking.join(", "));
                missing_nodes.push(slice.owner.0.clone());
                missing_dates.extend(lacking);
            }
            continue;
        };
        rejected_downstream |= kind(error) == SliceErrorKind::Rejected;
        let error = &error.reason;
        tracing::warn!(slice = %slice.owner, %error, "[Coordinator] {} could not serve the slice of {}", me, slice.owner);
        missing_nodes.push(slice.owner.0.clone());
        missing_dates.extend(
            slice
                .dates
                .iter()
                .filter(|d| filter.accepts_date(**d))
                .map(|d| d.to_string()),
        );
    }
    Missing {
        dates: missing_dates,
        nodes: missing_nodes,
        rejected_downstream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::failure::failure;
    use overlay::date::DateKey;

    fn slice(owner: &str, days: &[u32]) -> Slice {
        Slice {
            owner: NodeId(owner.into()),
            team: "pink".into(),
            dates: days
                .iter()
                .map(|d| DateKey::from_u32(*d).unwrap())
                .collect(),
            holders: vec![NodeId(owner.into())],
        }
    }

    #[test]
    fn only_a_rejected_slice_makes_the_answer_rejected_and_missing_days_follow_the_filter() {
        let (c, d, f) = (
            slice("C", &[20200816, 20200817]),
            slice("D", &[20200818]),
            slice("F", &[20200819]),
        );
        let slices = [&c, &d, &f];
        let filter = Filter {
            date_end: DateKey::from_u32(20200816),
            ..Default::default()
        };
        let unserved = failure(SliceErrorKind::Unserved, "no live holder");
        let lacking = vec![Vec::new(), Vec::new(), vec!["20200819".to_string()]];
        let me = NodeId("A".into());
        let found = missing(
            &me,
            &filter,
            &slices,
            &[Some(unserved), None, None],
            &lacking,
        );
        assert!(!found.rejected_downstream);
        assert_eq!(found.nodes, ["C", "F"]);
        assert_eq!(found.dates, ["20200816", "20200819"]);
        let rejected = failure(SliceErrorKind::Rejected, "E: queue full");
        let found = missing(
            &me,
            &filter,
            &slices,
            &[None, Some(rejected), None],
            &lacking,
        );
        assert!(found.rejected_downstream);
    }
}
