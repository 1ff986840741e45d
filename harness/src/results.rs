//! `results.json`: everything a run measured and everything needed to redraw and reproduce it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::faults::step::StepFaults;

mod data;
mod levels;
mod sameness;
mod scale;
pub use data::DataServed;
pub use levels::{estimate_text, Figure, Level};
pub use sameness::differences;
pub use scale::{IdleFigures, TopologyRun};

use crate::fairness::demand::StepFairness;
use crate::stats::StepMeasure;
use crate::workload::Workload;

/// Version of the file layout.
pub const SCHEMA: u32 = 1;

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResults {
    /// File layout version.
    pub schema: u32,
    /// Run id (folder name).
    pub run_id: String,
    /// The resolved workload (after command-line overrides).
    pub workload: Workload,
    /// The cluster config the nodes were started with (after overrides and port moves).
    pub cluster_config: serde_json::Value,
    /// Git revision of the sources, when known.
    pub git_revision: String,
    /// The machine.
    pub machine: Machine,
    /// Unix time the run started.
    pub started_unix_s: u64,
    /// Wall time of the whole run, seconds.
    pub wall_s: f64,
    /// Stopped early (Ctrl-C or an error): what is here was measured before.
    pub interrupted: Option<String>,
    /// One hop to a single node, same mix and levels.
    pub baseline: Option<StrategyRun>,
    /// Per strategy.
    pub strategies: Vec<StrategyRun>,
    /// The workload's thresholds on every step.
    #[serde(default)]
    pub thresholds: Vec<crate::thresholds::ThresholdCheck>,
    /// The data served, as checked (absent from older results).
    #[serde(default)]
    pub data: DataServed,
}

/// Where it ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// OS and architecture.
    pub os: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// CPU model.
    pub cpu_model: String,
    /// Harness version.
    pub harness_version: String,
}

/// One strategy (or the baseline) across the sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StrategyRun {
    /// Strategy name (`baseline` for the reference).
    pub strategy: String,
    /// The address queries were sent to.
    pub target: String,
    /// Seconds the cluster took to answer after start.
    pub startup_s: f64,
    /// Steps in sweep order.
    pub steps: Vec<Step>,
    /// Every node's metrics at the end.
    pub processes: Vec<ProcessSnapshot>,
    /// Recent log lines per node (from metrics, else the log file's tail).
    pub logs: BTreeMap<String, Vec<String>>,
    /// State transitions reported by the nodes.
    pub state_transitions: Vec<String>,
    /// The same, structured, for the state timeline chart.
    #[serde(default)]
    pub state_changes: Vec<StateChange>,
    /// When each step began, seconds since the cluster was up, and its label.
    #[serde(default)]
    pub step_starts: Vec<(f64, String)>,
    /// The generated topology it ran on, when the workload sweeps topologies.
    #[serde(default)]
    pub topology: Option<TopologyRun>,
    /// Virtual hosts: the links between them as set up, with the mechanism of each setting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::netns::LinkInForce>,
}

/// One node's state tracker changing state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StateChange {
    /// Seconds since the cluster of this strategy was up.
    pub at_s: f64,
    /// The node.
    pub node: String,
    /// Previous state.
    pub from: String,
    /// New state.
    pub to: String,
    /// What decided it.
    pub reason: String,
}

/// One (concurrency, repetition) step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    /// Workers or most in flight.
    pub concurrency: u32,
    /// Repetition, from 0.
    pub repetition: u32,
    /// What it measured.
    pub measure: StepMeasure,
    /// The target node's per-team admission counters after the step (cumulative).
    pub admission: Vec<TeamAdmissionSnapshot>,
    /// What the fault schedule did, when the workload has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<StepFaults>,
    /// The sampled requests and the slowest one's spans, when the workload traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::StepTrace>,
}

/// A node's per-team admission counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TeamAdmissionSnapshot {
    /// Team.
    pub team: String,
    /// Running now.
    pub active: i32,
    /// Admitted so far.
    pub admitted: i64,
    /// Rejected so far.
    pub rejected: i64,
    /// Waiting now.
    pub queued: i32,
    /// Mean wait, ms.
    pub avg_wait_ms: f64,
    /// Finished so far.
    pub completed: i64,
}

/// One node's metrics.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    /// Id.
    pub id: String,
    /// host:port.
    pub address: String,
    /// Role.
    pub role: String,
    /// Team.
    pub team: String,
    /// healthy / unhealthy / unreachable.
    pub status: String,
    /// Active queries.
    pub active: i32,
    /// Result queue size.
    pub queue: i32,
    /// Mean processing time, ms.
    pub avg_ms: f64,
    /// Data files loaded.
    pub files: i32,
    /// Rows held.
    pub rows: i64,
    /// Queries served.
    pub queries_served: i64,
    /// Strategy reported.
    pub strategy: String,
    /// Per-team admission counters.
    pub teams: Vec<TeamAdmissionSnapshot>,
    /// Days the partition map gives the node.
    #[serde(default)]
    pub days_assigned: i32,
    /// Assigned days it holds data for (`YYYYMMDD`).
    #[serde(default)]
    pub days_held: Vec<String>,
    /// The fingerprint it reports of the files of the days it holds.
    #[serde(default)]
    pub data_fingerprint: String,
    /// The same fingerprint recomputed from the files on this machine: `Some(true)` when it
    /// matches, `None` when not checked (remote cluster, or the node did not answer).
    #[serde(default)]
    pub fingerprint_matches: Option<bool>,
}

/// The name of the run of `strategy` on `topology`: the strategy, with the node count when the
/// run sweeps topologies (`strict_65n`). Its files and folders are named after it.
pub fn run_name(strategy: &str, topology: Option<&TopologyRun>) -> String {
    match topology {
        Some(t) => format!("{strategy}_{}n", t.nodes),
        None => strategy.to_string(),
    }
}

impl StrategyRun {
    /// The name reports and files use: the strategy, with the node count when the run sweeps
    /// topologies (`strict_65n`).
    pub fn name(&self) -> String {
        run_name(&self.strategy, self.topology.as_ref())
    }

    /// Steps merged across repetitions, one per concurrency level, in sweep order.
    pub fn by_level(&self) -> Vec<(u32, StepMeasure)> {
        let mut levels: Vec<(u32, StepMeasure)> = Vec::new();
        for step in &self.steps {
            match levels.iter_mut().find(|(c, _)| *c == step.concurrency) {
                Some((_, merged)) => merge_into(merged, &step.measure),
                None => levels.push((step.concurrency, step.measure.clone())),
            }
        }
        levels
    }

    /// Every step merged.
    pub fn total(&self) -> StepMeasure {
        let mut total = StepMeasure::default();
        for step in &self.steps {
            merge_into(&mut total, &step.measure);
        }
        total
    }
}

/// Adds `other` into `into` (counts, histograms, verdicts and windows add up; timelines
/// concatenate).
pub fn merge_into(into: &mut StepMeasure, other: &StepMeasure) {
    into.elapsed_s += other.elapsed_s;
    into.warmup_queries += other.warmup_queries;
    into.overall.merge(&other.overall);
    for (team, series) in &other.teams {
        into.teams.entry(team.clone()).or_default().merge(series);
    }
    for (query, counts) in &other.queries {
        let c = into.queries.entry(query.clone()).or_default();
        c.ok += counts.ok;
        c.rejected += counts.rejected;
        c.failed += counts.failed;
        c.records += counts.records;
    }
    let offset = into.timeline.len() as u32;
    into.timeline
        .extend(other.timeline.iter().cloned().map(|mut p| {
            p.second += offset;
            p
        }));
    for (error, n) in &other.errors {
        *into.errors.entry(error.clone()).or_default() += n;
    }
    into.correctness.merge(&other.correctness);
    into.partial += other.partial;
    into.retried += other.retried;
}

impl RunResults {
    /// Writes `results.json` into `dir`.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join("results.json");
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads `results.json` from a run folder (or the file itself).
    pub fn load(path: &Path) -> anyhow::Result<RunResults> {
        let file = if path.is_dir() {
            path.join("results.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a results file", file.display()))
    }

    /// The capacity the fairness reference shares out at `level`: the most requests per second
    /// any strategy of the run answered there (so a strategy that leaves capacity idle is not
    /// excused by its own low total).
    pub fn capacity_at(&self, level: u32) -> f64 {
        self.strategies
            .iter()
            .flat_map(|r| r.by_level())
            .filter(|(c, _)| *c == level)
            .map(|(_, m)| m.throughput())
            .fold(0.0, f64::max)
    }

    /// Demand-aware and plain fairness of a strategy's `measure` at `level`.
    pub fn fairness(&self, level: u32, measure: &StepMeasure) -> StepFairness {
        StepFairness::of(measure, &self.workload.tenants, self.capacity_at(level))
    }

    /// Baseline first (when measured), then the strategies.
    pub fn all_runs(&self) -> Vec<&StrategyRun> {
        self.baseline.iter().chain(self.strategies.iter()).collect()
    }
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;
