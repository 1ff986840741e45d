//! Checks a [`WorkloadSpec`] and resolves it into a [`Workload`]; every error names the file,
//! the key and what is allowed, and nothing has started when it is reported.
//!
//! - `resolved` — the resolved [`Workload`] and its parts.
//! - `sweep` — strategies and concurrency levels.
//! - `tenants` — teams, shares or rates, weights.
//! - `load` — closed or open loop, step length, rate.
//! - `mix` — the query mix.
//! - `topology` — the config file, or the generated topologies, each loaded and checked.
//! - `network` — `[network]`: virtual hosts per process, link shaping.
//!
//! The `[[fault]]` entries are resolved by [`crate::faults::resolve`]; what both checks share
//! (the error, the checker, the cluster mode and step length) lives in [`crate::input`].

mod load;
mod mix;
mod network;
mod resolved;
mod sweep;
mod tenants;
mod topology;

use std::path::Path;

use super::spec::WorkloadSpec;
use crate::faults::{self, FaultContext, FaultPlan};
use crate::input::{within, Checker};
pub use crate::input::{ClusterMode, StepLength, WorkloadError};
use crate::trace::MAX_SAMPLE_PER_STEP;
pub use resolved::{LoadMode, MixEntry, Tenant, Workload};
pub use sweep::STRATEGIES;

/// Highest open-loop rate the generator is asked for; beyond it the harness, not the cluster,
/// would be measured.
pub const MAX_RATE: f64 = 100_000.0;

/// Most connections to the entry node a workload may open: each holds a socket (a file
/// descriptor) in the harness and in the node.
pub const MAX_CONNECTIONS: i64 = 1_000;

/// Longest `load.timeout_s` of one query, seconds.
const MAX_TIMEOUT_S: f64 = 3600.0;
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

/// Checks a parsed spec against the rules of `workloads/README.md`.
pub fn validate(path: &Path, spec: WorkloadSpec) -> Result<Workload, WorkloadError> {
    let c = Checker { file: path };
    let (mode, sources) = check_cluster(&c, &spec)?;
    let cluster = &sources.configs[0];
    let (max_active, per_team_limit) = check_limits(&c, &spec)?;
    if !within(spec.data.scale, 0.0, 10.0, false) {
        return c.fail(
            "data.scale",
            format!("is {}; it must lie in (0, 10]", spec.data.scale),
        );
    }
    let strategies = sweep::check_strategies(&c, &spec.sweep.strategies, mode)?;
    let concurrency = sweep::check_concurrency(&c, &spec.sweep.concurrency)?;
    let repetitions = c.positive_u32("sweep.repetitions", spec.sweep.repetitions)?;
    let confidence = sweep::check_confidence(&c, spec.sweep.confidence)?;
    let tenants = tenants::check_tenants(&c, &spec, cluster)?;
    let (load, length) = load::check_load(&c, &spec, &tenants)?;
    let network = network::check(&c, &spec, cluster)?;
    let mut faults = FaultPlan::default();
    for config in &sources.configs {
        faults = check_faults(path, &spec, config, mode, length, &network.addresses)?;
    }
    if !within(spec.cluster.idle_s, 0.0, 600.0, true) {
        return c.fail("cluster.idle_s", "must be seconds in [0, 600]");
    }
    let connections = check_timing(&c, &spec)?;
    let trace_per_step = check_trace(&c, &spec)?;
    let mix = mix::check_mix(&c, &spec.queries)?;
    let teams: Vec<String> = tenants.iter().map(|t| t.team.clone()).collect();
    let thresholds = match crate::thresholds::parse(&spec.thresholds, &teams) {
        Ok(thresholds) => thresholds,
        Err((key, message)) => return c.fail(&key, message),
    };
    let name = report_name(&c, path, &spec)?;
    Ok(Workload {
        name,
        description: spec.description,
        file: path.to_path_buf(),
        seed: spec.seed,
        config: spec.cluster.config.unwrap_or_default(),
        topologies: sources.topologies,
        idle_s: spec.cluster.idle_s,
        mode,
        free_ports: spec.cluster.ports == "free",
        netns: spec.cluster.network == "netns",
        network: network.shaping,
        host_addresses: network.addresses,
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
        data_given: false,
        strategies,
        concurrency,
        repetitions,
        confidence,
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
        trace_per_step,
    })
}

/// `[trace]`: requests sampled per step, in 0..=[`MAX_SAMPLE_PER_STEP`]; with tracing on the
/// harness sets the nodes' trace flags itself, so `cluster.node_args` must not.
fn check_trace(c: &Checker<'_>, spec: &WorkloadSpec) -> Result<u32, WorkloadError> {
    let n = spec.trace.sample_per_step;
    if !(0..=i64::from(MAX_SAMPLE_PER_STEP)).contains(&n) {
        return c.fail(
            "trace.sample_per_step",
            format!("is {n}; it must lie in 0..={MAX_SAMPLE_PER_STEP} (requests traced per step; 0 turns tracing off)"),
        );
    }
    let flags = ["--trace-file", "--trace-sample"];
    let given = spec.cluster.node_args.iter().find(|a| {
        flags
            .iter()
            .any(|f| a.as_str() == *f || a.starts_with(&format!("{f}=")))
    });
    if let (true, Some(flag)) = (n > 0, given) {
        return c.fail(
            "trace.sample_per_step",
            format!("the harness gives the nodes their trace flags; remove {flag} from cluster.node_args"),
        );
    }
    Ok(n as u32)
}

/// `[cluster]`: the mode, the ports, the configs (a file or generated topologies), the
/// start-up timeout.
fn check_cluster(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
) -> Result<(ClusterMode, topology::Sources), WorkloadError> {
    c.one_of("cluster.mode", &spec.cluster.mode, &["local", "remote"])?;
    c.one_of("cluster.ports", &spec.cluster.ports, &["config", "free"])?;
    let mode = if spec.cluster.mode == "local" {
        ClusterMode::Local
    } else {
        ClusterMode::Remote
    };
    let sources = topology::check_sources(c, spec, mode)?;
    if !within(spec.cluster.ready_timeout_s, 0.0, f64::MAX, false) {
        return c.fail("cluster.ready_timeout_s", "must be a number of seconds > 0");
    }
    check_network(c, spec, &sources.configs[0])?;
    Ok((mode, sources))
}

/// `cluster.network`: `netns` needs a local cluster on the config's own addresses.
fn check_network(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    cluster: &overlay::config::ClusterConfig,
) -> Result<(), WorkloadError> {
    c.one_of(
        "cluster.network",
        &spec.cluster.network,
        &["loopback", "netns"],
    )?;
    if spec.cluster.network != "netns" {
        return Ok(());
    }
    if spec.cluster.mode != "local" || spec.cluster.ports != "config" {
        return c.fail(
            "cluster.network",
            "\"netns\" starts the nodes in namespaces of this machine on the config's addresses: it needs mode = \"local\" and ports = \"config\"",
        );
    }
    let per_process = spec.network.as_ref().and_then(|n| n.hosts.as_deref()) == Some("per_process");
    if per_process {
        // Each process gets an address of the range: checked with `[network]`.
        return Ok(());
    }
    match crate::netns::Layout::of(cluster, "000000") {
        Ok(_) => Ok(()),
        Err(err) => c.fail("cluster.network", format!("\"netns\": {err}")),
    }
}

/// The admission settings passed to every node: `max_active`, `per_team_limit`,
/// `hybrid_threshold`.
fn check_limits(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
) -> Result<(Option<u32>, Option<u32>), WorkloadError> {
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
    Ok((max_active, per_team_limit))
}

/// `[[fault]]`, resolved by the fault schedule against the cluster, mode and step length.
fn check_faults(
    path: &Path,
    spec: &WorkloadSpec,
    cluster: &overlay::config::ClusterConfig,
    mode: ClusterMode,
    length: StepLength,
    per_process: &std::collections::BTreeMap<String, String>,
) -> Result<FaultPlan, WorkloadError> {
    let processes = cluster.processes.values();
    let fault_context = FaultContext {
        ids: cluster.processes.keys().map(|id| id.as_str()).collect(),
        mode,
        length,
        control_service: spec.cluster.control_service,
        netns: spec.cluster.network == "netns",
        teams: processes
            .clone()
            .map(|p| (p.id.0.clone(), p.team.clone()))
            .collect(),
        hosts: processes
            .map(|p| {
                let host = per_process.get(p.id.as_str()).unwrap_or(&p.host);
                (p.id.0.clone(), host.clone())
            })
            .collect(),
    };
    faults::resolve(path, &spec.faults, &fault_context)
}

/// Warm-up, timeout, backoff after a rejection, and the connections (returned).
fn check_timing(c: &Checker<'_>, spec: &WorkloadSpec) -> Result<u32, WorkloadError> {
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
    Ok(spec.load.connections as u32)
}

/// The report folder's name: `name`, or the file's stem.
fn report_name(c: &Checker<'_>, path: &Path, spec: &WorkloadSpec) -> Result<String, WorkloadError> {
    let name = spec.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("workload")
            .to_string()
    });
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return c.fail("name", format!("'{name}' cannot name a report folder"));
    }
    Ok(name)
}
