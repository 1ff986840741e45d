//! Checks a [`WorkloadSpec`] and resolves it into a [`Workload`]; every error names the file,
//! the key and what is allowed, and nothing has started when it is reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::{QuerySpecToml, WorkloadSpec};
use crate::faults::{self, FaultContext, FaultPlan};

/// The strategies a node knows (`overlay-node --fairness-strategy`).
pub const STRATEGIES: [&str; 4] = ["strict", "weighted", "hybrid", "fair_queue"];

/// Highest open-loop rate the generator is asked for; beyond it the harness, not the cluster,
/// would be measured.
pub const MAX_RATE: f64 = 100_000.0;

/// Most connections to the entry node a workload may open: each holds a socket (a file
/// descriptor) in the harness and in the node.
pub const MAX_CONNECTIONS: i64 = 1_000;

/// Longest `load.timeout_s` of one query, seconds.
const MAX_TIMEOUT_S: f64 = 3600.0;

/// Most concurrency a level may ask for (each worker is a task; the node caps far lower).
const MAX_CONCURRENCY: i64 = 10_000;

/// A workload file that does not hold together.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct WorkloadError {
    /// The file.
    pub file: String,
    /// The offending key (dotted path).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Local launch or remote attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMode {
    /// The harness starts, watches and stops the node processes.
    Local,
    /// The nodes already run at the config's addresses.
    Remote,
}

/// How queries are paced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum LoadMode {
    /// Each worker sends its next query when the previous one is answered.
    Closed,
    /// Queries are due at `rate` per second, measured from when they were due.
    Open {
        /// Queries per second.
        rate: f64,
        /// Exponential gaps instead of even ones.
        poisson: bool,
    },
}

/// When a step stops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepLength {
    /// After this many measured queries.
    Requests(u64),
    /// After this many measured seconds.
    Seconds(f64),
}

/// One entry of the query mix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixEntry {
    /// Label.
    pub name: String,
    /// `filter`, `aggregate` or `metrics`.
    pub query_type: String,
    /// Relative frequency.
    pub weight: f64,
    /// JSON params (without the team).
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// One team.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    /// Team name.
    pub team: String,
    /// Share of workers or rate, normalised to sum to 1.
    pub share: f64,
    /// Open loop: its own arrival rate, queries per second, when the workload gives one.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Entitlement (fairness index, fair_queue weights).
    pub weight: u32,
}

/// A checked workload, as recorded in `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    /// Report folder name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Seed of all random choices.
    pub seed: u64,
    /// Cluster config path.
    pub config: PathBuf,
    /// Local or remote.
    pub mode: ClusterMode,
    /// Move nodes to free ports.
    pub free_ports: bool,
    /// Start-up timeout, seconds.
    pub ready_timeout_s: f64,
    /// `--max-active`.
    pub max_active: Option<u32>,
    /// `--per-team-limit`.
    pub per_team_limit: Option<u32>,
    /// `--hybrid-threshold`.
    pub hybrid_threshold: Option<f64>,
    /// Extra node arguments.
    pub node_args: Vec<String>,
    /// The nodes serve the control service.
    #[serde(default = "super::spec::default_true")]
    pub control_service: bool,
    /// Dataset root.
    pub data_path: PathBuf,
    /// Generate when missing.
    pub data_generate: bool,
    /// Generator scale.
    pub data_scale: f64,
    /// Generator seed.
    pub data_seed: u64,
    /// Strategies swept.
    pub strategies: Vec<String>,
    /// Concurrency levels swept.
    pub concurrency: Vec<u32>,
    /// Repetitions per level.
    pub repetitions: u32,
    /// Pacing.
    pub load: LoadMode,
    /// Step length.
    pub length: StepLength,
    /// Warm-up seconds per step.
    pub warmup_s: f64,
    /// Per-query timeout, seconds.
    pub timeout_s: f64,
    /// Pause after a rejection, ms.
    pub reject_backoff_ms: f64,
    /// Retry rejected attempts until the timeout.
    #[serde(default = "super::spec::default_true")]
    pub retry_rejected: bool,
    /// Write one row per measured request.
    #[serde(default = "super::spec::default_true")]
    pub raw: bool,
    /// Pass/fail conditions evaluated on every step.
    #[serde(default)]
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Connections shared by the workers.
    pub connections: u32,
    /// Measure the one-hop baseline.
    pub baseline: bool,
    /// Query mix.
    pub mix: Vec<MixEntry>,
    /// Teams.
    pub tenants: Vec<Tenant>,
    /// The fault schedule replayed in every step (empty: none).
    #[serde(default)]
    pub faults: FaultPlan,
}

impl Workload {
    /// Warm-up as a duration.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
}

/// Reads, parses and checks a workload file.
pub fn load(path: &Path) -> Result<Workload, WorkloadError> {
    let text = std::fs::read_to_string(path).map_err(|err| WorkloadError {
        file: path.display().to_string(),
        key: "(file)".to_string(),
        message: format!("cannot read: {err}"),
    })?;
    let spec = parse(path, &text)?;
    validate(path, spec)
}

/// Parses the TOML text (unknown keys are refused).
pub fn parse(path: &Path, text: &str) -> Result<WorkloadSpec, WorkloadError> {
    toml::from_str(text).map_err(|err| WorkloadError {
        file: path.display().to_string(),
        key: "(syntax)".to_string(),
        message: err.to_string().trim().replace('\n', " "),
    })
}

/// True when `value` lies in (`low`, `high`] — or [`low`, `high`] with `low_included` — which
/// NaN never does.
pub(crate) fn within(value: f64, low: f64, high: f64, low_included: bool) -> bool {
    let above = if low_included {
        value >= low
    } else {
        value > low
    };
    above && value <= high
}

/// Builds the errors of one file.
pub(crate) struct Checker<'a> {
    /// The file being checked.
    pub(crate) file: &'a Path,
}

impl Checker<'_> {
    /// An error naming the file, `key` and `message`.
    pub(crate) fn fail<T>(
        &self,
        key: &str,
        message: impl Into<String>,
    ) -> Result<T, WorkloadError> {
        Err(WorkloadError {
            file: self.file.display().to_string(),
            key: key.to_string(),
            message: message.into(),
        })
    }

    fn positive_u32(&self, key: &str, value: i64) -> Result<u32, WorkloadError> {
        if value < 1 || value > i64::from(u32::MAX) {
            return self.fail(key, format!("is {value}; it must be a whole number ≥ 1"));
        }
        Ok(value as u32)
    }

    /// Refuses `value` unless it is one of `allowed`, listing them.
    pub(crate) fn one_of(
        &self,
        key: &str,
        value: &str,
        allowed: &[&str],
    ) -> Result<(), WorkloadError> {
        if allowed.contains(&value) {
            return Ok(());
        }
        self.fail(
            key,
            format!("is '{value}'; allowed: {}", allowed.join(", ")),
        )
    }
}

/// Checks a parsed spec against the rules of `workloads/README.md`.
pub fn validate(path: &Path, spec: WorkloadSpec) -> Result<Workload, WorkloadError> {
    let c = Checker { file: path };
    c.one_of("cluster.mode", &spec.cluster.mode, &["local", "remote"])?;
    c.one_of("cluster.ports", &spec.cluster.ports, &["config", "free"])?;
    let mode = if spec.cluster.mode == "local" {
        ClusterMode::Local
    } else {
        ClusterMode::Remote
    };
    if !spec.cluster.config.is_file() {
        return c.fail(
            "cluster.config",
            format!(
                "{} does not exist (paths are relative to the working directory; shipped configs are in configs/)",
                spec.cluster.config.display()
            ),
        );
    }
    let cluster = match overlay::config::ClusterConfig::load(&spec.cluster.config) {
        Ok(cluster) => cluster,
        Err(err) => {
            return c.fail(
                "cluster.config",
                format!("is not a valid cluster config: {err}"),
            )
        }
    };
    if !within(spec.cluster.ready_timeout_s, 0.0, f64::MAX, false) {
        return c.fail("cluster.ready_timeout_s", "must be a number of seconds > 0");
    }
    let max_active = spec
        .cluster
        .max_active
        .map(|v| c.positive_u32("cluster.max_active", v))
        .transpose()?;
    let per_team_limit = spec
        .cluster
        .per_team_limit
        .map(|v| c.positive_u32("cluster.per_team_limit", v))
        .transpose()?;
    if let Some(t) = spec.cluster.hybrid_threshold {
        if !within(t, 0.0, 1.0, false) {
            return c.fail(
                "cluster.hybrid_threshold",
                format!("is {t}; it must lie in (0, 1]"),
            );
        }
    }
    if !within(spec.data.scale, 0.0, 10.0, false) {
        return c.fail(
            "data.scale",
            format!("is {}; it must lie in (0, 10]", spec.data.scale),
        );
    }
    let strategies = check_strategies(&c, &spec.sweep.strategies, mode)?;
    let concurrency = check_concurrency(&c, &spec.sweep.concurrency)?;
    let repetitions = c.positive_u32("sweep.repetitions", spec.sweep.repetitions)?;
    let tenants = check_tenants(&c, &spec, &cluster)?;
    let (load, length) = check_load(&c, &spec, &tenants)?;
    let fault_context = FaultContext {
        ids: cluster.processes.keys().map(|id| id.as_str()).collect(),
        mode,
        length,
        control_service: spec.cluster.control_service,
    };
    let faults = faults::resolve(path, &spec.faults, &fault_context)?;
    if !within(spec.load.warmup_s, 0.0, 600.0, true) {
        return c.fail("load.warmup_s", "must be seconds in [0, 600]");
    }
    if !within(spec.load.timeout_s, 0.0, MAX_TIMEOUT_S, false) {
        return c.fail(
            "load.timeout_s",
            format!(
                "is {}; it must be seconds in (0, {MAX_TIMEOUT_S}]",
                spec.load.timeout_s
            ),
        );
    }
    if !within(spec.load.reject_backoff_ms, 0.0, f64::MAX, true) {
        return c.fail("load.reject_backoff_ms", "must be milliseconds ≥ 0");
    }
    if !(1..=MAX_CONNECTIONS).contains(&spec.load.connections) {
        return c.fail(
            "load.connections",
            format!(
                "is {}; it must lie in 1..={MAX_CONNECTIONS} (each connection holds a socket in the harness and the node)",
                spec.load.connections
            ),
        );
    }
    let connections = spec.load.connections as u32;
    let mix = check_mix(&c, &spec.queries)?;
    let teams: Vec<String> = tenants.iter().map(|t| t.team.clone()).collect();
    let thresholds = match crate::thresholds::parse(&spec.thresholds, &teams) {
        Ok(thresholds) => thresholds,
        Err((key, message)) => return c.fail(&key, message),
    };
    let name = spec.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("workload")
            .to_string()
    });
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return c.fail("name", format!("'{name}' cannot name a report folder"));
    }
    Ok(Workload {
        name,
        description: spec.description,
        file: path.to_path_buf(),
        seed: spec.seed,
        config: spec.cluster.config,
        mode,
        free_ports: spec.cluster.ports == "free",
        ready_timeout_s: spec.cluster.ready_timeout_s,
        max_active,
        per_team_limit,
        hybrid_threshold: spec.cluster.hybrid_threshold,
        node_args: spec.cluster.node_args,
        control_service: spec.cluster.control_service,
        data_path: spec.data.path,
        data_generate: spec.data.generate,
        data_scale: spec.data.scale,
        data_seed: spec.data.seed.unwrap_or(spec.seed),
        strategies,
        concurrency,
        repetitions,
        load,
        length,
        warmup_s: spec.load.warmup_s,
        timeout_s: spec.load.timeout_s,
        reject_backoff_ms: spec.load.reject_backoff_ms,
        retry_rejected: spec.load.retry_rejected,
        raw: spec.raw,
        thresholds,
        connections,
        baseline: spec.baseline.enabled,
        mix,
        tenants,
        faults,
    })
}

fn check_strategies(
    c: &Checker<'_>,
    strategies: &[String],
    mode: ClusterMode,
) -> Result<Vec<String>, WorkloadError> {
    if strategies.is_empty() {
        return c.fail(
            "sweep.strategies",
            format!("is empty; list some of: {}", STRATEGIES.join(", ")),
        );
    }
    for (i, s) in strategies.iter().enumerate() {
        c.one_of(&format!("sweep.strategies[{i}]"), s, &STRATEGIES)?;
        if strategies[..i].contains(s) {
            return c.fail(
                &format!("sweep.strategies[{i}]"),
                format!("'{s}' is listed twice"),
            );
        }
    }
    if mode == ClusterMode::Remote && strategies.len() > 1 {
        return c.fail(
            "sweep.strategies",
            "a remote cluster cannot be restarted per strategy; list the one strategy it runs",
        );
    }
    Ok(strategies.to_vec())
}

fn check_concurrency(c: &Checker<'_>, levels: &[i64]) -> Result<Vec<u32>, WorkloadError> {
    if levels.is_empty() {
        return c.fail(
            "sweep.concurrency",
            "is empty; list levels such as [1, 10, 50]",
        );
    }
    let mut out = Vec::new();
    for (i, &level) in levels.iter().enumerate() {
        let key = format!("sweep.concurrency[{i}]");
        if !(1..=MAX_CONCURRENCY).contains(&level) {
            return c.fail(
                &key,
                format!("is {level}; levels must lie in 1..={MAX_CONCURRENCY}"),
            );
        }
        out.push(level as u32);
    }
    Ok(out)
}

fn check_load(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    tenants: &[Tenant],
) -> Result<(LoadMode, StepLength), WorkloadError> {
    let l = &spec.load;
    let team_rates: Option<f64> = tenants.iter().map(|t| t.rate).sum();
    c.one_of("load.mode", &l.mode, &["closed", "open"])?;
    c.one_of("load.arrival", &l.arrival, &["uniform", "poisson"])?;
    let length = match (l.requests, l.duration_s) {
        (Some(_), Some(_)) if l.mode == "closed" => {
            return c.fail("load", "give either requests or duration_s, not both")
        }
        (None, None) => return c.fail("load", "give requests (a count) or duration_s (seconds)"),
        (Some(n), _) if n < 1 => return c.fail("load.requests", format!("is {n}; it must be ≥ 1")),
        (_, Some(d)) if !within(d, 0.0, 3600.0, false) => {
            return c.fail(
                "load.duration_s",
                format!("is {d}; it must lie in (0, 3600]"),
            )
        }
        (Some(n), _) => StepLength::Requests(n as u64),
        (None, Some(d)) => StepLength::Seconds(d),
    };
    if l.mode == "closed" {
        if team_rates.is_some() {
            return c.fail(
                "tenant[0].rate",
                "applies to load.mode = \"open\" only; closed loop is paced by the answers",
            );
        }
        if l.rate.is_some() {
            return c.fail(
                "load.rate",
                "applies to mode = \"open\" only; closed loop is paced by the answers",
            );
        }
        return Ok((LoadMode::Closed, length));
    }
    let rate = match (l.rate, team_rates) {
        (Some(_), Some(_)) => {
            return c.fail(
                "load.rate",
                "the tenants give their own rates; drop load.rate (it is their sum)",
            )
        }
        (Some(rate), None) | (None, Some(rate)) => rate,
        (None, None) => {
            return c.fail(
                "load.rate",
                "mode = \"open\" needs a rate (queries per second), or a rate per [[tenant]]",
            )
        }
    };
    if !within(rate, 0.0, MAX_RATE, false) {
        return c.fail(
            "load.rate",
            format!("is {rate}; it must lie in (0, {MAX_RATE}]"),
        );
    }
    if let (Some(n), Some(d)) = (l.requests, l.duration_s) {
        if n as f64 > rate * d {
            return c.fail(
                "load.requests",
                format!("{n} requests cannot be sent at {rate}/s within duration_s = {d} (at most {:.0}); raise the rate or the duration, or drop one", rate * d),
            );
        }
    }
    if let StepLength::Requests(n) = length {
        if n as f64 / rate > 3600.0 {
            return c.fail(
                "load.requests",
                format!("{n} requests at {rate}/s would take over an hour per step"),
            );
        }
    }
    Ok((
        LoadMode::Open {
            rate,
            poisson: l.arrival == "poisson",
        },
        length,
    ))
}

fn check_mix(c: &Checker<'_>, queries: &[QuerySpecToml]) -> Result<Vec<MixEntry>, WorkloadError> {
    if queries.is_empty() {
        return c.fail("query", "no [[query]] entries; the mix needs at least one");
    }
    let mut mix = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let key = format!("query[{i}]");
        c.one_of(
            &format!("{key}.type"),
            &q.query_type,
            &["filter", "aggregate", "metrics"],
        )?;
        if !within(q.weight, 0.0, f64::MAX, false) {
            return c.fail(
                &format!("{key}.weight"),
                format!("is {}; it must be > 0", q.weight),
            );
        }
        if q.name.is_empty() || queries[..i].iter().any(|p| p.name == q.name) {
            return c.fail(
                &format!("{key}.name"),
                format!("'{}' must be non-empty and unique", q.name),
            );
        }
        let params = match serde_json::to_value(&q.params) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return c.fail(&format!("{key}.params"), "must be a table of query params"),
        };
        if params.contains_key("team") {
            return c.fail(
                &format!("{key}.params.team"),
                "is set per [[tenant]]; remove it here",
            );
        }
        if q.query_type != "metrics" {
            let parsed = overlay::query::Query::parse(
                &q.query_type,
                &serde_json::Value::Object(params.clone()).to_string(),
            );
            if let Err(err) = parsed {
                return c.fail(
                    &format!("{key}.params"),
                    format!("the node would refuse it: {err}"),
                );
            }
        }
        mix.push(MixEntry {
            name: q.name.clone(),
            query_type: q.query_type.clone(),
            weight: q.weight,
            params,
        });
    }
    Ok(mix)
}

fn check_tenants(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    cluster: &overlay::config::ClusterConfig,
) -> Result<Vec<Tenant>, WorkloadError> {
    if spec.tenants.is_empty() {
        return c.fail("tenant", "no [[tenant]] entries; name at least one team");
    }
    let with_rate = spec.tenants.iter().filter(|t| t.rate.is_some()).count();
    let mut tenants = Vec::new();
    for (i, t) in spec.tenants.iter().enumerate() {
        let key = format!("tenant[{i}]");
        if t.team.is_empty() || spec.tenants[..i].iter().any(|p| p.team == t.team) {
            return c.fail(
                &format!("{key}.team"),
                format!("'{}' must be non-empty and unique", t.team),
            );
        }
        let share = match (t.share, t.rate) {
            (Some(_), Some(_)) => {
                return c.fail(&key, "give share or rate, not both")
            }
            (None, None) => return c.fail(&format!("{key}.share"), "give share (or, open loop, rate)"),
            (Some(share), None) if with_rate > 0 => {
                return c.fail(
                    &format!("{key}.rate"),
                    format!("other tenants give a rate; give this one a rate too instead of share = {share}"),
                )
            }
            (Some(share), None) => share,
            (None, Some(rate)) => {
                if !within(rate, 0.0, MAX_RATE, false) {
                    return c.fail(
                        &format!("{key}.rate"),
                        format!("is {rate}; it must lie in (0, {MAX_RATE}]"),
                    );
                }
                if !cluster.team_date_bounds.contains_key(&t.team) {
                    let known: Vec<&str> = cluster.team_date_bounds.keys().map(String::as_str).collect();
                    return c.fail(
                        &format!("{key}.rate"),
                        format!("team '{}' is not in the cluster config (teams: {})", t.team, known.join(", ")),
                    );
                }
                rate
            }
        };
        if !within(share, 0.0, f64::MAX, false) {
            return c.fail(
                &format!("{key}.share"),
                format!("is {share}; it must be > 0"),
            );
        }
        if !(1..=1000).contains(&t.weight) {
            return c.fail(
                &format!("{key}.weight"),
                format!("is {}; it must be a whole number from 1 to 1000", t.weight),
            );
        }
        tenants.push(Tenant {
            team: t.team.clone(),
            share,
            weight: t.weight as u32,
            rate: t.rate,
        });
    }
    let total: f64 = tenants.iter().map(|t| t.share).sum();
    for t in &mut tenants {
        t.share /= total;
    }
    Ok(tenants)
}
