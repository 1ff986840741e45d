//! The client-facing `OverlayNode` service: the thin adapter between the original wire
//! protocol and the node's domain calls. Only this file knows JSON params and status strings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::proto::overlay_node_server::OverlayNode;
use overlay::proto::{
    ChunkRequest, ChunkResponse, MetricsRequest, MetricsResponse, QueryRequest, QueryResponse,
    RecordFormat, ShutdownRequest, ShutdownResponse,
};
use overlay::query::{Query, MAX_CLIENT_ID_BYTES};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::auth::CONTROL_TOKEN_HEADER;
use crate::faults::Traffic;
use crate::hooks::{Event, EventKind};
use crate::node::Node;
use crate::query::coordinate::coordinate;
use crate::query::counters::Counted;
use crate::query::route::RouteContext;
use crate::results::{ChunkContent, ChunkLookup};

/// Largest chunk a client may ask for: a typed chunk of this many records stays a few MB.
const MAX_CHUNK_SIZE: i32 = 10_000;

/// Longest entry of a client's `hops`, in bytes (process ids are short names).
pub const MAX_HOP_BYTES: usize = 64;

/// Checks what a client sent before any work or forwarding: `hops` no longer than the tree
/// can be deep (it has this many processes) with short entries, and `client_id` within its cap.
/// The reason becomes `invalid_query:<reason>`.
fn check_request(request: &QueryRequest, processes: usize) -> Result<(), String> {
    if request.hops.len() > processes {
        return Err(format!(
            "hops has {} entries; a path through this cluster has at most {processes}",
            request.hops.len()
        ));
    }
    if let Some(hop) = request.hops.iter().find(|hop| hop.len() > MAX_HOP_BYTES) {
        return Err(format!(
            "hops entry '{}' is longer than {MAX_HOP_BYTES} bytes",
            overlay::query::quote(hop)
        ));
    }
    overlay::query::check_len("client_id", &request.client_id, MAX_CLIENT_ID_BYTES)
        .map_err(|err| err.to_string())
}

/// The `OverlayNode` service of one node.
#[derive(Debug, Clone)]
pub struct NodeService {
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
}

impl NodeService {
    /// Wraps a node; a `Shutdown` call sets `shutdown` to true.
    pub fn new(node: Arc<Node>, shutdown: watch::Sender<bool>) -> Self {
        Self { node, shutdown }
    }

    fn answer_status(&self, request: &QueryRequest, status: String) -> QueryResponse {
        QueryResponse {
            hops: request.hops.clone(),
            status,
            ..Default::default()
        }
    }
}

#[tonic::async_trait]
impl OverlayNode for NodeService {
    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<QueryResponse>, Status> {
        let started = Instant::now();
        let mut request = request.into_inner();
        let node = &self.node;
        node.faults.on_answer(Traffic::Client).await?;
        if let Err(why) = check_request(&request, node.config.processes.len()) {
            // Nothing of the oversized request is echoed.
            request.hops.clear();
            request.client_id.clear();
            return Ok(Response::new(
                self.answer_status(&request, format!("invalid_query:{why}")),
            ));
        }
        if request.hops.iter().any(|hop| hop == &node.id().0) {
            return Ok(Response::new(
                self.answer_status(&request, "loop_detected".to_string()),
            ));
        }
        let query = match Query::parse(&request.query_type, &request.query_params) {
            Ok(query) => query,
            Err(err) => {
                return Ok(Response::new(
                    self.answer_status(&request, format!("invalid_query:{err}")),
                ))
            }
        };
        let team = match node.team_of(query.team.as_deref()) {
            Ok(team) => team.to_string(),
            Err(why) => {
                return Ok(Response::new(
                    self.answer_status(&request, format!("invalid_query:{why}")),
                ))
            }
        };
        // Admission before any work; the permit is released when this handler ends, on
        // every path (answer, error, client cancellation dropping the future).
        let mut permit = match node.admission.admit(&team, None).await {
            Ok(permit) => permit,
            Err(rejection) => {
                return Ok(Response::new(
                    self.answer_status(&request, rejection.status().to_string()),
                ))
            }
        };
        node.routing.add(Counted::Coordinated, 1);
        fire_query_event(node, EventKind::QueryStarted, &request, &team, |e| e);
        // Routing starts here: the client's hops are echoed in the answer but never reach the
        // router, so a client cannot name nodes to be passed over (their days would go missing).
        let mut hops = request.hops.clone();
        hops.push(node.id().0.clone());
        let ctx = RouteContext {
            query_json: serde_json::to_string(&query).unwrap_or_default().into(),
            query: Arc::new(query),
            hops: vec![node.id().0.clone()],
            team: node.forwarding_team(&team).to_string(),
            deadline: Instant::now() + node.query_deadline,
        };
        let done = coordinate(node, &ctx).await;
        // The answer's hops: the path to this node, then every node that served a slice.
        for server in &done.served_by {
            if !hops.contains(server) {
                hops.push(server.clone());
            }
        }
        if done.rejected_downstream {
            fire_query_event(node, EventKind::QueryFailed, &request, &team, |e| {
                e.with("status", "rejected")
                    .with("missing_nodes", done.missing_nodes.clone())
            });
            return Ok(Response::new(QueryResponse {
                hops,
                status: "rejected".to_string(),
                ..Default::default()
            }));
        }
        let chunk_size = match request.chunk_size {
            size if size > 0 => size.min(MAX_CHUNK_SIZE) as usize,
            _ => node.chunk_size,
        };
        let format = RecordFormat::try_from(request.record_format).unwrap_or(RecordFormat::Json);
        let total_records = done.answer.len() as i64;
        let (uid, total_chunks) = node.results.insert(done.answer, chunk_size, format);
        let took = started.elapsed();
        node.times.record(took);
        permit.mark_succeeded();
        tracing::debug!(%uid, total_records, took_ms = took.as_millis() as u64, "query answered");
        let partial = !done.missing_nodes.is_empty() || !done.missing_dates.is_empty();
        let kind = if partial {
            EventKind::QueryFailed
        } else {
            EventKind::QueryCompleted
        };
        fire_query_event(node, kind, &request, &team, |e| {
            e.with("uid", uid.as_str())
                .with("records", total_records)
                .with("took_ms", took.as_secs_f64() * 1000.0)
                .with("partial", partial)
                .with("missing_nodes", done.missing_nodes.clone())
        });
        Ok(Response::new(QueryResponse {
            uid,
            total_chunks: total_chunks as i32,
            total_records,
            hops,
            status: "ready".to_string(),
            partial,
            missing_dates: done.missing_dates,
            missing_nodes: done.missing_nodes,
            processing_us: took.as_micros() as i64,
        }))
    }

    async fn get_chunk(
        &self,
        request: Request<ChunkRequest>,
    ) -> Result<Response<ChunkResponse>, Status> {
        self.node.faults.on_answer(Traffic::Client).await?;
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
