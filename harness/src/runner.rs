//! `harness run`: data → (baseline) → per strategy: start the cluster with that strategy →
//! warm-up and measure each concurrency level → collect metrics and logs → stop; then the
//! reports. Ctrl-C stops the load, stops the cluster and still writes what was measured.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use overlay::config::{ClusterConfig, NodeId, Role};
use overlay::date::unix_ms;
use overlay::proto::MetricsResponse;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::checker::load_dataset;
use crate::cluster::binary::node_binary;
use crate::cluster::launcher::{log_tail, LaunchOptions, LocalCluster};
use crate::cluster::ports::{free_ports, localize};
use crate::commands::metrics::fetch;
use crate::control::ControlClient;
use crate::data::generate::GenerateOptions;
use crate::faults::execute::FaultTargets;
use crate::faults::step::run_with_faults;
use crate::faults::FaultPlan;
use crate::load::driver::{run_step, StepPlan, Stop, Target};
use crate::load::mix::PreparedMix;
use crate::raw::{RawStep, RawWriter};
use crate::report::json::{
    Machine, ProcessSnapshot, RunResults, StateChange, Step, StrategyRun, TeamAdmissionSnapshot,
    SCHEMA,
};
use crate::verdict::AnswerChecker;
use crate::workload::validate::{parse, validate};
use crate::workload::{ClusterMode, Workload};

/// What `harness run` was asked.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The workload file.
    pub workload: PathBuf,
    /// Reports root (default `reports`); the run goes to `<out>/<workload>/<run-id>/`.
    pub out: PathBuf,
    /// Replaces `sweep.strategies`.
    pub strategies: Option<Vec<String>>,
    /// Replaces `sweep.concurrency`.
    pub concurrency: Option<Vec<i64>>,
    /// Replaces `data.path` (tests point it at a temporary folder).
    pub data_path: Option<PathBuf>,
    /// Build the node first when running under cargo.
    pub build_node: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Format of the raw per-request results (`requests.csv` by default).
    pub raw: crate::raw::RawFormat,
}

/// Reads the workload and applies the command-line overrides, then checks it.
pub fn resolve(options: &RunOptions) -> anyhow::Result<Workload> {
    let text = std::fs::read_to_string(&options.workload)
        .with_context(|| format!("cannot read workload {}", options.workload.display()))?;
    let mut spec = parse(&options.workload, &text)?;
    if let Some(strategies) = &options.strategies {
        spec.sweep.strategies = strategies.clone();
    }
    if let Some(levels) = &options.concurrency {
        spec.sweep.concurrency = levels.clone();
    }
    if let Some(path) = &options.data_path {
        spec.data.path = path.clone();
    }
    Ok(validate(&options.workload, spec)?)
}

/// Runs a workload; returns the run folder. An error after measuring started still leaves
/// the reports of what was measured.
pub async fn run(options: RunOptions) -> anyhow::Result<PathBuf> {
    let workload = resolve(&options)?;
    let started = Instant::now();
    let started_unix_s = unix_ms() / 1000;
    let node_bin = match workload.mode {
        ClusterMode::Local => Some(node_binary(options.build_node)?),
        ClusterMode::Remote => None,
    };
    if workload.mode == ClusterMode::Local {
        ensure_data(&workload, options.progress)?;
    }
    let cluster_config = derived_config(&workload)?;
    check_control_service(&workload, &cluster_config).await?;
    let run_id = run_id(started_unix_s);
    let run_dir = options.out.join(&workload.name).join(&run_id);
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let config_path = run_dir.join("cluster_config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&cluster_config)?)?;

    let (stop_tx, stop) = Stop::channel();
    let ctrl_c = tokio::spawn(watch_ctrl_c(stop_tx));
    let bar = progress_bar(&workload, options.progress);
    let mut results = RunResults {
        schema: SCHEMA,
        run_id: run_id.clone(),
        workload: workload.clone(),
        cluster_config,
        git_revision: git_revision(),
        machine: machine(),
        started_unix_s,
        wall_s: 0.0,
        interrupted: None,
        baseline: None,
        strategies: Vec::new(),
        thresholds: Vec::new(),
    };
    let ctx = Ctx {
        workload: &workload,
        run_dir: &run_dir,
        node_bin: node_bin.as_deref(),
        stop: stop.clone(),
        bar: &bar,
        checker: answer_checker(&workload)?,
        raw: if workload.raw {
            Some(Arc::new(RawWriter::create(&run_dir, options.raw)?))
        } else {
            None
        },
        plain_progress: options.progress && !std::io::stderr().is_terminal(),
    };
    let outcome = sweep(&ctx, &config_path, &mut results).await;
    ctrl_c.abort();
    bar.finish_and_clear();
    if stop.is_set() {
        results.interrupted = Some("stopped by Ctrl-C".to_string());
    }
    if let Err(err) = &outcome {
        results.interrupted = Some(format!("{err:#}"));
    }
    results.wall_s = started.elapsed().as_secs_f64();
    results.thresholds = crate::thresholds::evaluate(&results);
    crate::report::write_all(&run_dir, &results)?;
    link_latest(&options.out.join(&workload.name), &run_id);
    outcome?;
    if let Some(failure) = correctness_failure(&results) {
        bail!(
            "{failure}; see the CORRECTNESS section of the reports in {}",
            run_dir.display()
        );
    }
    let failed: Vec<_> = results
        .thresholds
        .iter()
        .filter(|c| !c.passed)
        .cloned()
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} threshold checks failed (reports in {}):\n{}",
            failed.len(),
            results.thresholds.len(),
            run_dir.display(),
            crate::thresholds::lines(&failed).join("\n")
        );
    }
    Ok(run_dir)
}

/// Why a run that measured everything still fails: wrong or silently partial answers, in any
/// step of any strategy. `None` when the checker found neither.
pub fn correctness_failure(results: &RunResults) -> Option<String> {
    let (wrong, silent) = results
        .strategies
        .iter()
        .flat_map(|s| &s.steps)
        .map(|step| &step.measure.correctness)
        .fold((0, 0), |(w, p), c| (w + c.wrong, p + c.partial_silent));
    (wrong + silent > 0)
        .then(|| format!("the checker found {wrong} wrong and {silent} silently partial answers"))
}

/// A remote cluster's fault schedule goes through the nodes' control services: every node it
/// names must accept control requests before anything starts.
async fn check_control_service(w: &Workload, cluster_config: &Value) -> anyhow::Result<()> {
    if w.mode != ClusterMode::Remote || w.faults.is_empty() {
        return Ok(());
    }
    let config = ClusterConfig::from_json(&cluster_config.to_string())
        .with_context(|| format!("cluster config {}", w.config.display()))?;
    let token = std::env::var("OVERLAY_CONTROL_TOKEN").unwrap_or_default();
    let nodes: std::collections::BTreeSet<&str> = w
        .faults
        .events
        .iter()
        .flat_map(|e| std::iter::once(e.target.as_str()).chain(e.peer.as_deref()))
        .filter(|id| *id != crate::faults::plan::CLIENT_PEER)
        .collect();
    for id in nodes {
        let Some(process) = config.process(&overlay::config::NodeId(id.to_string())) else {
            continue;
        };
        ControlClient::new(id, &process.address(), &token)?
            .list()
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "{err}\nthe [[fault]] schedule of {} needs the control service of {id}; start the nodes with --enable-control (and set OVERLAY_CONTROL_TOKEN to their token)",
                    w.name
                )
            })?;
    }
    Ok(())
}

/// The checker of the mix's aggregate answers: the harness's own scan of the dataset, when
/// the mix has aggregates and the data is on this machine.
fn answer_checker(w: &Workload) -> anyhow::Result<Option<Arc<AnswerChecker>>> {
    if !w.mix.iter().any(|m| m.query_type == "aggregate") || !w.data_path.is_dir() {
        return Ok(None);
    }
    let records = load_dataset(&w.data_path)
        .with_context(|| format!("reading {} to check answers", w.data_path.display()))?;
    Ok(Some(Arc::new(AnswerChecker::new(records, &w.mix))))
}

struct Ctx<'a> {
    workload: &'a Workload,
    run_dir: &'a Path,
    node_bin: Option<&'a Path>,
    stop: Stop,
    bar: &'a ProgressBar,
    checker: Option<Arc<AnswerChecker>>,
    raw: Option<Arc<RawWriter>>,
    plain_progress: bool,
}

async fn sweep(ctx: &Ctx<'_>, config_path: &Path, results: &mut RunResults) -> anyhow::Result<()> {
    if ctx.workload.baseline && ctx.workload.mode == ClusterMode::Local {
        let path = ctx.run_dir.join("baseline_config.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&baseline_config(ctx.workload)?)?,
        )?;
        results.baseline = Some(measure_strategy(ctx, &path, "baseline", &[]).await?);
    }
    for strategy in &ctx.workload.strategies {
        if ctx.stop.is_set() {
            break;
        }
        let mut args = vec!["--fairness-strategy".to_string(), strategy.clone()];
        let w = ctx.workload;
        if let Some(v) = w.max_active {
            args.extend(["--max-active".to_string(), v.to_string()]);
        }
        if let Some(v) = w.per_team_limit {
            args.extend(["--per-team-limit".to_string(), v.to_string()]);
        }
        if let Some(v) = w.hybrid_threshold {
            args.extend(["--hybrid-threshold".to_string(), v.to_string()]);
        }
        args.extend(w.node_args.iter().cloned());
        let run = measure_strategy(ctx, config_path, strategy, &args).await?;
        results.strategies.push(run);
    }
    Ok(())
}

/// Starts (or attaches to) the cluster, measures every level, collects metrics and logs, stops.
async fn measure_strategy(
    ctx: &Ctx<'_>,
    config_path: &Path,
    strategy: &str,
    args: &[String],
) -> anyhow::Result<StrategyRun> {
    let w = ctx.workload;
    ctx.bar.set_prefix(format!("{strategy}: starting"));
    let start = Instant::now();
    let faults = if strategy == "baseline" {
        FaultPlan::default()
    } else {
        w.faults.clone()
    };
    let events_dir = ctx.run_dir.join("events").join(strategy);
    let mut args = args.to_vec();
    args.extend([
        "--events-file".to_string(),
        events_dir.join("events-{id}.jsonl").display().to_string(),
    ]);
    if faults.uses_control_service() {
        args.push("--enable-control".to_string());
    }
    let mut cluster = match (w.mode, ctx.node_bin) {
        (ClusterMode::Local, Some(bin)) => Some(
            LocalCluster::start(LaunchOptions {
                config_path: config_path.to_path_buf(),
                dataset_root: w.data_path.clone(),
                node_dataset_roots: Default::default(),
                node_binary: bin.to_path_buf(),
                log_dir: ctx.run_dir.join("logs").join(strategy),
                extra_args: args.clone(),
                ready_timeout: Duration::from_secs_f64(w.ready_timeout_s),
            })
            .await
            .with_context(|| format!("starting the cluster for {strategy}"))?,
        ),
        _ => None,
    };
    let startup_s = start.elapsed().as_secs_f64();
    let up_ms = unix_ms();
    let mut step_starts = Vec::new();
    let config = ClusterConfig::load(config_path)?;
    let address = config.leader().address();
    let spares: Vec<String> = config
        .processes
        .values()
        .filter(|p| p.role == Role::TeamLeader)
        .map(|p| p.address())
        .collect();
    if strategy != "baseline" {
        let mut reported = Vec::new();
        for p in config.processes.values() {
            if let Ok(m) = fetch(&p.address()).await {
                reported.push((p.id.0.clone(), m));
            }
        }
        let differ = crate::provenance::mismatches(w, strategy, &reported);
        if !differ.is_empty() {
            if let Some(cluster) = cluster.take() {
                cluster.stop();
            }
            bail!(
                "the cluster does not run what the workload says: {}",
                differ.join("; ")
            );
        }
    }
    let target = Target::connect(&address, w.connections as usize, &spares).await?;
    let mix = Arc::new(PreparedMix::new(&w.mix, &w.tenants));
    let mut steps = Vec::new();
    'levels: for &level in &w.concurrency {
        for repetition in 0..w.repetitions {
            if ctx.stop.is_set() {
                break 'levels;
            }
            ctx.bar
                .set_prefix(format!("{strategy} · concurrency {level}"));
            step_starts.push(((unix_ms() - up_ms) as f64 / 1000.0, format!("c={level}")));
            let plan = StepPlan {
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
                        step: steps.len() as u32,
                    };
                    (writer, step)
                }),
                seed: w.seed ^ (u64::from(level) << 16) ^ u64::from(repetition),
                checker: ctx.checker.clone(),
                completed: Arc::new(AtomicU64::new(0)),
                plain_progress: ctx
                    .plain_progress
                    .then(|| format!("{strategy} · concurrency {level} · repetition {repetition}")),
            };
            if let Some(label) = &plan.plain_progress {
                eprintln!("{label}: started");
            }
            let step = run_step(
                &plan,
                &target,
                mix.clone(),
                ctx.stop.clone(),
                Some(ctx.bar.clone()),
            );
            let (measure, step_faults) = if faults.is_empty() {
                (step.await, None)
            } else {
                let mut targets = FaultTargets {
                    cluster: cluster.as_mut(),
                    config: &config,
                    token: std::env::var("OVERLAY_CONTROL_TOKEN").unwrap_or_default(),
                };
                let (measure, step_faults) = run_with_faults(
                    step,
                    &faults,
                    &mut targets,
                    plan.warmup,
                    &plan.completed,
                    ctx.stop.clone(),
                    cluster_events_dir(w, &events_dir),
                )
                .await;
                (measure, Some(step_faults))
            };
            let admission = fetch(&address)
                .await
                .map(|m| m.teams.iter().map(admission_of).collect())
                .unwrap_or_default();
            steps.push(Step {
                concurrency: level,
                repetition,
                measure,
                admission,
                faults: step_faults,
            });
            ctx.bar.inc(1);
        }
    }
    let metrics = final_metrics(&config).await;
    let processes = snapshot(&config, &metrics);
    let logs = collect_logs(&config, &metrics, cluster.as_ref());
    let state_changes = state_changes(&config, &metrics, up_ms);
    let state_transitions = state_changes
        .iter()
        .map(|c| {
            format!(
                "{:>8.2} s  {}: {} -> {} ({})",
                c.at_s, c.node, c.from, c.to, c.reason
            )
        })
        .collect();
    if let Some(cluster) = cluster {
        cluster.stop();
    }
    Ok(StrategyRun {
        strategy: strategy.to_string(),
        target: address,
        startup_s,
        steps,
        processes,
        logs,
        state_transitions,
        state_changes,
        step_starts,
    })
}

/// Every node's metrics at the end of a strategy's run, each asked once; a node that does
/// not answer is missing.
async fn final_metrics(config: &ClusterConfig) -> BTreeMap<NodeId, MetricsResponse> {
    let mut metrics = BTreeMap::new();
    for p in config.processes.values() {
        if let Ok(m) = fetch(&p.address()).await {
            metrics.insert(p.id.clone(), m);
        }
    }
    metrics
}

/// Every node's state transitions since `since_ms` (as the nodes still remember them), oldest
/// first, timed from `since_ms`.
fn state_changes(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
    since_ms: u64,
) -> Vec<StateChange> {
    let mut changes = Vec::new();
    for p in config.processes.values() {
        if let Some(m) = metrics.get(&p.id) {
            changes.extend(
                m.state_transitions
                    .iter()
                    .filter(|t| t.unix_ms >= since_ms as i64)
                    .map(|t| StateChange {
                        at_s: (t.unix_ms as f64 - since_ms as f64) / 1000.0,
                        node: p.id.0.clone(),
                        from: t.from.clone(),
                        to: t.to.clone(),
                        reason: t.reason.clone(),
                    }),
            );
        }
    }
    changes.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    changes
}

fn admission_of(t: &overlay::proto::TeamAdmission) -> TeamAdmissionSnapshot {
    TeamAdmissionSnapshot {
        team: t.team.clone(),
        active: t.active,
        admitted: t.admitted,
        rejected: t.rejected,
        queued: t.queued,
        avg_wait_ms: t.avg_wait_ms,
        completed: t.completed,
    }
}

/// Where the nodes' event logs are, when the harness can read them (a local cluster).
fn cluster_events_dir<'a>(w: &Workload, dir: &'a Path) -> Option<&'a Path> {
    (w.mode == ClusterMode::Local).then_some(dir)
}

/// Each node's figures at the end of the run (`unreachable` when it did not answer).
fn snapshot(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
) -> Vec<ProcessSnapshot> {
    config
        .processes
        .values()
        .map(|p| {
            let address = p.address();
            match metrics.get(&p.id) {
                Some(m) => ProcessSnapshot {
                    id: p.id.0.clone(),
                    address,
                    role: m.role.clone(),
                    team: m.team.clone(),
                    status: if m.is_healthy { "healthy" } else { "unhealthy" }.to_string(),
                    active: m.active_requests,
                    queue: m.queue_size,
                    avg_ms: f64::from(m.avg_processing_time_ms),
                    files: m.data_files_loaded,
                    rows: m.rows_loaded,
                    queries_served: m.queries_served,
                    strategy: m.fairness_strategy.clone(),
                    teams: m.teams.iter().map(admission_of).collect(),
                },
                None => ProcessSnapshot {
                    id: p.id.0.clone(),
                    address,
                    role: p.role.name().to_string(),
                    team: p.team.clone(),
                    status: "unreachable".to_string(),
                    ..Default::default()
                },
            }
        })
        .collect()
}

/// Each node's recent log lines: as it reports them, or the tail of its log file when it
/// reports none (a local node that is down).
fn collect_logs(
    config: &ClusterConfig,
    metrics: &BTreeMap<NodeId, MetricsResponse>,
    cluster: Option<&LocalCluster>,
) -> BTreeMap<String, Vec<String>> {
    config
        .processes
        .values()
        .map(|p| {
            let recent = match metrics.get(&p.id) {
                Some(m) if !m.recent_logs.is_empty() => m.recent_logs.clone(),
                _ => cluster
                    .and_then(|c| c.nodes.get(&p.id))
                    .map(|n| log_tail(&n.log_path).lines().map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            (p.id.0.clone(), recent)
        })
        .collect()
}

/// The cluster config with the workload's settings merged in (fair_queue weights from the
/// tenants) and, with `ports = "free"`, every node on a free loopback port.
fn derived_config(w: &Workload) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(&w.config)
        .with_context(|| format!("cannot read {}", w.config.display()))?;
    let mut strategies = Map::new();
    let weights: Map<String, Value> = w
        .tenants
        .iter()
        .map(|t| (t.team.clone(), json!(t.weight)))
        .collect();
    strategies.insert("team_weights".to_string(), Value::Object(weights));
    let text = if w.free_ports && w.mode == ClusterMode::Local {
        localize(&text, &strategies)?
    } else {
        let mut config: Value = serde_json::from_str(&text).context("config is not JSON")?;
        if let Some(block) = config.as_object_mut().and_then(|o| {
            o.entry("strategies")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        }) {
            block.extend(strategies);
        }
        config.to_string()
    };
    ClusterConfig::from_json(&text)
        .map_err(|e| anyhow::anyhow!("the derived cluster config is invalid: {e}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// One leader holding every day, no neighbours: the one-hop reference.
fn baseline_config(w: &Workload) -> anyhow::Result<Value> {
    let port = free_ports(1)?[0];
    let team = w
        .tenants
        .first()
        .map_or("green".to_string(), |t| t.team.clone());
    Ok(json!({
        "strategies": {"fairness_strategy": "strict", "max_active": 100000, "per_team_limit": 100000},
        "teams": {team.clone(): {"date_bounds": ["20200810", "20200924"]}},
        "processes": {"A": {"id": "A", "role": "leader", "team": team, "host": "127.0.0.1", "port": port, "neighbors": []}}
    }))
}

fn ensure_data(w: &Workload, progress: bool) -> anyhow::Result<()> {
    let present = std::fs::read_dir(&w.data_path)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    if !w.data_generate {
        bail!(
            "{}: data.path {} is missing or empty and data.generate is false",
            w.file.display(),
            w.data_path.display()
        );
    }
    let options = GenerateOptions {
        root: w.data_path.clone(),
        scale: w.data_scale,
        seed: w.data_seed,
    };
    crate::commands::data::generate_with_progress(&options, progress)?;
    Ok(())
}

fn progress_bar(w: &Workload, show: bool) -> ProgressBar {
    // Not a terminal: plain lines from the steps instead of a bar.
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let runs = w.strategies.len() + usize::from(w.baseline && w.mode == ClusterMode::Local);
    let bar = ProgressBar::new((runs * w.concurrency.len() * w.repetitions as usize) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:32} [{bar:30}] {pos}/{len} steps · {elapsed} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

async fn watch_ctrl_c(stop: watch::Sender<bool>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("\nstopping: finishing the step, stopping the cluster, writing what was measured (Ctrl-C again to abort)");
        let _ = stop.send(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    }
}

fn link_latest(workload_dir: &Path, run_id: &str) {
    let link = workload_dir.join("latest");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(run_id, &link);
}

/// `YYYYMMDD-HHMMSS` (UTC) of a Unix time.
pub fn run_id(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".to_string(),
    }
}

fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    Machine {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Correctness;

    fn results_with(correctness: &[Correctness]) -> RunResults {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join("workloads/fairness_sweep.toml");
        let mut spec = parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        spec.cluster.config = root.join(&spec.cluster.config);
        let steps = correctness
            .iter()
            .map(|c| Step {
                concurrency: 1,
                repetition: 0,
                measure: crate::stats::StepMeasure {
                    correctness: c.clone(),
                    ..Default::default()
                },
                admission: Vec::new(),
                faults: None,
            })
            .collect();
        RunResults {
            schema: SCHEMA,
            run_id: run_id(0),
            workload: validate(&path, spec).unwrap(),
            cluster_config: json!({}),
            git_revision: String::new(),
            machine: Machine::default(),
            started_unix_s: 0,
            wall_s: 0.0,
            interrupted: None,
            baseline: None,
            thresholds: Vec::new(),
            strategies: vec![StrategyRun {
                strategy: "fair_queue".to_string(),
                target: String::new(),
                startup_s: 0.0,
                steps,
                processes: Vec::new(),
                logs: BTreeMap::new(),
                state_transitions: Vec::new(),
                state_changes: Vec::new(),
                step_starts: Vec::new(),
            }],
        }
    }

    fn counts(correct: u64, wrong: u64, partial_silent: u64) -> Correctness {
        Correctness {
            checked: correct + wrong + partial_silent,
            correct,
            wrong,
            partial_silent,
            ..Default::default()
        }
    }

    #[test]
    fn wrong_or_silently_partial_answers_fail_the_run() {
        let clean = results_with(&[counts(10, 0, 0), counts(5, 0, 0)]);
        assert_eq!(correctness_failure(&clean), None);
        let wrong = results_with(&[counts(10, 0, 0), counts(4, 1, 0)]);
        assert_eq!(
            correctness_failure(&wrong).as_deref(),
            Some("the checker found 1 wrong and 0 silently partial answers")
        );
        let silent = results_with(&[counts(9, 0, 1)]);
        assert_eq!(
            correctness_failure(&silent).as_deref(),
            Some("the checker found 0 wrong and 1 silently partial answers")
        );
    }

    #[test]
    fn run_ids_are_utc_timestamps() {
        assert_eq!(run_id(0), "19700101-000000");
        assert_eq!(run_id(951_782_400 + 3_661), "20000229-010101");
        assert_eq!(run_id(1_735_689_599), "20241231-235959");
    }
}
