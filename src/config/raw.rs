//! The config as written: serde structs with every optional key, the keys each block knows
//! (unknown ones become warnings), and the checks serde cannot do alone (where a type error
//! is, a process key written twice). [`super::validate`] turns it into a
//! [`ClusterConfig`](super::ClusterConfig).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::hedge::{RawHedge, HEDGE_KEYS};

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
    /// `HOST:PORT` of its Prometheus `/metrics` page.
    pub metrics_addr: Option<String>,
}

/// The `state` block; every key optional (defaults in
/// [`StateThresholds::default`](super::StateThresholds::default)).
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
    "metrics_addr",
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
