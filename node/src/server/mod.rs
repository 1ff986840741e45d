//! Starting a node: load config, bind, load data (`build`), register the health service,
//! serve until told to stop.

mod build;

pub use build::{build_node, load_config};

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use overlay::config::{NodeId, ProcessConfig};
use overlay::proto::overlay_control_server::OverlayControlServer;
use overlay::proto::overlay_node_server::OverlayNodeServer;
use overlay::proto::overlay_peer_server::OverlayPeerServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic_health::server::HealthReporter;

use crate::auth::PeerGate;
use crate::cli::NodeArgs;
use crate::control::ControlService;
use crate::health::monitor::{run_monitor, SelfWatch, LATENCY_WINDOW};
use crate::health::state::LoadSample;
use crate::listen::{bind, incoming, listen_address};
use crate::logs::LogRing;
use crate::membership::{self, node::NodeParts};
use crate::node::Node;
use crate::peer_clients::MAX_MESSAGE_BYTES;
use crate::peer_service::PeerService;
use crate::prometheus::{self, RpcLayer, RpcMetrics};
use crate::service::NodeService;

/// How long queries in flight may still run after a stop request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How often the server pings an open connection, and how long it waits for the answer
/// before closing it.
const HTTP2_KEEPALIVE: Duration = Duration::from_secs(20);
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often channels to peers are checked for idleness.
const IDLE_SWEEP: Duration = Duration::from_secs(5);

/// How often answers past their TTL are swept away.
const EXPIRY_SWEEP: Duration = Duration::from_secs(5);

/// Runs a node from its flags until `stop` resolves or a Shutdown call: reads the config,
/// binds its address (or `--listen`) before loading any data, so a bind error comes at once
/// and the port is held while the data loads, then builds the node and serves.
pub async fn run(
    args: &NodeArgs,
    logs: LogRing,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (config, me) = build::load_config(args)?;
    let (host, port) =
        listen_address(args.listen.as_deref(), &me.host, me.port).map_err(anyhow::Error::msg)?;
    let listener = bind(&host, port, me.id.as_str()).await?;
    // The metrics address is bound before the data loads too: a bad one stops the node at once.
    let metrics = match metrics_address(args, &me) {
        Some((address, key)) => Some(prometheus::bind(&address, &key).await?),
        None => None,
    };
    let node = build_node(args, logs, config, me).await?;
    serve_on(Arc::new(node), listener, metrics, stop).await
}

/// Where `/metrics` is served, and the setting that said so: `--metrics-addr`, else the
/// process's `metrics_addr` in the config.
pub fn metrics_address(args: &NodeArgs, me: &ProcessConfig) -> Option<(String, String)> {
    match (&args.metrics_addr, &me.metrics_addr) {
        (Some(flag), _) => Some((flag.clone(), "--metrics-addr".to_string())),
        (None, Some(key)) => Some((key.clone(), format!("processes.{}.metrics_addr", me.id))),
        (None, None) => None,
    }
}

/// Serves on an already-bound listener, and `/metrics` on `metrics` if given.
pub async fn serve_on(
    node: Arc<Node>,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    register_health(&health_reporter).await;
    let mut background = spawn_background(&node, health_reporter);
    background.extend(start_membership(&node, &listener).await?);
    // Calls are timed only when someone can read the figures.
    let rpc_metrics = metrics.as_ref().map(|_| RpcMetrics::default());
    background.extend(spawn_metrics(&node, metrics, rpc_metrics.clone()));
    tracing::info!(
        "[Server] {} ({} of team {}) serving on {} with strategy {}{}",
        node.me.id,
        node.me.role,
        node.me.team,
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        node.admission.strategy(),
        match &node.tls {
            Some(tls) if tls.mutual() => " over mutual TLS",
            Some(_) => " over TLS",
            None => "",
        }
    );
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        tokio::select! {
            () = stop => {}
            _ = shutdown_rx.wait_for(|stop| *stop) => {}
        }
        tracing::info!("[Server] stopping: no new connections, draining queries in flight");
        let _ = signalled_tx.send(());
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &node.tls {
        // The handshake runs on each connection `incoming` yields, so the connection cap,
        // the idle timeout and the accept backoff hold under TLS as well.
        builder = builder
            .tls_config(tls.server_config())
            .context("the --tls-cert/--tls-key/--tls-ca files are not usable")?;
    }
    let server = builder
        .layer(RpcLayer::new(rpc_metrics))
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(node.max_streams_per_connection)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024)
        .add_routes(
            node_routes(&node, shutdown_tx)
                .add_service(health_service)
                .add_service(reflection_v1()?)
                .add_service(reflection_v1alpha()?),
        )
        .serve_with_incoming_shutdown(
            incoming(listener, node.connections, node.me.id.0.clone()),
            shutdown,
        );
    let result = run_until_grace(server, signalled_rx, &node.me.id).await;
    for task in background {
        task.abort();
    }
    node.hooks.shutdown(Duration::from_millis(500)).await;
    tracing::info!("[Server] {} stopped", node.me.id);
    result.context("gRPC server failed")
}

/// Serves `/metrics` on `listener`, if given, logging where.
fn spawn_metrics(
    node: &Arc<Node>,
    listener: Option<TcpListener>,
    rpc: Option<RpcMetrics>,
) -> Option<JoinHandle<()>> {
    let (listener, rpc) = (listener?, rpc?);
    tracing::info!(
        "[Server] {} serves Prometheus metrics at http://{}/metrics",
        node.me.id,
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    Some(prometheus::spawn(listener, node.clone(), rpc))
}

/// The names the standard health service answers for: the server as a whole and the
/// client-facing service. The self-watch turns them NOT_SERVING while the node is failing.
const HEALTH_SERVICES: [&str; 2] = ["", <OverlayNodeServer<NodeService> as NamedService>::NAME];

/// Marks every name of [`HEALTH_SERVICES`] serving.
async fn register_health(reporter: &HealthReporter) {
    for service in HEALTH_SERVICES {
        reporter
            .set_service_status(service, tonic_health::ServingStatus::Serving)
            .await;
    }
}

/// The node's own services: `OverlayNode`, `OverlayPeer` (behind the cluster secret) and
/// `OverlayControl`; a Shutdown call on either of the two that take one sets `shutdown`.
fn node_routes(node: &Arc<Node>, shutdown: watch::Sender<bool>) -> tonic::service::Routes {
    let node_service = OverlayNodeServer::new(NodeService::new(node.clone(), shutdown.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let peer_service = InterceptedService::new(
        OverlayPeerServer::new(PeerService::new(node.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        PeerGate::new(node.cluster_token.clone()),
    );
    let control_service = OverlayControlServer::new(ControlService::new(node.clone(), shutdown));
    tonic::service::Routes::new(node_service)
        .add_service(peer_service)
        .add_service(control_service)
}

/// gRPC server reflection (v1) over every service the node serves: `OverlayNode`,
/// `OverlayPeer`, `OverlayControl`, `grpc.health.v1.Health` and reflection itself, so
/// `grpcurl -plaintext HOST:PORT list` works without the proto file.
fn reflection_v1() -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
> {
    reflection_builder()
        .build_v1()
        .context("the compiled proto descriptors do not load")
}

/// The same reflection in its older `v1alpha` form, which some clients still ask first.
fn reflection_v1alpha() -> anyhow::Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
> {
    reflection_builder()
        .build_v1alpha()
        .context("the compiled proto descriptors do not load")
}

/// The descriptor sets reflection serves: this protocol's and the health service's.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(overlay::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// The node's background tasks: answer expiry and the self-watch.
fn spawn_background(node: &Arc<Node>, reporter: HealthReporter) -> Vec<JoinHandle<()>> {
    let sampled = node.clone();
    let watch = SelfWatch {
        id: node.me.id.0.clone(),
        sample: Box::new(move || LoadSample {
            avg_latency_ms: sampled.times.average_ms_within(LATENCY_WINDOW),
            active: sampled.admission.total_active(),
            queue: sampled.results.pending() as u32,
        }),
        state: node.state.clone(),
        hooks: node.hooks.clone(),
        health_services: HEALTH_SERVICES.to_vec(),
    };
    vec![
        tokio::spawn(expire_answers(node.clone())),
        tokio::spawn(run_monitor(watch, reporter)),
    ]
}

/// Binds the membership protocol's UDP socket on the gRPC listener's address and port, and
/// starts the protocol and the sweep of idle peer channels.
async fn start_membership(
    node: &Arc<Node>,
    listener: &TcpListener,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let address = listener
        .local_addr()
        .context("the gRPC listener has no address")?;
    let socket = tokio::net::UdpSocket::bind(address)
        .await
        .with_context(|| format!("membership cannot bind UDP {address}"))?;
    let parts = NodeParts {
        config: node.config.clone(),
        own: node.me.id.clone(),
        secret: node.cluster_token.clone(),
        peer_health: node.peer_health.clone(),
        faults: node.faults.clone(),
        state: node.state.clone(),
        stats: node.membership.clone(),
    };
    let mut tasks = membership::node::spawn(parts, socket)?;
    let clients = node.peer_clients.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(IDLE_SWEEP);
        loop {
            tick.tick().await;
            let dropped = clients.drop_idle();
            if dropped > 0 {
                tracing::debug!(dropped, "idle peer channels dropped");
            }
        }
    }));
    Ok(tasks)
}

/// Runs the server until it ends, or until [`SHUTDOWN_GRACE`] after the stop signal:
/// graceful shutdown waits for every connection to close, and clients (other nodes among
/// them) keep theirs open, so queries in flight get a bounded grace period, then we stop.
async fn run_until_grace(
    server: impl std::future::Future<Output = Result<(), tonic::transport::Error>>,
    signalled: tokio::sync::oneshot::Receiver<()>,
    id: &NodeId,
) -> Result<(), tonic::transport::Error> {
    let grace_over = async {
        if signalled.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = grace_over => {
            tracing::info!("[Server] {id} connections still open after {SHUTDOWN_GRACE:?}; closing them");
            Ok(())
        }
    }
}

async fn expire_answers(node: Arc<Node>) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP);
    loop {
        tick.tick().await;
        let expired = node.results.expire();
        if expired > 0 {
            tracing::debug!(expired, "expired unread answers");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
