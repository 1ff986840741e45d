//! The sweep: the baseline (when asked) and then every strategy, each as start the cluster →
//! check it runs what the workload says → measure every level → collect → stop.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use overlay::config::{ClusterConfig, FairnessStrategy, Role};
use overlay::date::unix_ms;

use super::collect::{admission_of, collect};
use super::conformance::mismatches;
use super::prepare::{baseline_team, topology_config};
use super::scale;
use super::traces;
use crate::client::fetch;
use crate::cluster::config::baseline;
use crate::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use crate::faults::execute::FaultTargets;
use crate::faults::step::{run_with_faults, StepFaults};
use crate::faults::FaultPlan;
use crate::load::driver::{run_step, StepPlan, Target};
use crate::load::mix::PreparedMix;
use crate::raw::{RawStep, RawWriter};
use crate::results::{RunResults, Step, StrategyRun, TeamAdmissionSnapshot, TopologyRun};
use crate::stats::StepMeasure;
use crate::stop::Stop;
use crate::verdict::AnswerChecker;
use crate::workload::{ClusterMode, Workload};

/// The name the one-hop reference run is reported under.
const BASELINE: &str = "baseline";

/// What every strategy of a run shares.
pub(super) struct Ctx<'a> {
    /// The checked workload.
    pub workload: &'a Workload,
    /// The run's folder.
    pub run_dir: &'a Path,
    /// The node binary (a local cluster).
    pub node_bin: Option<&'a Path>,
    /// Ctrl-C.
    pub stop: Stop,
    /// The progress bar (hidden when not shown).
    pub bar: &'a ProgressBar,
    /// The answer checker, when the run checks answers.
    pub checker: Option<Arc<AnswerChecker>>,
    /// Where measured requests are written, when they are.
    pub raw: Option<Arc<RawWriter>>,
    /// Plain progress lines instead of the bar.
    pub plain_progress: bool,
    /// The nodes' control token.
    pub token: String,
}

/// Measures the baseline (a local cluster, when asked) and then every strategy (on every
/// generated topology in turn, when the workload sweeps them), appending each to `results`;
/// stops early on Ctrl-C.
pub(super) async fn sweep(
    ctx: &Ctx<'_>,
    config_path: &Path,
    results: &mut RunResults,
) -> anyhow::Result<()> {
    let w = ctx.workload;
    if w.baseline && w.mode == ClusterMode::Local {
        let path = ctx.run_dir.join("baseline_config.json");
        std::fs::write(&path, baseline(&baseline_team(w))?.text()?)?;
        let settings = NodeSettings::default();
        let run = measure_strategy(ctx, &path, BASELINE, settings, None).await?;
        results.baseline = Some(run);
    }
    if w.topologies.is_empty() {
        return each_strategy(ctx, config_path, None, results).await;
    }
    for spec in &w.topologies {
        if ctx.stop.is_set() {
            break;
        }
        let (derived, topology) = topology_config(w, spec)?;
        let path = ctx
            .run_dir
            .join(format!("cluster_config_{}n.json", topology.nodes));
        std::fs::write(&path, derived.text()?)?;
        crate::say::progress(format_args!("topology: {}", topology.label));
        each_strategy(ctx, &path, Some(topology), results).await?;
    }
    Ok(())
}

/// Every strategy of the workload on the cluster of `config_path`.
async fn each_strategy(
    ctx: &Ctx<'_>,
    config_path: &Path,
    topology: Option<TopologyRun>,
    results: &mut RunResults,
) -> anyhow::Result<()> {
    let w = ctx.workload;
    for strategy in &w.strategies {
        if ctx.stop.is_set() {
            break;
        }
        let settings = NodeSettings {
            fairness_strategy: Some(
                strategy
                    .parse::<FairnessStrategy>()
                    .map_err(anyhow::Error::msg)?,
            ),
            max_active: w.max_active,
            per_team_limit: w.per_team_limit,
            hybrid_threshold: w.hybrid_threshold,
            ..NodeSettings::default()
        };
        let run = measure_strategy(ctx, config_path, strategy, settings, topology.clone()).await?;
        results.strategies.push(run);
    }
    Ok(())
}

/// One strategy's cluster while its levels are measured.
struct Running<'a> {
    strategy: &'a str,
    faults: FaultPlan,
    cluster: Option<LocalCluster>,
    config: ClusterConfig,
    address: String,
    events_dir: PathBuf,
    up_ms: u64,
}

impl Running<'_> {
    /// The links between the virtual hosts as they were set up (none on loopback).
    fn links(&self) -> Vec<crate::netns::LinkInForce> {
        self.cluster
            .as_ref()
            .and_then(LocalCluster::hosts)
            .map(|hosts| hosts.links().to_vec())
            .unwrap_or_default()
    }
}

/// Starts (or attaches to) the cluster, measures every level, collects metrics and logs, stops.
async fn measure_strategy(
    ctx: &Ctx<'_>,
    config_path: &Path,
    strategy: &str,
    mut settings: NodeSettings,
    mut topology: Option<TopologyRun>,
) -> anyhow::Result<StrategyRun> {
    // Files and folders of one cluster: the strategy's name, with the size when swept.
    let name = crate::results::run_name(strategy, topology.as_ref());
    let node_args = if strategy == BASELINE {
        &[][..]
    } else {
        &ctx.workload.node_args[..]
    };
    ctx.bar.set_prefix(format!("{name}: starting"));
    let start = Instant::now();
    let faults = if strategy == BASELINE {
        FaultPlan::default()
    } else {
        ctx.workload.faults.clone()
    };
    let events_dir = ctx.run_dir.join("events").join(&name);
    settings.events_file = Some(events_dir.join("events-{id}.jsonl"));
    settings.enable_control = faults.uses_control_service();
    let traces_dir = traces::set_up(ctx.workload, ctx.run_dir, &name, &mut settings)?;
    let cluster = start_cluster(ctx, config_path, &name, settings, node_args).await?;
    let startup_s = start.elapsed().as_secs_f64();
    let up_ms = unix_ms();
    let config = ClusterConfig::load(config_path)?;
    let mut running = Running {
        strategy,
        faults,
        cluster,
        address: config.leader().address(),
        config,
        events_dir,
        up_ms,
    };
    if strategy != BASELINE {
        check_reported(ctx.workload, &mut running).await?;
    }
    let pids = running.cluster.as_ref().map(LocalCluster::pids);
    if let (Some(pids), true) = (&pids, ctx.workload.idle_s > 0.0 && strategy != BASELINE) {
        let idle = scale::idle_window(pids, &running.config, ctx.workload.idle_s).await;
        topology.get_or_insert_with(TopologyRun::default).idle = Some(idle);
    }
    let (mut steps, step_starts) = measure_levels(ctx, &mut running).await?;
    if let (Some(t), Some(cluster)) = (topology.as_mut(), running.cluster.as_ref()) {
        t.nodes = running.config.processes.len();
        let pids = cluster.pids();
        t.rss_mb = scale::rss_mb(&pids);
        t.pss_mb = scale::pss_mb(&pids);
    }
    let local_data =
        (ctx.workload.mode == ClusterMode::Local).then_some(ctx.workload.data_path.as_path());
    let collected = collect(
        &running.config,
        running.cluster.as_ref(),
        running.up_ms,
        local_data,
    )
    .await;
    let links = running.links();
    if let Some(cluster) = running.cluster {
        cluster.stop();
    }
    traces::attach(ctx.workload, &traces_dir, &mut steps);
    Ok(StrategyRun {
        strategy: strategy.to_string(),
        target: running.address,
        startup_s,
        steps,
        processes: collected.processes,
        logs: collected.logs,
        state_transitions: collected.state_transitions,
        state_changes: collected.state_changes,
        step_starts,
        topology,
        links,
    })
}

/// Starts a local cluster for `strategy` (`None` for a remote one: it is already running).
async fn start_cluster(
    ctx: &Ctx<'_>,
    config_path: &Path,
    strategy: &str,
    settings: NodeSettings,
    node_args: &[String],
) -> anyhow::Result<Option<LocalCluster>> {
    let w = ctx.workload;
    let (ClusterMode::Local, Some(bin)) = (w.mode, ctx.node_bin) else {
        return Ok(None);
    };
    // The one-hop baseline stays on loopback: it has one node, no link to shape or cut.
    let hosts = if w.netns && strategy != BASELINE {
        let config = overlay::config::ClusterConfig::load(config_path)?;
        let run = crate::netns::Layout::fresh_run_id();
        let mut hosts = crate::netns::VirtualHosts::create(&config, &run)
            .with_context(|| format!("setting up virtual hosts for {strategy}"))?;
        hosts
            .shape(&w.network, w.faults.delays_links())
            .with_context(|| format!("shaping the links between virtual hosts for {strategy}"))?;
        Some(hosts)
    } else {
        None
    };
    let namespaces = hosts.as_ref().map(|h| h.namespaces()).unwrap_or_default();
    let cluster = LocalCluster::start_in(
        LaunchOptions {
            config_path: config_path.to_path_buf(),
            dataset_root: w.data_path.clone(),
            node_dataset_roots: Default::default(),
            node_binary: bin.to_path_buf(),
            log_dir: ctx.run_dir.join("logs").join(strategy),
            settings,
            extra_args: node_args.to_vec(),
            ready_timeout: Duration::from_secs_f64(w.ready_timeout_s),
        },
        namespaces,
    )
    .await
    .with_context(|| format!("starting the cluster for {strategy}"))?;
    Ok(Some(cluster.with_hosts(hosts)))
}

/// Refuses to measure a cluster whose nodes report another strategy or other limits than the
/// workload sets (and stops it when the harness started it).
async fn check_reported(w: &Workload, running: &mut Running<'_>) -> anyhow::Result<()> {
    let mut reported = Vec::new();
    for p in running.config.processes.values() {
        if let Ok(m) = fetch(&p.address()).await {
            reported.push((p.id.0.clone(), m));
        }
    }
    let differ = mismatches(w, running.strategy, &reported);
    if differ.is_empty() {
        return Ok(());
    }
    if let Some(cluster) = running.cluster.take() {
        cluster.stop();
    }
    bail!(
        "the cluster does not run what the workload says: {}",
        differ.join("; ")
    )
}

/// Every level and repetition of the sweep: the steps and when each started (seconds since
/// the cluster was up, with its label).
async fn measure_levels(
    ctx: &Ctx<'_>,
    running: &mut Running<'_>,
) -> anyhow::Result<(Vec<Step>, Vec<(f64, String)>)> {
    let w = ctx.workload;
    let spares: Vec<String> = running
        .config
        .processes
        .values()
        .filter(|p| p.role == Role::TeamLeader)
        .map(|p| p.address())
        .collect();
    let target = Target::connect(&running.address, w.connections as usize, &spares).await?;
    // The baseline's one node knows only its own team: every team's requests are sent as
    // that team, so each team is served (and counted under its own name).
    let baseline_team = (running.strategy == BASELINE).then(|| baseline_team(w));
    let mix = Arc::new(PreparedMix::new(
        &w.mix,
        &w.tenants,
        baseline_team.as_deref(),
    ));
    let mut steps = Vec::new();
    let mut step_starts = Vec::new();
    'levels: for &level in &w.concurrency {
        for repetition in 0..w.repetitions {
            if ctx.stop.is_set() {
                break 'levels;
            }
            let strategy = running.strategy;
            ctx.bar
                .set_prefix(format!("{strategy} · concurrency {level}"));
            let since_up_s = (unix_ms() - running.up_ms) as f64 / 1000.0;
            step_starts.push((since_up_s, format!("c={level}")));
            let plan = step_plan(ctx, strategy, level, repetition, steps.len() as u32);
            let measured = measure_step(ctx, running, &plan, &target, mix.clone()).await;
            let (measure, admission, faults) = measured;
            steps.push(Step {
                concurrency: level,
                repetition,
                measure,
                admission,
                faults,
                trace: plan.trace.as_deref().map(|s| traces::unread(w, s)),
            });
            ctx.bar.inc(1);
        }
    }
    Ok((steps, step_starts))
}

/// The shape of one step of the sweep.
fn step_plan(ctx: &Ctx<'_>, strategy: &str, level: u32, repetition: u32, index: u32) -> StepPlan {
    let w = ctx.workload;
    StepPlan {
        mode: w.load,
        lanes: level as usize,
        warmup: w.warmup(),
        length: w.length,
        timeout: Duration::from_secs_f64(w.timeout_s),
        reject_backoff: Duration::from_secs_f64(w.reject_backoff_ms / 1000.0),
        retry_rejected: w.retry_rejected,
        raw: ctx.raw.clone().map(|writer| {
            let step = RawStep {
                strategy: strategy.to_string(),
                concurrency: level,
                repetition,
                step: index,
            };
            (writer, step)
        }),
        seed: w.seed ^ (u64::from(level) << 16) ^ u64::from(repetition),
        checker: ctx.checker.clone(),
        completed: Arc::new(AtomicU64::new(0)),
        plain_progress: ctx
            .plain_progress
            .then(|| format!("{strategy} · concurrency {level} · repetition {repetition}")),
        trace: traces::sampler(w),
    }
}

/// What one step measured, the entry node's admission counters after it, and its fault
/// figures (with a fault schedule).
type Measured = (StepMeasure, Vec<TeamAdmissionSnapshot>, Option<StepFaults>);

/// Runs one step (with the fault schedule, when there is one) and reads the entry node's
/// admission counters after it.
async fn measure_step(
    ctx: &Ctx<'_>,
    running: &mut Running<'_>,
    plan: &StepPlan,
    target: &Target,
    mix: Arc<PreparedMix>,
) -> Measured {
    if let Some(label) = &plan.plain_progress {
        crate::say::progress(format_args!("{label}: started"));
    }
    let step = run_step(plan, target, mix, ctx.stop.clone(), Some(ctx.bar.clone()));
    let (measure, step_faults) = if running.faults.is_empty() {
        (step.await, None)
    } else {
        let mut targets = FaultTargets {
            cluster: running.cluster.as_mut(),
            config: &running.config,
            token: ctx.token.clone(),
        };
        // Event logs are read back only when the harness can see them (a local cluster).
        let events_dir =
            (ctx.workload.mode == ClusterMode::Local).then_some(running.events_dir.as_path());
        let (measure, step_faults) = run_with_faults(
            step,
            &running.faults,
            &mut targets,
            plan.warmup,
            &plan.completed,
            ctx.stop.clone(),
            events_dir,
        )
        .await;
        (measure, Some(step_faults))
    };
    let admission = fetch(&running.address)
        .await
        .map(|m| m.teams.iter().map(admission_of).collect())
        .unwrap_or_default();
    (measure, admission, step_faults)
}
