//! The cluster config a run (or a test) starts: a config file with settings merged into its
//! `strategies` block and, on request, every process moved to a free loopback port; and the
//! one-node baseline config. The only place a config's JSON is derived from another.

use anyhow::Context;
use overlay::config::ClusterConfig;
use serde_json::{json, Map, Value};

use super::ports::free_ports;

/// How the derived config differs from its source file.
#[derive(Clone, Debug, Default)]
pub struct ConfigSettings {
    /// Keys of the config's own `strategies` block, set over what the file has (for a run:
    /// the tenants' `team_weights`).
    pub strategies: Map<String, Value>,
    /// Every process moved to 127.0.0.1 on a fresh free port.
    pub free_ports: bool,
}

/// A derived config: the JSON the nodes read (and `results.json` records) and its checked form.
#[derive(Clone, Debug)]
pub struct DerivedConfig {
    /// The config as written for the nodes.
    pub json: Value,
    /// The same, checked and resolved.
    pub config: ClusterConfig,
}

impl DerivedConfig {
    /// The JSON as the nodes' config file holds it.
    pub fn text(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(&self.json)?)
    }
}

/// The config in `text` with `settings` applied, checked.
pub fn derive(text: &str, settings: &ConfigSettings) -> anyhow::Result<DerivedConfig> {
    let mut json: Value = serde_json::from_str(text).context("config is not JSON")?;
    if settings.free_ports {
        move_to_free_ports(&mut json)?;
    }
    if let Some(block) = json.as_object_mut().and_then(|o| {
        o.entry("strategies")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    }) {
        block.extend(settings.strategies.clone());
    }
    checked(json)
}

/// One leader holding every day for `team`, no neighbours, on a free port: the one-hop
/// reference a run's baseline measures.
pub fn baseline(team: &str) -> anyhow::Result<DerivedConfig> {
    let port = free_ports(1)?[0];
    checked(json!({
        "strategies": {"fairness_strategy": "strict", "max_active": 100000, "per_team_limit": 100000},
        "teams": {team: {"date_bounds": ["20200810", "20200924"]}},
        "processes": {"A": {"id": "A", "role": "leader", "team": team, "host": "127.0.0.1", "port": port, "neighbors": []}}
    }))
}

/// Every process of the config on 127.0.0.1, each on a fresh free port.
fn move_to_free_ports(json: &mut Value) -> anyhow::Result<()> {
    let processes = json
        .get_mut("processes")
        .and_then(Value::as_object_mut)
        .context("config has no processes object")?;
    let ports = free_ports(processes.len())?;
    for (process, port) in processes.values_mut().zip(ports) {
        if let Some(process) = process.as_object_mut() {
            process.insert("host".to_string(), Value::from("127.0.0.1"));
            process.insert("port".to_string(), Value::from(port));
        }
    }
    Ok(())
}

fn checked(json: Value) -> anyhow::Result<DerivedConfig> {
    let config = ClusterConfig::from_json(&json.to_string())
        .map_err(|e| anyhow::anyhow!("the derived cluster config is invalid: {e}"))?;
    Ok(DerivedConfig { json, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_to_string(root.join("configs/one_host_config.json")).unwrap()
    }

    #[test]
    fn settings_are_merged_into_the_strategies_block() {
        let mut strategies = Map::new();
        strategies.insert("team_weights".to_string(), json!({"green": 3, "pink": 1}));
        let derived = derive(
            &shipped(),
            &ConfigSettings {
                strategies,
                free_ports: false,
            },
        )
        .unwrap();
        assert_eq!(derived.json["strategies"]["team_weights"]["green"], 3);
        assert_eq!(
            derived.config.strategies.team_weights.get("green"),
            Some(&3)
        );
        let original: Value = serde_json::from_str(&shipped()).unwrap();
        assert_eq!(derived.json["processes"], original["processes"]);
    }

    #[test]
    fn free_ports_move_every_process_to_loopback_on_distinct_ports() {
        let settings = ConfigSettings {
            free_ports: true,
            ..Default::default()
        };
        let derived = derive(&shipped(), &settings).unwrap();
        let ports: std::collections::BTreeSet<u16> =
            derived.config.processes.values().map(|p| p.port).collect();
        assert_eq!(ports.len(), derived.config.processes.len());
        assert!(derived
            .config
            .processes
            .values()
            .all(|p| p.host == "127.0.0.1"));
    }

    #[test]
    fn a_config_that_is_not_json_or_has_no_processes_is_refused() {
        assert!(derive("{", &ConfigSettings::default()).is_err());
        let settings = ConfigSettings {
            free_ports: true,
            ..Default::default()
        };
        let err = derive("{}", &settings).unwrap_err();
        assert!(err.to_string().contains("processes"), "{err}");
    }

    #[test]
    fn the_baseline_is_one_leader_with_every_day() {
        let derived = baseline("pink").unwrap();
        assert_eq!(derived.config.processes.len(), 1);
        assert_eq!(derived.json["processes"]["A"]["team"], "pink");
    }
}
