//! `harness run`: data → (baseline) → per strategy: start the cluster with that strategy →
//! warm-up and measure each concurrency level → collect metrics and logs → stop; then the
//! reports. Ctrl-C stops the load, stops the cluster and still writes what was measured.
//!
//! - [`prepare`] — the workload with its overrides, data, answer checker, cluster config,
//!   control pre-flight.
//! - [`strategy`] — the sweep, and one strategy: start → measure the levels → collect.
//! - [`collect`] — the nodes' metrics at the end turned into the results model.
//! - [`conformance`] — what the nodes report checked against what the workload asks.
//! - [`thresholds`] — the workload's `[thresholds]` evaluated on the results.
//! - [`provenance`] — the run id, git revision and machine.
//! - `scale` — what a cluster's size costs: idle CPU, membership messages, memory.
//! - `traces` — the nodes' span files and each step's sampler, read back into its trace.
//!
//! This module: the options, [`run`], the rules that fail a run that measured everything,
//! Ctrl-C and the progress bar.

pub mod collect;
pub mod conformance;
pub mod prepare;
pub mod provenance;
mod scale;
pub mod strategy;
pub mod thresholds;
mod traces;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use overlay::date::unix_ms;
use tokio::sync::watch;

pub use prepare::resolve;
pub use provenance::run_id;

use crate::cluster::binary::node_binary;
use crate::raw::RawWriter;
use crate::results::{RunResults, SCHEMA};
use crate::stop::Stop;
use crate::workload::{ClusterMode, Workload};
use strategy::Ctx;

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
    /// Passed to every node after the workload's `cluster.node_args` (e.g. `--no-hedge`).
    pub node_args: Vec<String>,
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
        prepare::ensure_data(&workload, options.progress)?;
    }
    let data = prepare::check_data(&workload)?;
    let cluster = prepare::cluster_config(&workload)?;
    let token = prepare::control_token();
    prepare::check_control_service(&workload, &cluster, &token).await?;
    let run_id = run_id(started_unix_s);
    let run_dir = options.out.join(&workload.name).join(&run_id);
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let config_path = run_dir.join("cluster_config.json");
    std::fs::write(&config_path, cluster.text()?)?;

    let (stop_tx, stop) = Stop::channel();
    let ctrl_c = tokio::spawn(watch_ctrl_c(stop_tx));
    let bar = progress_bar(&workload, options.progress);
    let mut results = RunResults {
        schema: SCHEMA,
        run_id: run_id.clone(),
        workload: workload.clone(),
        cluster_config: cluster.json,
        git_revision: provenance::git_revision(),
        machine: provenance::machine(),
        started_unix_s,
        wall_s: 0.0,
        interrupted: None,
        baseline: None,
        strategies: Vec::new(),
        thresholds: Vec::new(),
        data,
    };
    let ctx = Ctx {
        workload: &workload,
        run_dir: &run_dir,
        node_bin: node_bin.as_deref(),
        stop: stop.clone(),
        bar: &bar,
        checker: prepare::answer_checker(&workload)?,
        raw: if workload.raw {
            Some(Arc::new(RawWriter::create(&run_dir, options.raw)?))
        } else {
            None
        },
        plain_progress: options.progress && !std::io::stderr().is_terminal(),
        token,
    };
    let outcome = strategy::sweep(&ctx, &config_path, &mut results).await;
    ctrl_c.abort();
    bar.finish_and_clear();
    finish(&mut results, &stop, &outcome, started);
    crate::report::write_all(&run_dir, &results)?;
    link_latest(&options.out.join(&workload.name), &run_id);
    outcome?;
    verdict(&results, &run_dir)?;
    Ok(run_dir)
}

/// Records how the run ended, how long it took and its threshold checks.
fn finish(results: &mut RunResults, stop: &Stop, outcome: &anyhow::Result<()>, started: Instant) {
    if stop.is_set() {
        results.interrupted = Some("stopped by Ctrl-C".to_string());
    }
    if let Err(err) = outcome {
        results.interrupted = Some(format!("{err:#}"));
    }
    results.wall_s = started.elapsed().as_secs_f64();
    results.thresholds = thresholds::evaluate(results);
}

/// Fails a run that measured everything but answered wrongly or missed a threshold.
fn verdict(results: &RunResults, run_dir: &Path) -> anyhow::Result<()> {
    if let Some(failure) = correctness_failure(results) {
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
    Ok(())
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

/// The sweep's progress bar: one tick per step, hidden when not shown or not a terminal.
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

/// First Ctrl-C: stop after the step and write what was measured; second: exit at once.
async fn watch_ctrl_c(stop: watch::Sender<bool>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        crate::say::progress(format_args!("\nstopping: finishing the step, stopping the cluster, writing what was measured (Ctrl-C again to abort)"));
        let _ = stop.send(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    }
}

/// Points `<workload>/latest` at the run just written.
fn link_latest(workload_dir: &Path, run_id: &str) {
    let link = workload_dir.join("latest");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(run_id, &link);
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;
    use crate::results::{fixture, Machine, Step};
    use crate::verdict::Correctness;
    use crate::workload::validate::{parse, validate};

    fn results_with(correctness: &[Correctness]) -> RunResults {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join("workloads/fairness_sweep.toml");
        let mut spec = parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        spec.cluster.config = spec.cluster.config.map(|c| root.join(c));
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
                trace: None,
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
            data: Default::default(),
            strategies: vec![fixture::strategy("fair_queue", steps)],
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
}
