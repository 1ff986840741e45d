//! The client-facing `OverlayNode` service: the thin adapter between the original wire
//! protocol and the node's domain calls. Only this file knows JSON params and status strings:
//! a refused query is a [`QueryRefusal`], mapped to its original status here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::proto::overlay_node_server::OverlayNode;
use overlay::proto::{
    ChunkRequest, ChunkResponse, MetricsRequest, MetricsResponse, QueryRequest, QueryResponse,
    RecordFormat, ShutdownRequest, ShutdownResponse,
};
use overlay::query::{Query, QueryError, MAX_CLIENT_ID_BYTES};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::admission::Rejection;
use crate::auth::CONTROL_TOKEN_HEADER;
use crate::faults::Traffic;
use crate::hooks::{Event, EventKind};
use crate::node::{Node, UnknownTeam};
use crate::query::coordinate::{coordinate, Coordinated};
use crate::query::counters::Counted;
use crate::query::route::RouteContext;
use crate::results::{ChunkContent, ChunkLookup};
use crate::trace;
use tracing::Instrument as _;

/// Largest chunk a client may ask for: a typed chunk of this many records stays a few MB.
const MAX_CHUNK_SIZE: i32 = 10_000;

/// Longest entry of a client's `hops`, in bytes (process ids are short names).
pub const MAX_HOP_BYTES: usize = 64;

/// Why a client query gets no answer; each maps to the original wire status in
/// [`QueryRefusal::status`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryRefusal {
    /// The request or its params are invalid (`invalid_query:<reason>`).
    #[error("{0}")]
    Invalid(String),
    /// This node is already on the request's path (`loop_detected`).
    #[error("loop detected")]
    Loop,
    /// Admission control refused the query here.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Admission control refused part of the work further down (`rejected`).
    #[error("rejected downstream")]
    RejectedDownstream,
}

impl From<QueryError> for QueryRefusal {
    fn from(err: QueryError) -> Self {
        QueryRefusal::Invalid(err.to_string())
    }
}

impl From<UnknownTeam> for QueryRefusal {
    fn from(err: UnknownTeam) -> Self {
        QueryRefusal::Invalid(err.to_string())
    }
}

impl QueryRefusal {
    /// The original status string: `invalid_query:<reason>`, `loop_detected`, `rejected`
    /// (which clients compare exactly) or the fair-queue extensions `rejected:queue_full` and
    /// `rejected:queue_timeout`.
    pub fn status(&self) -> String {
        match self {
            QueryRefusal::Invalid(why) => format!("invalid_query:{why}"),
            QueryRefusal::Loop => "loop_detected".to_string(),
            QueryRefusal::Rejected(rejection) => rejection_status(*rejection).to_string(),
            QueryRefusal::RejectedDownstream => "rejected".to_string(),
        }
    }
}

/// The original status of an admission refusal.
pub fn rejection_status(rejection: Rejection) -> &'static str {
    match rejection {
        Rejection::AtLimit(_) => "rejected",
        Rejection::QueueFull => "rejected:queue_full",
        Rejection::QueueTimeout => "rejected:queue_timeout",
    }
}

/// Checks what a client sent before any work or forwarding: `hops` no longer than the tree
/// can be deep (it has this many processes) with short entries, and `client_id` within its cap.
fn check_request(request: &QueryRequest, processes: usize) -> Result<(), QueryRefusal> {
    if request.hops.len() > processes {
        return Err(QueryRefusal::Invalid(format!(
            "hops has {} entries; a path through this cluster has at most {processes}",
            request.hops.len()
        )));
    }
    if let Some(hop) = request.hops.iter().find(|hop| hop.len() > MAX_HOP_BYTES) {
        return Err(QueryRefusal::Invalid(format!(
            "hops entry '{}' is longer than {MAX_HOP_BYTES} bytes",
            overlay::query::quote(hop)
        )));
    }
    overlay::query::check_len("client_id", &request.client_id, MAX_CLIENT_ID_BYTES)?;
    Ok(())
}

/// The `OverlayNode` service of one node.
#[derive(Debug, Clone)]
pub struct NodeService {
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
}

/// A query that passed every check: what it asks, and the team it runs under.
struct Parsed {
    query: Query,
    team: String,
}

impl NodeService {
    /// Wraps a node; a `Shutdown` call sets `shutdown` to true.
    pub fn new(node: Arc<Node>, shutdown: watch::Sender<bool>) -> Self {
        Self { node, shutdown }
    }

    /// Checks the request and parses its query; the request loses what must not be echoed.
    fn parse(&self, request: &mut QueryRequest) -> Result<Parsed, QueryRefusal> {
        let node = &self.node;
        if let Err(refusal) = check_request(request, node.config.processes.len()) {
            // Nothing of the oversized request is echoed.
            request.hops.clear();
            request.client_id.clear();
            return Err(refusal);
        }
        if request.hops.iter().any(|hop| hop == &node.id().0) {
            return Err(QueryRefusal::Loop);
        }
        let query = Query::parse(&request.query_type, &request.query_params)?;
        let team = node.team_of(query.team.as_deref())?.to_string();
        Ok(Parsed { query, team })
    }

    /// Runs an admitted query over the cluster. Routing starts here: the client's hops are
    /// echoed in the answer but never reach the router, so a client cannot name nodes to be
    /// passed over (their days would go missing).
    async fn answer(&self, parsed: Parsed) -> Coordinated {
        let node = &self.node;
        let route = RouteContext {
            wire_query: Arc::new((&parsed.query).into()),
            query: Arc::new(parsed.query),
            hops: vec![node.id().0.clone()],
            team: node.forwarding_team(&parsed.team).to_string(),
            deadline: Instant::now() + node.query_deadline,
        };
        coordinate(&node.query_context(), &route).await
    }

    /// One chunk of a stored answer, in the chunk's trace span.
    async fn serve_chunk(
        &self,
        request: Request<ChunkRequest>,
    ) -> Result<Response<ChunkResponse>, Status> {
        let span = trace::span!("chunk");
        trace::adopt(&span, request.metadata());
        self.node.faults.on_answer(Traffic::Client).await?;
        let _serving = span.entered();
        let request = request.into_inner();
        let mut response = ChunkResponse {
            uid: request.uid.clone(),
            chunk_index: request.chunk_index,
            ..Default::default()
        };
        match self.node.results.chunk(&request.uid, request.chunk_index) {
            ChunkLookup::Found {
                content,
                total_chunks,
                is_last,
            } => {
                response.total_chunks = total_chunks as i32;
                response.is_last = is_last;
                response.status = "success".to_string();
                match content {
                    ChunkContent::Json(text) => response.data = text,
                    ChunkContent::Typed(parts) => response.batches = parts,
                }
            }
            ChunkLookup::NotFound => response.status = "not_found".to_string(),
            ChunkLookup::Unreadable { reason } => {
                tracing::error!(uid = %request.uid, %reason, "[Results] {} cannot read a stored answer", self.node.id());
                response.status = format!("error:{reason}");
            }
            ChunkLookup::OutOfRange { total_chunks } => {
                response.total_chunks = total_chunks as i32;
                response.status = "out_of_range".to_string();
            }
        }
        Ok(Response::new(response))
    }

    /// parse → admit → answer → store.
    async fn serve_query(
        &self,
        mut request: QueryRequest,
    ) -> Result<Response<QueryResponse>, Status> {
        let started = Instant::now();
        let node = &self.node;
        node.faults.on_answer(Traffic::Client).await?;
        let parsed = match self.parse(&mut request) {
            Ok(parsed) => parsed,
            Err(refusal) => return Ok(refused(request.hops, &refusal)),
        };
        let team = parsed.team.clone();
        // Admission before any work; the permit is released when this handler ends, on
        // every path (answer, error, client cancellation dropping the future).
        let admitting = node.admission.admit(&team, None);
        let admitted = admitting.instrument(trace::span!("admission")).await;
        let mut permit = match admitted {
            Ok(permit) => permit,
            Err(rejection) => return Ok(refused(request.hops, &rejection.into())),
        };
        node.routing.add(Counted::Coordinated, 1);
        fire_query_event(node, EventKind::QueryStarted, &request, &team, |e| e);
        let done = self.answer(parsed).await;
        let hops = answer_hops(&request, node.id().as_str(), &done.served_by);
        if done.rejected_downstream {
            let refusal = QueryRefusal::RejectedDownstream;
            fire_query_event(node, EventKind::QueryFailed, &request, &team, |e| {
                e.with("status", refusal.status())
                    .with("missing_nodes", done.missing_nodes.clone())
            });
            return Ok(refused(hops, &refusal));
        }
        let response = self.store(&request, &team, done, hops, started);
        permit.mark_succeeded();
        Ok(Response::new(response))
    }

    /// Keeps a complete (or partial) answer for chunked retrieval and says where it is.
    fn store(
        &self,
        request: &QueryRequest,
        team: &str,
        done: Coordinated,
        hops: Vec<String>,
        started: Instant,
    ) -> QueryResponse {
        let node = &self.node;
        let chunk_size = match request.chunk_size {
            size if size > 0 => size.min(MAX_CHUNK_SIZE) as usize,
            _ => node.chunk_size,
        };
        let format = RecordFormat::try_from(request.record_format).unwrap_or(RecordFormat::Json);
        let total_records = done.answer.len() as i64;
        let (uid, total_chunks) = node.results.insert(done.answer, chunk_size, format);
        let took = started.elapsed();
        node.times.record(took);
        tracing::debug!(%uid, total_records, took_ms = took.as_millis() as u64, "query answered");
        let partial = !done.missing_nodes.is_empty() || !done.missing_dates.is_empty();
        let kind = if partial {
            EventKind::QueryFailed
        } else {
            EventKind::QueryCompleted
        };
        fire_query_event(node, kind, request, team, |e| {
            e.with("uid", uid.as_str())
                .with("records", total_records)
                .with("took_ms", took.as_secs_f64() * 1000.0)
                .with("partial", partial)
                .with("missing_nodes", done.missing_nodes.clone())
        });
        QueryResponse {
            uid,
            total_chunks: total_chunks as i32,
            total_records,
            hops,
            status: "ready".to_string(),
            partial,
            missing_dates: done.missing_dates,
            missing_nodes: done.missing_nodes,
            processing_us: took.as_micros() as i64,
        }
    }
}

/// The answer to a refused query: its status and the hops as they stand.
fn refused(hops: Vec<String>, refusal: &QueryRefusal) -> Response<QueryResponse> {
    Response::new(QueryResponse {
        hops,
        status: refusal.status(),
        ..Default::default()
    })
}

/// The answer's hops: the path to this node, then every node that served a slice.
fn answer_hops(request: &QueryRequest, me: &str, served_by: &[String]) -> Vec<String> {
    let mut hops = request.hops.clone();
    hops.push(me.to_string());
    for server in served_by {
        if !hops.contains(server) {
            hops.push(server.clone());
        }
    }
    hops
}

#[tonic::async_trait]
impl OverlayNode for NodeService {
    /// parse → admit → answer → store, in the query's trace span.
    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<QueryResponse>, Status> {
        let traced = trace::decide(request.metadata());
        trace::scoped(traced, async move {
            let span = trace::span!("query");
            trace::adopt(&span, request.metadata());
            self.serve_query(request.into_inner())
                .instrument(span)
                .await
        })
        .await
    }

    async fn get_chunk(
        &self,
        request: Request<ChunkRequest>,
    ) -> Result<Response<ChunkResponse>, Status> {
        let traced = trace::decide(request.metadata());
        trace::scoped(traced, self.serve_chunk(request)).await
    }

    async fn get_metrics(
        &self,
        _request: Request<MetricsRequest>,
    ) -> Result<Response<MetricsResponse>, Status> {
        Ok(Response::new(crate::metrics::snapshot(&self.node)))
    }

    /// The original stop call: refused unless the node runs with `--enable-control`, and then
    /// it needs the control token (in the `x-overlay-control-token` metadata, since the
    /// original request has no token field), like every `OverlayControl` call.
    async fn shutdown(
        &self,
        request: Request<ShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        let token = request
            .metadata()
            .get(CONTROL_TOKEN_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.node.control.authorize(self.node.id(), &token)?;
        let graceful = request.into_inner().graceful;
        tracing::info!(
            graceful,
            "[Server] {} shutting down on request",
            self.node.id()
        );
        request_shutdown(&self.shutdown, graceful);
        Ok(Response::new(ShutdownResponse {
            status: "shutting_down".to_string(),
        }))
    }
}

/// Asks the server to stop: gracefully (queries in flight get the shutdown grace), or at once
/// after the caller's answer has gone out.
pub fn request_shutdown(shutdown: &watch::Sender<bool>, graceful: bool) {
    if !graceful {
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::process::exit(0);
        });
    }
    let _ = shutdown.send(true);
}

/// Fires a query lifecycle event when some hook listens to it.
fn fire_query_event(
    node: &Node,
    kind: EventKind,
    request: &QueryRequest,
    team: &str,
    detail: impl FnOnce(Event) -> Event,
) {
    node.hooks.emit(kind, |event| {
        detail(
            event
                .with("query_type", request.query_type.as_str())
                .with("team", team)
                .with("client_id", request.client_id.as_str()),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::RejectReason;

    #[test]
    fn refusals_keep_the_original_statuses() {
        let status = |refusal: QueryRefusal| refusal.status();
        assert_eq!(
            status(Rejection::AtLimit(RejectReason::TotalLimit).into()),
            "rejected"
        );
        assert_eq!(status(Rejection::QueueFull.into()), "rejected:queue_full");
        assert_eq!(
            status(Rejection::QueueTimeout.into()),
            "rejected:queue_timeout"
        );
        assert_eq!(status(QueryRefusal::RejectedDownstream), "rejected");
        assert_eq!(status(QueryRefusal::Loop), "loop_detected");
        assert_eq!(
            status(QueryRefusal::Invalid("limit must be".into())),
            "invalid_query:limit must be"
        );
    }

    #[test]
    fn answer_hops_follow_the_path_then_the_servers() {
        let request = QueryRequest {
            hops: vec!["X".into()],
            ..Default::default()
        };
        let served = ["B".to_string(), "A".to_string(), "B".to_string()];
        assert_eq!(answer_hops(&request, "A", &served), ["X", "A", "B"]);
    }
}
