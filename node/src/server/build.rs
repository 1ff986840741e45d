//! Building a node from its flags: the config and this process's entry, its days of the
//! partition map loaded from disk, the cluster secret, the hooks, and every part of [`Node`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use overlay::config::{ClusterConfig, NodeId, ProcessConfig};
use overlay::dataset::list_dates;
use overlay::partition::PartitionMap;

use crate::admission::{Admission, AdmissionLimits};
use crate::auth::{read_token_file, ClusterAuth, ControlSettings};
use crate::cli::NodeArgs;
use crate::health::backoff::Backoff;
use crate::health::breaker::BreakerSettings;
use crate::health::monitor::StateMonitor;
use crate::health::peer_health::PeerHealth;
use crate::health::reroute::ReroutePlans;
use crate::holdings::Holdings;
use crate::hooks::builtin::{parse_kinds, JsonLinesHook, LogHook, DEFAULT_HOOK_EVENTS};
use crate::hooks::{EventKind, HookPool, HookSettings};
use crate::listen::{default_max_connections, raise_fd_limit, ConnectionLimits};
use crate::logs::LogRing;
use crate::node::Node;
use crate::peer_clients::PeerClients;
use crate::results::ResultStore;
use crate::store::{LoadReport, Table};
use crate::tail::TailTolerance;
use crate::tls::NodeTls;

/// Loads everything else the node needs around its config and entry (from [`load_config`]);
/// fails with a message naming the file or setting at fault.
pub async fn build_node(
    args: &NodeArgs,
    logs: LogRing,
    config: ClusterConfig,
    me: ProcessConfig,
) -> anyhow::Result<Node> {
    let tls = NodeTls::load(
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        args.tls_ca.as_deref(),
    )?;
    let data = load_data(args, &config).await?;
    warn_unresolvable_peers(&config, &me.id).await;
    let cluster_token = load_cluster_token(args, &config)?;
    let hooks = HookPool::new(me.id.as_str(), HookSettings::default());
    register_hooks(args, &me.id, &hooks)?;
    let peer_health = PeerHealth::new(
        me.id.clone(),
        config
            .processes
            .keys()
            .filter(|peer| **peer != me.id)
            .cloned(),
        config.health.failure_threshold,
        &BreakerSettings::default(),
        hooks.clone(),
        ReroutePlans::new(me.id.clone(), &config, &data.partition),
    );
    let s = &config.strategies;
    Ok(Node {
        tail: Arc::new(TailTolerance::new(me.id.clone(), &config, hooks.clone())),
        peer_health: Arc::new(peer_health),
        state: Arc::new(StateMonitor::new(config.state.clone())),
        hooks,
        faults: Arc::default(),
        control: ControlSettings {
            enabled: args.enable_control,
            token: args.control_token.clone(),
        },
        routing: Arc::default(),
        retry_backoff: Backoff::default(),
        admission: Admission::new(s.fairness_strategy, admission_limits(&config)),
        results: ResultStore::new(
            me.id.as_str(),
            Duration::from_secs(s.result_ttl_s),
            s.result_cache_bytes,
            s.result_cache_entries as usize,
        ),
        peer_clients: Arc::new(PeerClients::new(
            &config,
            &me.id,
            &ClusterAuth::new(cluster_token.as_deref()),
            tls.as_ref(),
        )?),
        membership: Arc::default(),
        cluster_token,
        tls,
        connections: ConnectionLimits {
            max_connections: args
                .max_connections
                .unwrap_or_else(|| default_max_connections(raise_fd_limit())),
            idle_timeout: Duration::from_secs(args.idle_timeout_s.max(1)),
        },
        max_streams_per_connection: args.max_streams_per_connection.max(1),
        metrics_addr: super::metrics_address(args, &me).map(|(address, _)| address),
        chunk_size: s.chunk_size as usize,
        dataset_root: args.dataset_root.clone(),
        me,
        partition: Arc::new(data.partition),
        table: Arc::new(data.table),
        load_report: data.load_report,
        holdings: Arc::new(data.holdings),
        config: Arc::new(config),
        logs,
        times: Default::default(),
        started: Instant::now(),
        query_deadline: Duration::from_secs(args.query_deadline_s.max(1)),
    })
}

/// The config with the flags' overrides applied, and this process's entry in it.
pub fn load_config(args: &NodeArgs) -> anyhow::Result<(ClusterConfig, ProcessConfig)> {
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
    Ok((config, me))
}

/// What a node serves from: the partition map and its own days, loaded.
struct LoadedData {
    partition: PartitionMap,
    table: Table,
    load_report: LoadReport,
    holdings: Holdings,
}

/// Loads this node's days of the partition map from the dataset root, warning about days
/// the root or the node lacks.
async fn load_data(args: &NodeArgs, config: &ClusterConfig) -> anyhow::Result<LoadedData> {
    let started = Instant::now();
    let id = NodeId(args.id.clone());
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
    let partition = PartitionMap::from_config(config);
    let my_dates = partition.dates_held_by(&id);
    let load_root = root.clone();
    let (table, load_report) =
        tokio::task::spawn_blocking(move || Table::load(&load_root, &my_dates))
            .await
            .context("loader thread failed")??;
    // An empty root is one warning (in `warn_missing_days`), not a list of missing folders.
    let empty_root = available.is_empty() && load_report.files_loaded == 0;
    log_load_report(&id, root, &load_report, started, empty_root);
    let holdings = Holdings::survey(root, &partition.dates_held_by(&id), &table);
    warn_missing_days(&id, config, root, &available, &holdings);
    Ok(LoadedData {
        partition,
        table,
        load_report,
        holdings,
    })
}

/// Logs what the load found: its warnings, one line per reason rows were skipped for (with
/// the count and the first such row), and the totals.
fn log_load_report(
    id: &NodeId,
    root: &std::path::Path,
    report: &LoadReport,
    started: Instant,
    empty_root: bool,
) {
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if !report.days_missing.is_empty() && !empty_root {
        let days: Vec<String> = report
            .days_missing
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::warn!(
            "[Loader] {id}: {} assigned day folder(s) missing or unreadable under {}: {}",
            days.len(),
            root.display(),
            days.join(", ")
        );
    }
    for rows in &report.skipped {
        tracing::warn!(
            "[Loader] {id} skipped {} row(s) as {}; first at {}",
            rows.count,
            rows.reason.name(),
            rows.first
        );
    }
    tracing::info!(
        "[Loader] {id} loaded {} rows from {} files in {} ms ({} rows skipped)",
        report.rows_loaded,
        report.files_loaded,
        started.elapsed().as_millis(),
        report.rows_skipped,
    );
}

/// How long resolving one peer's host may take at start-up before it is reported.
const PEER_RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Warns, naming the process and host, about every peer whose host does not resolve now. The
/// node still starts: the name may resolve by the time the peer is called.
async fn warn_unresolvable_peers(config: &ClusterConfig, own: &NodeId) {
    let peers = config.processes.values().filter(|p| &p.id != own);
    let checks = peers.map(|peer| async move {
        let lookup = tokio::net::lookup_host(peer.address());
        let why = match tokio::time::timeout(PEER_RESOLVE_TIMEOUT, lookup).await {
            Ok(Ok(mut addresses)) => match addresses.next() {
                Some(_) => return,
                None => "no addresses".to_string(),
            },
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("no answer within {} s", PEER_RESOLVE_TIMEOUT.as_secs()),
        };
        tracing::warn!(
            "[Server] {own}: peer {} at host '{}' does not resolve ({why}); calls to it fail until it does",
            peer.id,
            peer.host
        );
    });
    futures::future::join_all(checks).await;
}

/// The admission limits of the config's `strategies` block.
fn admission_limits(config: &ClusterConfig) -> AdmissionLimits {
    let s = &config.strategies;
    AdmissionLimits {
        max_active: s.max_active,
        per_team_limit: s.per_team_limit,
        hybrid_threshold: s.hybrid_threshold,
        team_weights: s.team_weights.clone(),
        queue_capacity: s.queue_capacity,
        queue_timeout: Duration::from_millis(s.queue_timeout_ms),
    }
}

/// Warns, naming the days, when the dataset root lacks days of the config's team bounds (or
/// has none at all), and when days this node was given hold no rows.
fn warn_missing_days(
    id: &NodeId,
    config: &ClusterConfig,
    root: &std::path::Path,
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
    if available.is_empty() && holdings.held.is_empty() {
        tracing::warn!(
            "[Loader] {id}: dataset root {} has no day folders (YYYYMMDD/): it holds no data, and answers coordinated here will lack every day",
            root.display()
        );
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
