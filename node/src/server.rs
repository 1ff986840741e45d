//! Starting a node: load config and data, bind, serve until told to stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use overlay::config::{ClusterConfig, NodeId};
use overlay::dataset::list_dates;
use overlay::partition::PartitionMap;
use overlay::proto::overlay_control_server::OverlayControlServer;
use overlay::proto::overlay_node_server::OverlayNodeServer;
use overlay::proto::overlay_peer_server::OverlayPeerServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;

use crate::admission::{Admission, AdmissionLimits};
use crate::auth::{read_token_file, ClusterAuth, PeerGate};
use crate::cli::NodeArgs;
use crate::control::ControlService;
use crate::faults::FaultTable;
use crate::health::backoff::Backoff;
use crate::health::breaker::BreakerSettings;
use crate::health::checker::spawn_probes;
use crate::health::monitor::{run_monitor, StateMonitor};
use crate::health::peers::PeerHealth;
use crate::health::reroute::ReroutePlans;
use crate::holdings::Holdings;
use crate::hooks::builtin::{parse_kinds, JsonLinesHook, LogHook, DEFAULT_HOOK_EVENTS};
use crate::hooks::{EventKind, HookPool, HookSettings};
use crate::listen::{bind, default_max_connections, incoming, raise_fd_limit, ConnectionLimits};
use crate::logs::LogRing;
use crate::node::{ControlSettings, Node};
use crate::peer_service::PeerService;
use crate::peers::{Peers, MAX_MESSAGE_BYTES};
use crate::results::ResultStore;
use crate::service::NodeService;
use crate::store::Table;
use crate::tail::TailTolerance;

/// How long queries in flight may still run after a stop request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How often the server pings an open connection, and how long it waits for the answer
/// before closing it.
const HTTP2_KEEPALIVE: Duration = Duration::from_secs(20);
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often answers past their TTL are swept away.
const EXPIRY_SWEEP: Duration = Duration::from_secs(5);

/// Loads everything the node needs; fails with a message naming the file or setting at fault.
pub async fn build_node(args: &NodeArgs, logs: LogRing) -> anyhow::Result<Node> {
    let started = Instant::now();
    let mut config = ClusterConfig::load(&args.config)?;
    args.apply_overrides(&mut config)
        .map_err(anyhow::Error::msg)?;
    for warning in &config.warnings {
        tracing::warn!("{}: {warning}", args.config.display());
    }
    let id = NodeId(args.id.clone());
    let Some(me) = config.process(&id).cloned() else {
        let known: Vec<&str> = config.processes.keys().map(NodeId::as_str).collect();
        bail!(
            "process '{}' is not in {} (known: {})",
            args.id,
            args.config.display(),
            known.join(", ")
        );
    };
    let root = &args.dataset_root;
    if root.exists() && !root.is_dir() {
        bail!(
            "dataset root {} is a file, not a folder of YYYYMMDD/ day folders; pass --dataset-root with the folder",
            root.display()
        );
    }
    if !root.is_dir() {
        bail!(
            "dataset root {} does not exist; run `harness data generate` (synthetic data) or pass --dataset-root",
            root.display()
        );
    }
    let available = list_dates(root)
        .with_context(|| format!("cannot list day folders in {}", root.display()))?;
    // The map comes from the config alone, so every node agrees on it whatever its disk holds.
    let partition = PartitionMap::from_config(&config);
    let my_dates = partition.dates_held_by(&id);
    let load_root = root.clone();
    let (table, load_report) =
        tokio::task::spawn_blocking(move || Table::load(&load_root, &my_dates))
            .await
            .context("loader thread failed")??;
    for warning in &load_report.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        "[Loader] {id} loaded {} rows from {} files in {} ms ({} rows skipped)",
        load_report.rows_loaded,
        load_report.files_loaded,
        started.elapsed().as_millis(),
        load_report.rows_skipped,
    );
    let cluster_token = load_cluster_token(args, &config)?;
    let holdings = Holdings::survey(root, &partition.dates_held_by(&id), &table);
    warn_missing_days(&id, &config, &available, &holdings);
    let s = &config.strategies;
    let limits = AdmissionLimits {
        max_active: s.max_active,
        per_team_limit: s.per_team_limit,
        hybrid_threshold: s.hybrid_threshold,
        team_weights: s.team_weights.clone(),
        queue_capacity: s.queue_capacity,
        queue_timeout: Duration::from_millis(s.queue_timeout_ms),
    };
    let hooks = HookPool::new(id.as_str(), HookSettings::default());
    register_hooks(args, &id, &hooks)?;
    let peer_health = PeerHealth::new(
        id.clone(),
        config.processes.keys().filter(|peer| **peer != id).cloned(),
        config.health.failure_threshold,
        &BreakerSettings::default(),
        hooks.clone(),
        ReroutePlans::new(id.clone(), &config, &partition),
    );
    Ok(Node {
        tail: TailTolerance::new(id.clone(), &config, hooks.clone()),
        peer_health,
        state: StateMonitor::new(config.state.clone()),
        hooks,
        faults: FaultTable::default(),
        control: ControlSettings {
            enabled: args.enable_control,
            token: args.control_token.clone(),
        },
        routing: Default::default(),
        retry_backoff: Backoff::default(),
        admission: Admission::new(s.fairness_strategy, limits),
        results: ResultStore::new(
            id.as_str(),
            Duration::from_secs(s.result_ttl_s),
            s.result_cache_bytes,
            s.result_cache_entries as usize,
        ),
        peers: Peers::new(&config, &id, &ClusterAuth::new(cluster_token.as_deref()))?,
        cluster_token,
        connections: ConnectionLimits {
            max_connections: args
                .max_connections
                .unwrap_or_else(|| default_max_connections(raise_fd_limit())),
            idle_timeout: Duration::from_secs(args.idle_timeout_s.max(1)),
        },
        max_streams_per_connection: args.max_streams_per_connection.max(1),
        chunk_size: s.chunk_size as usize,
        dataset_root: root.clone(),
        me,
        partition,
        table,
        load_report,
        holdings,
        config,
        logs,
        times: Default::default(),
        started: Instant::now(),
        query_deadline: Duration::from_secs(args.query_deadline_s.max(1)),
    })
}

/// Warns, naming the days, when the dataset root lacks days of the config's team bounds (or
/// has none at all), and when days this node was given hold no rows.
fn warn_missing_days(
    id: &NodeId,
    config: &ClusterConfig,
    available: &[overlay::date::DateKey],
    holdings: &Holdings,
) {
    let mut absent = Vec::new();
    for &(first, last) in config.team_date_bounds.values() {
        let mut day = first;
        while day <= last && absent.len() < 400 {
            if !available.contains(&day) {
                absent.push(day.to_string());
            }
            day = day.next_day();
        }
    }
    if available.is_empty() {
        tracing::warn!("[Loader] {id} found no day folders in its dataset root: it holds no data, and answers coordinated here will lack every day");
    } else if !absent.is_empty() {
        tracing::warn!(
            "[Loader] {id}: the dataset root lacks {} day(s) of the config's team bounds: {}",
            absent.len(),
            absent.join(", ")
        );
    }
    if !holdings.lacking.is_empty() {
        let empty: Vec<String> = holdings.lacking.iter().map(ToString::to_string).collect();
        tracing::warn!(
            "[Loader] {id} holds no rows for {} of its {} assigned day(s): {}; answers needing them are declared partial",
            empty.len(),
            holdings.assigned.len(),
            empty.join(", ")
        );
    }
}

/// The cluster secret from `--cluster-token-file`, else the config's `cluster_token_file`;
/// without either, a warning (once) that any client may call `OverlayPeer`.
fn load_cluster_token(args: &NodeArgs, config: &ClusterConfig) -> anyhow::Result<Option<Arc<str>>> {
    let path = args
        .cluster_token_file
        .as_ref()
        .or(config.cluster_token_file.as_ref());
    match path {
        Some(path) => Ok(Some(read_token_file(path)?)),
        None => {
            tracing::warn!(
                "[Server] {} has no cluster secret (--cluster-token-file or the config's cluster_token_file): any client that reaches its port may call OverlayPeer",
                args.id
            );
            Ok(None)
        }
    }
}

/// Registers the built-in hooks the flags ask for.
fn register_hooks(args: &NodeArgs, id: &NodeId, hooks: &HookPool) -> anyhow::Result<()> {
    if let Some(path) = &args.events_file {
        let kinds = parse_kinds(&args.events).map_err(|err| anyhow::anyhow!("--events: {err}"))?;
        let path = PathBuf::from(path.to_string_lossy().replace("{id}", id.as_str()));
        let hook = JsonLinesHook::open(&path)
            .with_context(|| format!("cannot open --events-file {}", path.display()))?;
        hooks.register(&kinds, 0, Arc::new(hook));
    }
    if args.log_events {
        hooks.register(&EventKind::ALL, 10, Arc::new(LogHook::default()));
    } else if !args.no_default_hooks {
        hooks.register(&DEFAULT_HOOK_EVENTS, 10, Arc::new(LogHook { quiet: true }));
    }
    Ok(())
}

/// Serves a built node on its configured address until `stop` resolves or a Shutdown call.
pub async fn serve(
    node: Node,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = bind(&node.me.host, node.me.port, node.me.id.as_str()).await?;
    serve_on(Arc::new(node), listener, stop).await
}

/// Serves on an already-bound listener.
pub async fn serve_on(
    node: Arc<Node>,
    listener: TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OverlayNodeServer<NodeService>>()
        .await;
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let shutdown_tx_control = shutdown_tx.clone();
    let node_service = OverlayNodeServer::new(NodeService::new(node.clone(), shutdown_tx))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let peer_service = InterceptedService::new(
        OverlayPeerServer::new(PeerService::new(node.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        PeerGate::new(node.cluster_token.clone()),
    );
    let control_service =
        OverlayControlServer::new(ControlService::new(node.clone(), shutdown_tx_control));
    let mut background = vec![
        tokio::spawn(expire_answers(node.clone())),
        tokio::spawn(run_monitor(node.clone(), health_reporter.clone())),
    ];
    background.extend(spawn_probes(&node));
    tracing::info!(
        "[Server] {} ({} of team {}) serving on {} with strategy {}",
        node.me.id,
        node.me.role,
        node.me.team,
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        node.admission.strategy()
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
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(node.max_streams_per_connection)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024)
        .add_service(health_service)
        .add_service(node_service)
        .add_service(peer_service)
        .add_service(control_service)
        .serve_with_incoming_shutdown(
            incoming(listener, node.connections, node.me.id.0.clone()),
            shutdown,
        );
    // Graceful shutdown waits for every connection to close, and clients (other nodes among
    // them) keep theirs open; so queries in flight get a bounded grace period, then we stop.
    let grace_over = async {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = grace_over => {
            tracing::info!("[Server] {} connections still open after {SHUTDOWN_GRACE:?}; closing them", node.me.id);
            Ok(())
        }
    };
    for task in background {
        task.abort();
    }
    node.hooks.shutdown(Duration::from_millis(500)).await;
    tracing::info!("[Server] {} stopped", node.me.id);
    result.context("gRPC server failed")
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
