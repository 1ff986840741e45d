//! Serving a list of slice tasks from any node: local slices here, the others forwarded toward
//! a holder, with failover.
//!
//! Routing follows the tree: a task for a slice held below this node goes to the child on the
//! path to the holder; a task for a slice elsewhere goes straight to the holder (every address
//! is in the config). When a call fails, the node it went to is excluded and the affected tasks
//! are routed again — past a dead relay straight to the holder, past a dead holder to the
//! slice's next replica — until every task is served or has no live holder left. A slice
//! without any live holder comes back with its `error` set, never silently dropped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use overlay::config::NodeId;
use overlay::proto::{ScanRequest, SliceResult, SliceTask};
use overlay::query::Query;

use super::local::serve_local;
use super::slice_error;
use crate::node::Node;

/// One query's context as it is routed.
#[derive(Clone, Debug)]
pub struct RouteContext {
    /// The parsed query.
    pub query: Arc<Query>,
    /// The query in its canonical JSON form, as sent to peers.
    pub query_json: Arc<str>,
    /// The path so far, this node included.
    pub hops: Vec<String>,
    /// The team the work is forwarded with, i.e. admitted under by the next node (see
    /// [`Node::forwarding_team`]).
    pub team: String,
    /// When the whole query gives up.
    pub deadline: Instant,
}

/// Serves every task, locally or through peers; returns one result per task.
pub async fn serve_tasks(
    node: &Arc<Node>,
    ctx: &RouteContext,
    tasks: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let (local, remote): (Vec<SliceTask>, Vec<SliceTask>) = tasks
        .into_iter()
        .partition(|task| task.holders.iter().any(|h| h == &node.id().0));
    let local_results = async {
        if local.is_empty() {
            Vec::new()
        } else {
            serve_local(node.clone(), ctx.query.clone(), local).await
        }
    };
    let (mut results, remote_results) =
        tokio::join!(local_results, serve_remote(node, ctx, remote));
    results.extend(remote_results);
    results
}

async fn serve_remote(
    node: &Arc<Node>,
    ctx: &RouteContext,
    mut pending: Vec<SliceTask>,
) -> Vec<SliceResult> {
    let mut results = Vec::new();
    let mut excluded: HashSet<NodeId> = ctx.hops.iter().map(|h| NodeId(h.clone())).collect();
    let mut last_error: BTreeMap<String, String> = BTreeMap::new();
    while !pending.is_empty() {
        let mut by_hop: BTreeMap<NodeId, Vec<SliceTask>> = BTreeMap::new();
        for task in pending.drain(..) {
            match next_hop(node, &task, &excluded) {
                Some(hop) => by_hop.entry(hop).or_default().push(task),
                None => {
                    let why = last_error
                        .remove(&task.owner)
                        .unwrap_or_else(|| "no live holder".to_string());
                    results.push(unserved(&task, why));
                }
            }
        }
        let calls = by_hop.into_iter().map(|(hop, tasks)| async move {
            let outcome = call_peer(node, ctx, &hop, &tasks).await;
            (hop, tasks, outcome)
        });
        for (hop, tasks, outcome) in join_all(calls).await {
            match outcome {
                Ok(served) => results.extend(served),
                Err(why) => {
                    tracing::warn!(peer = %hop, error = %why, "[Router] {} forward to {hop} failed", node.id());
                    excluded.insert(hop);
                    for task in &tasks {
                        last_error.insert(task.owner.clone(), why.clone());
                    }
                    pending.extend(tasks);
                }
            }
        }
    }
    results
}

fn unserved(task: &SliceTask, why: String) -> SliceResult {
    SliceResult {
        owner: task.owner.clone(),
        error: why,
        ..Default::default()
    }
}

/// The peer to send a task to: the first holder not excluded, reached through this node's
/// child on the path to it when it lies below this node, else directly. `None` when every
/// holder is excluded.
pub fn next_hop(node: &Node, task: &SliceTask, excluded: &HashSet<NodeId>) -> Option<NodeId> {
    task.holders
        .iter()
        .map(|h| NodeId(h.clone()))
        .filter(|holder| !excluded.contains(holder) && holder != node.id())
        .find_map(|holder| {
            let path = path_from(node, &holder);
            path.into_iter().find(|hop| !excluded.contains(hop))
        })
}

/// The nodes from just below this node down to `target`, when `target` lies below this node;
/// otherwise just `target`.
fn path_from(node: &Node, target: &NodeId) -> Vec<NodeId> {
    let mut chain = vec![target.clone()];
    let mut current = target.clone();
    while let Some(parent) = node.config.parent_of(&current) {
        if &parent.id == node.id() {
            chain.reverse();
            return chain;
        }
        if chain.len() > node.config.processes.len() {
            break;
        }
        chain.push(parent.id.clone());
        current = parent.id.clone();
    }
    vec![target.clone()]
}

async fn call_peer(
    node: &Arc<Node>,
    ctx: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
) -> Result<Vec<SliceResult>, String> {
    let mut client = node
        .peers
        .client(hop)
        .ok_or_else(|| format!("{hop} is not in the config"))?;
    let remaining = ctx.deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err("query deadline passed".to_string());
    }
    let mut request = tonic::Request::new(ScanRequest {
        query_json: ctx.query_json.to_string(),
        hops: ctx.hops.clone(),
        slices: tasks.to_vec(),
        team: ctx.team.clone(),
        deadline_ms: remaining.as_millis().min(u128::from(u32::MAX)) as u32,
    });
    request.set_timeout(remaining);
    let response = client
        .scan(request)
        .await
        .map_err(|status| format!("{hop}: {}", status.message()))?
        .into_inner();
    match response.status.as_str() {
        "ok" => Ok(response.slices),
        status if status.starts_with(slice_error::REJECTED) => Ok(tasks
            .iter()
            .map(|task| unserved(task, format!("{}: {hop} {status}", slice_error::REJECTED)))
            .collect()),
        other => Err(format!("{hop} answered {other}")),
    }
}
