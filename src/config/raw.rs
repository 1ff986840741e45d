//! The config as written: serde structs with every optional key, and the validation that turns
//! them into a [`ClusterConfig`].

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::hedge::{validate_hedge, RawHedge, HEDGE_KEYS};
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

/// The whole file.
#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    /// Admission and result settings.
    #[serde(default)]
    pub strategies: RawStrategies,
    /// Health-check settings.
    #[serde(default)]
    pub health: RawHealth,
    /// Node state thresholds.
    #[serde(default)]
    pub state: RawState,
    /// Hedged calls and outlier ejection.
    #[serde(default)]
    pub hedge: RawHedge,
    /// Per-team settings.
    #[serde(default)]
    pub teams: BTreeMap<String, RawTeam>,
    /// Processes by id.
    #[serde(default)]
    pub processes: BTreeMap<String, RawProcess>,
    /// File holding the secret every node sends with its peer calls.
    pub cluster_token_file: Option<String>,
}

/// The `strategies` block; every key optional.
#[derive(Debug, Default, Deserialize)]
pub struct RawStrategies {
    /// Admission strategy name.
    pub fairness_strategy: Option<String>,
    /// Records per chunk (default 200).
    pub chunk_size: Option<i64>,
    /// Default 100.
    pub max_active: Option<i64>,
    /// Default 60.
    pub per_team_limit: Option<i64>,
    /// Default 0.8.
    pub hybrid_threshold: Option<f64>,
    /// Default 1.
    pub replication_factor: Option<i64>,
    /// Default 300.
    pub result_ttl_s: Option<i64>,
    /// Default 256 MiB.
    pub result_cache_mb: Option<i64>,
    /// Default 10,000.
    pub result_cache_entries: Option<i64>,
    /// Team → weight; default 1 each.
    pub team_weights: Option<BTreeMap<String, f64>>,
    /// Default 64.
    pub queue_capacity: Option<i64>,
    /// Default 2000.
    pub queue_timeout_ms: Option<i64>,
}

/// The `health` block.
#[derive(Debug, Default, Deserialize)]
pub struct RawHealth {
    /// Default 250 ms.
    pub interval_ms: Option<i64>,
    /// Default 800 ms.
    pub timeout_ms: Option<i64>,
    /// Default 2.
    pub failure_threshold: Option<i64>,
}

/// One entry of `teams`.
#[derive(Debug, Default, Deserialize)]
pub struct RawTeam {
    /// `[first, last]` day of the team.
    pub date_bounds: Option<Vec<String>>,
}

/// One entry of `processes`.
#[derive(Debug, Deserialize)]
pub struct RawProcess {
    /// Must equal the entry's key when given.
    pub id: Option<String>,
    /// leader, team_leader or worker.
    pub role: String,
    /// Team name.
    pub team: String,
    /// Listening host.
    pub host: String,
    /// Listening port.
    pub port: i64,
    /// Child ids.
    #[serde(default)]
    pub neighbors: Vec<String>,
    /// `[first, last]` day this process holds.
    pub date_bounds: Option<Vec<String>>,
}

/// The `state` block; every key optional (defaults in [`StateThresholds::default`]).
#[derive(Debug, Default, Deserialize)]
pub struct RawState {
    /// Warning latency, ms.
    pub latency_warning_ms: Option<f64>,
    /// Critical latency, ms.
    pub latency_critical_ms: Option<f64>,
    /// Warning active requests.
    pub active_warning: Option<f64>,
    /// Critical active requests.
    pub active_critical: Option<f64>,
    /// Warning answer-queue size.
    pub queue_warning: Option<f64>,
    /// Critical answer-queue size.
    pub queue_critical: Option<f64>,
    /// Failing = this × critical.
    pub failing_factor: Option<f64>,
    /// Calmer samples before improving.
    pub recovery_samples: Option<i64>,
}

const TOP_KEYS: &[&str] = &[
    "strategies",
    "health",
    "state",
    "hedge",
    "teams",
    "processes",
    "cluster_token_file",
];
const STATE_KEYS: &[&str] = &[
    "latency_warning_ms",
    "latency_critical_ms",
    "active_warning",
    "active_critical",
    "queue_warning",
    "queue_critical",
    "failing_factor",
    "recovery_samples",
];
const STRATEGY_KEYS: &[&str] = &[
    "fairness_strategy",
    "chunk_size",
    "max_active",
    "per_team_limit",
    "hybrid_threshold",
    "replication_factor",
    "result_ttl_s",
    "result_cache_mb",
    "result_cache_entries",
    "team_weights",
    "queue_capacity",
    "queue_timeout_ms",
];
const HEALTH_KEYS: &[&str] = &["interval_ms", "timeout_ms", "failure_threshold"];
const PROCESS_KEYS: &[&str] = &[
    "id",
    "role",
    "team",
    "host",
    "port",
    "neighbors",
    "date_bounds",
];

/// Lists keys this version does not understand, as warnings.
pub(super) fn collect_unknown_keys(value: &Value, warnings: &mut Vec<String>) {
    let mut check = |object: Option<&Value>, known: &[&str], place: &str| {
        if let Some(Value::Object(map)) = object {
            for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
                warnings.push(format!(
                    "unknown key '{key}' in {place} ignored (known: {})",
                    known.join(", ")
                ));
            }
        }
    };
    check(Some(value), TOP_KEYS, "the top level");
    check(value.get("strategies"), STRATEGY_KEYS, "strategies");
    check(value.get("health"), HEALTH_KEYS, "health");
    check(value.get("state"), STATE_KEYS, "state");
    check(value.get("hedge"), HEDGE_KEYS, "hedge");
    if let Some(Value::Object(processes)) = value.get("processes") {
        for (id, process) in processes {
            check(Some(process), PROCESS_KEYS, &format!("process {id}"));
        }
    }
}

/// Names the key of a type error (`"max_active": "ten"`) in the `strategies` and `health`
/// blocks, which serde reports without saying where: every key there is optional, so each one
/// is tried alone and the first that fails is named.
pub(super) fn locate_type_error(value: &Value) -> Option<String> {
    fn first_bad<T: DeserializeOwned>(block: &str, value: Option<&Value>) -> Option<String> {
        let Some(Value::Object(map)) = value else {
            return None;
        };
        map.iter().find_map(|(key, v)| {
            let alone = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
            T::deserialize(&alone)
                .err()
                .map(|err| format!("{block}.{key}: {err}"))
        })
    }
    first_bad::<RawStrategies>("strategies", value.get("strategies"))
        .or_else(|| first_bad::<RawHealth>("health", value.get("health")))
        .or_else(|| first_bad::<RawState>("state", value.get("state")))
        .or_else(|| first_bad::<RawHedge>("hedge", value.get("hedge")))
}

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
            },
        );
    }
    Ok(processes)
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

/// Names a process key written twice in `processes`, which JSON parsing would otherwise
/// silently collapse into the last one.
pub(super) fn duplicate_process_key(text: &str) -> Option<String> {
    use serde::de::{IgnoredAny, MapAccess, Visitor};

    struct Keys(Option<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object of processes")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    let mut duplicate = None;
                    while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                        if !seen.insert(key.clone()) && duplicate.is_none() {
                            duplicate = Some(key);
                        }
                    }
                    Ok(Keys(duplicate))
                }
            }
            d.deserialize_map(KeysVisitor)
        }
    }
    #[derive(Deserialize)]
    struct Top {
        processes: Option<Keys>,
    }
    let top: Top = serde_json::from_str(text).ok()?;
    top.processes.and_then(|keys| keys.0)
}
