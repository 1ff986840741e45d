//! The raw config checked into a [`ClusterConfig`]: processes, team date bounds, strategies,
//! health and state thresholds, each error naming the process or block and the key.

use std::collections::{BTreeMap, HashMap};

use super::hedge::validate_hedge;
use super::raw::{RawConfig, RawHealth, RawProcess, RawState, RawStrategies, RawTeam};
use super::{
    ClusterConfig, FairnessStrategy, Health, NodeId, ProcessConfig, Role, StateThresholds,
    Strategies,
};
use crate::date::DateKey;

/// Default team date bounds of the original system.
const DEFAULT_TEAM_BOUNDS: [(&str, &str, &str); 2] = [
    ("green", "20200810", "20200820"),
    ("pink", "20200821", "20200924"),
];

/// Turns the raw file into a validated config, or names what is wrong.
pub(super) fn validate(raw: RawConfig, warnings: Vec<String>) -> Result<ClusterConfig, String> {
    let mut processes = validate_processes(&raw.processes)?;
    let teams: Vec<String> = {
        let mut teams: Vec<String> = processes.values().map(|p| p.team.clone()).collect();
        teams.sort();
        teams.dedup();
        teams
    };
    let team_date_bounds = validate_team_bounds(&raw.teams, &teams)?;
    super::tree::derive(&mut processes)?;
    Ok(ClusterConfig {
        processes,
        team_date_bounds,
        strategies: validate_strategies(&raw.strategies)?,
        health: validate_health(&raw.health)?,
        state: validate_state(&raw.state)?,
        cluster_token_file: match raw.cluster_token_file {
            Some(path) if path.trim().is_empty() => {
                return Err("cluster_token_file is empty; name a file or leave the key out".into())
            }
            other => other.map(std::path::PathBuf::from),
        },
        hedge: validate_hedge(&raw.hedge)?,
        warnings,
    })
}

fn validate_processes(
    raw: &BTreeMap<String, RawProcess>,
) -> Result<BTreeMap<NodeId, ProcessConfig>, String> {
    if raw.is_empty() {
        return Err("processes is empty; list at least a leader".to_string());
    }
    let mut processes = BTreeMap::new();
    let mut addresses: HashMap<(String, i64), &str> = HashMap::new();
    for (key, p) in raw {
        if let Some(id) = p.id.as_deref().filter(|id| id != key) {
            return Err(format!(
                "process {key}: field id is '{id}' but the entry is named '{key}'; make them equal"
            ));
        }
        let role: Role = p
            .role
            .parse()
            .map_err(|err| format!("process {key}: field role: {err}"))?;
        if p.team.trim().is_empty() {
            return Err(format!("process {key}: field team is empty"));
        }
        if p.host.trim().is_empty() {
            return Err(format!("process {key}: field host is empty"));
        }
        let port = u16::try_from(p.port)
            .ok()
            .filter(|&port| port > 0)
            .ok_or_else(|| {
                format!(
                    "process {key}: field port {} is not a port (1 to 65535)",
                    p.port
                )
            })?;
        if let Some(other) = addresses.insert((p.host.clone(), p.port), key) {
            return Err(format!(
                "process {key}: field port {port} on {} is already used by process {other}",
                p.host
            ));
        }
        let date_bounds = match &p.date_bounds {
            Some(bounds) => Some(
                parse_bounds(bounds)
                    .map_err(|err| format!("process {key}: field date_bounds: {err}"))?,
            ),
            None => None,
        };
        let metrics_addr = match &p.metrics_addr {
            Some(address) => Some(
                check_host_port(address)
                    .map_err(|err| format!("process {key}: field metrics_addr: {err}"))?,
            ),
            None => None,
        };
        processes.insert(
            NodeId(key.clone()),
            ProcessConfig {
                id: NodeId(key.clone()),
                role,
                team: p.team.trim().to_string(),
                host: p.host.clone(),
                port,
                neighbors: p.neighbors.iter().cloned().map(NodeId).collect(),
                links: Vec::new(),
                children: Vec::new(),
                parent: None,
                date_bounds,
                metrics_addr,
            },
        );
    }
    Ok(processes)
}

/// A `HOST:PORT` address: a host (a name, an IPv4 address or a bracketed IPv6 one) and a
/// port number, returned trimmed.
pub(super) fn check_host_port(address: &str) -> Result<String, String> {
    let address = address.trim();
    let shown = crate::query::quote(address);
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("'{shown}' is not HOST:PORT (no port)"));
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || host.len() > 255 || (host.contains(':') && !bracketed) {
        return Err(format!(
            "'{shown}' is not HOST:PORT (write an IPv6 host in brackets)"
        ));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "'{shown}' is not HOST:PORT ('{}' is not a port, 0 to 65535)",
            crate::query::quote(port)
        ));
    }
    Ok(address.to_string())
}

fn parse_bounds(bounds: &[String]) -> Result<(DateKey, DateKey), String> {
    let [first, last] = bounds else {
        return Err(format!(
            "expected [first, last], got {} entries",
            bounds.len()
        ));
    };
    let first: DateKey = first
        .parse()
        .map_err(|err: crate::date::DateError| err.to_string())?;
    let last: DateKey = last
        .parse()
        .map_err(|err: crate::date::DateError| err.to_string())?;
    if first > last {
        return Err(format!("first day {first} is after last day {last}"));
    }
    Ok((first, last))
}

fn validate_team_bounds(
    raw: &BTreeMap<String, RawTeam>,
    teams: &[String],
) -> Result<BTreeMap<String, (DateKey, DateKey)>, String> {
    let mut bounds = BTreeMap::new();
    for (team, first, last) in DEFAULT_TEAM_BOUNDS {
        bounds.insert(
            team.to_string(),
            parse_bounds(&[first.to_string(), last.to_string()])?,
        );
    }
    for (team, settings) in raw {
        if let Some(team_bounds) = &settings.date_bounds {
            let parsed = parse_bounds(team_bounds)
                .map_err(|err| format!("teams.{team}.date_bounds: {err}"))?;
            bounds.insert(team.clone(), parsed);
        }
    }
    for team in teams {
        if !bounds.contains_key(team) {
            return Err(format!("team '{team}' has no date bounds; add \"teams\": {{\"{team}\": {{\"date_bounds\": [\"YYYYMMDD\", \"YYYYMMDD\"]}}}}"));
        }
    }
    bounds.retain(|team, _| teams.contains(team));
    Ok(bounds)
}

fn positive(key: &str, value: Option<i64>, default: i64, max: i64) -> Result<i64, String> {
    match value {
        None => Ok(default),
        Some(v) if v >= 1 && v <= max => Ok(v),
        Some(v) => Err(format!(
            "{key} is {v}; it must be a whole number from 1 to {max}"
        )),
    }
}

fn validate_strategies(raw: &RawStrategies) -> Result<Strategies, String> {
    let fairness_strategy = match &raw.fairness_strategy {
        Some(name) => name
            .parse()
            .map_err(|err| format!("strategies.fairness_strategy: {err}"))?,
        None => FairnessStrategy::default(),
    };
    let hybrid_threshold = raw.hybrid_threshold.unwrap_or(0.8);
    if !(hybrid_threshold > 0.0 && hybrid_threshold <= 1.0) {
        return Err(format!(
            "strategies.hybrid_threshold is {hybrid_threshold}; it must lie in (0, 1]"
        ));
    }
    let mut team_weights = BTreeMap::new();
    for (team, weight) in raw.team_weights.clone().unwrap_or_default() {
        if !(weight >= 1.0 && weight.fract() == 0.0 && weight <= 1000.0) {
            return Err(format!("strategies.team_weights.{team} is {weight}; weights must be whole numbers from 1 to 1000"));
        }
        team_weights.insert(team, weight as u32);
    }
    let s = |key: &str, value, default, max| {
        positive(&format!("strategies.{key}"), value, default, max)
    };
    Ok(Strategies {
        fairness_strategy,
        chunk_size: s("chunk_size", raw.chunk_size, 200, 100_000)? as u32,
        max_active: s("max_active", raw.max_active, 100, 1_000_000)? as u32,
        per_team_limit: s("per_team_limit", raw.per_team_limit, 60, 1_000_000)? as u32,
        hybrid_threshold,
        replication_factor: s("replication_factor", raw.replication_factor, 1, 16)? as u32,
        result_ttl_s: s("result_ttl_s", raw.result_ttl_s, 300, 86_400)? as u64,
        result_cache_bytes: s("result_cache_mb", raw.result_cache_mb, 256, 65_536)? as u64
            * 1024
            * 1024,
        result_cache_entries: s(
            "result_cache_entries",
            raw.result_cache_entries,
            10_000,
            10_000_000,
        )? as u64,
        team_weights,
        queue_capacity: s("queue_capacity", raw.queue_capacity, 64, 100_000)? as u32,
        queue_timeout_ms: s("queue_timeout_ms", raw.queue_timeout_ms, 2000, 600_000)? as u64,
    })
}

fn validate_health(raw: &RawHealth) -> Result<Health, String> {
    let h =
        |key: &str, value, default, max| positive(&format!("health.{key}"), value, default, max);
    Ok(Health {
        interval_ms: h("interval_ms", raw.interval_ms, 250, 600_000)? as u64,
        timeout_ms: h("timeout_ms", raw.timeout_ms, 800, 600_000)? as u64,
        failure_threshold: h("failure_threshold", raw.failure_threshold, 2, 100)? as u32,
    })
}

fn validate_state(raw: &RawState) -> Result<StateThresholds, String> {
    let d = StateThresholds::default();
    // Keys come in pairs: `<measure>_warning<unit>` below `<measure>_critical<unit>`.
    let pair = |measure: &str,
                unit: &str,
                warning: Option<f64>,
                critical: Option<f64>,
                defaults: (f64, f64)| {
        let (w, c) = (
            warning.unwrap_or(defaults.0),
            critical.unwrap_or(defaults.1),
        );
        if !(w > 0.0 && w.is_finite() && c.is_finite() && w < c) {
            return Err(format!(
                "state.{measure}_warning{unit} is {w} and state.{measure}_critical{unit} is {c}; \
                 both must be positive with warning below critical"
            ));
        }
        Ok((w, c))
    };
    let latency = pair(
        "latency",
        "_ms",
        raw.latency_warning_ms,
        raw.latency_critical_ms,
        (d.latency_warning_ms, d.latency_critical_ms),
    )?;
    let active = pair(
        "active",
        "",
        raw.active_warning,
        raw.active_critical,
        (d.active_warning, d.active_critical),
    )?;
    let queue = pair(
        "queue",
        "",
        raw.queue_warning,
        raw.queue_critical,
        (d.queue_warning, d.queue_critical),
    )?;
    let failing_factor = raw.failing_factor.unwrap_or(d.failing_factor);
    if !(1.0..=100.0).contains(&failing_factor) {
        return Err(format!(
            "state.failing_factor is {failing_factor}; it must lie in [1, 100]"
        ));
    }
    Ok(StateThresholds {
        latency_warning_ms: latency.0,
        latency_critical_ms: latency.1,
        active_warning: active.0,
        active_critical: active.1,
        queue_warning: queue.0,
        queue_critical: queue.1,
        failing_factor,
        recovery_samples: positive(
            "state.recovery_samples",
            raw.recovery_samples,
            i64::from(d.recovery_samples),
            1000,
        )? as u32,
    })
}
