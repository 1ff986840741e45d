//! `harness cluster up|down|status|prometheus-config`: a local cluster in the background.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use overlay::config::ClusterConfig;

use crate::cli::{ClusterRefArgs, ClusterUpArgs, PrometheusConfigArgs};
use crate::cluster::binary::node_binary;
use crate::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use crate::cluster::prometheus::{scrape_config, ScrapeTarget};
use crate::cluster::state::{cluster_dir, is_node_process, netns_record, state_path, ClusterState};
use crate::commands::metrics;
use crate::netns::{Layout, VirtualHosts};

/// `cluster up`: starts the processes, waits until all answer, records their pids, returns.
pub async fn up(args: ClusterUpArgs) -> anyhow::Result<()> {
    let record = state_path(&args.config);
    if let Ok(state) = ClusterState::load(&record) {
        if state.pids.values().any(|&pid| is_node_process(pid)) {
            anyhow::bail!("a cluster for {} is already running (see `harness cluster status`); stop it with `harness cluster down`", args.config.display());
        }
    }
    let started = Instant::now();
    let log_dir = cluster_dir(&args.config).join("logs");
    let hosts = if args.netns {
        Some(virtual_hosts(&args.config)?)
    } else {
        None
    };
    let namespaces = hosts.as_ref().map(VirtualHosts::namespaces);
    let options = LaunchOptions {
        config_path: args.config.clone(),
        dataset_root: args.dataset_root.clone(),
        node_dataset_roots: Default::default(),
        node_binary: node_binary(true)?,
        log_dir: log_dir.clone(),
        settings: NodeSettings {
            metrics: true,
            ..NodeSettings::default()
        },
        extra_args: args.node_args.clone(),
        ready_timeout: Duration::from_secs(args.ready_timeout_s),
    };
    let cluster = LocalCluster::start_in(options, namespaces.unwrap_or_default())
        .await
        .inspect_err(|_| {
            let _ = std::fs::remove_file(netns_record(&args.config));
        })?;
    let leader = cluster.leader_address();
    let metrics: BTreeMap<String, String> = cluster
        .metrics_addresses
        .iter()
        .map(|(id, address)| (id.0.clone(), address.clone()))
        .collect();
    let pids = cluster.detach();
    let netns_run = hosts.map(VirtualHosts::keep);
    if let Some(run) = &netns_run {
        println!("virtual hosts of run {run}: one network namespace per host (ovl-{run}-*)");
    }
    ClusterState {
        config: args.config.clone(),
        pids: pids.clone(),
        log_dir: log_dir.clone(),
        netns_run,
        metrics: metrics.clone(),
    }
    .save(&record)?;
    for (id, address) in &metrics {
        println!("{id} metrics at http://{address}/metrics");
    }
    println!(
        "cluster of {} processes answering after {:.2} s; leader at {leader}; logs in {}",
        pids.len(),
        started.elapsed().as_secs_f64(),
        log_dir.display()
    );
    println!(
        "stop it with: harness cluster down {}",
        args.config.display()
    );
    Ok(())
}

/// `cluster prometheus-config`: the scrape config of a background cluster, on stdout.
pub fn prometheus_config(args: PrometheusConfigArgs) -> anyhow::Result<()> {
    let state = ClusterState::load(&state_path(&args.config))?;
    anyhow::ensure!(
        !state.metrics.is_empty(),
        "the cluster of {} records no metrics addresses; restart it with `harness cluster up`",
        args.config.display()
    );
    let config = ClusterConfig::load(&args.config)?;
    let targets: Vec<ScrapeTarget> = state
        .metrics
        .iter()
        .map(|(node, address)| ScrapeTarget {
            node: node.clone(),
            team: config
                .processes
                .values()
                .find(|p| p.id.0 == *node)
                .map(|p| p.team.clone())
                .unwrap_or_default(),
            address: address.clone(),
        })
        .collect();
    print!("{}", scrape_config(&targets, args.scrape_interval_s));
    Ok(())
}

/// Virtual hosts for a config, their run id recorded first (see [`netns_record`]).
fn virtual_hosts(config: &Path) -> anyhow::Result<VirtualHosts> {
    let parsed = ClusterConfig::load(config)?;
    let run = Layout::fresh_run_id();
    let record = netns_record(config);
    if let Some(parent) = record.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&record, &run).with_context(|| format!("cannot write {}", record.display()))?;
    VirtualHosts::create(&parsed, &run).map_err(|err| {
        let _ = std::fs::remove_file(&record);
        anyhow::Error::new(err)
            .context(format!("{}: cannot set up virtual hosts", config.display()))
    })
}

/// `cluster down`: SIGTERM to each recorded node, SIGKILL after 5 s; then removes the virtual
/// hosts recorded for the config (always with `--netns`, even without a node record).
pub async fn down(args: ClusterRefArgs) -> anyhow::Result<()> {
    let record = state_path(&args.config);
    let netns = netns_record(&args.config);
    if args.netns && !record.exists() {
        return remove_virtual_hosts(&netns);
    }
    let state = ClusterState::load(&record)?;
    let running: Vec<(String, u32)> = state
        .pids
        .into_iter()
        .filter(|(_, pid)| is_node_process(*pid))
        .collect();
    for (_, pid) in &running {
        // SAFETY: kill(2) on a pid verified to run overlay-node.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while running.iter().any(|(_, pid)| is_node_process(*pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (id, pid) in &running {
        if is_node_process(*pid) {
            eprintln!("node {id} (pid {pid}) did not stop in 5 s; killing it");
            // SAFETY: as above.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
    std::fs::remove_file(&record).with_context(|| format!("cannot remove {}", record.display()))?;
    println!("stopped {} node processes", running.len());
    if args.netns || state.netns_run.is_some() {
        remove_virtual_hosts(&netns)?;
    }
    Ok(())
}

/// Removes the virtual hosts whose run id `record` names, then the record.
fn remove_virtual_hosts(record: &Path) -> anyhow::Result<()> {
    let run = std::fs::read_to_string(record).with_context(|| {
        format!(
            "no virtual hosts recorded at {} (nothing to remove)",
            record.display()
        )
    })?;
    let run = run.trim();
    crate::netns::remove_run(run)?;
    std::fs::remove_file(record).with_context(|| format!("cannot remove {}", record.display()))?;
    println!("removed the virtual hosts of run {run}");
    Ok(())
}

/// `cluster status`: the metrics table of the config's processes.
pub async fn status(args: ClusterRefArgs) -> anyhow::Result<()> {
    metrics::run(crate::cli::MetricsArgs {
        node: None,
        config: args.config,
        json: false,
        tls: Default::default(),
    })
    .await
}
