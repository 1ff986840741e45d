//! The cluster config a run (or a test) starts: a config file, checked, with the run's
//! settings set on its typed form (the tenants' team weights; on request every process on a
//! free loopback port, or each on an address of its own for virtual hosts), written back in the file's own shape; and the one-node baseline
//! config. The only place one config is derived from another.

use std::collections::BTreeMap;

use overlay::config::ClusterConfig;
use serde_json::Value;

use super::ports::free_ports;

/// How the derived config differs from its source file.
#[derive(Clone, Debug, Default)]
pub struct ConfigSettings {
    /// Replaces the file's `strategies.team_weights` (for a run: the tenants' weights).
    pub team_weights: Option<BTreeMap<String, u32>>,
    /// Every process moved to 127.0.0.1 on a fresh free port.
    pub free_ports: bool,
    /// Processes moved to these addresses (virtual hosts, one per process), ports kept.
    pub hosts: BTreeMap<String, String>,
}

/// A derived config: the JSON the nodes read (and `results.json` records) and its checked form.
#[derive(Clone, Debug)]
pub struct DerivedConfig {
    /// The config as written for the nodes: the file's shape, every setting explicit.
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

/// The config in `text` (a config file's contents) with `settings` applied, checked again as
/// the nodes will read it.
pub fn derive(text: &str, settings: &ConfigSettings) -> anyhow::Result<DerivedConfig> {
    let mut config = ClusterConfig::from_json(text)
        .map_err(|e| anyhow::anyhow!("the cluster config is invalid: {e}"))?;
    if let Some(weights) = &settings.team_weights {
        config.strategies.team_weights = weights.clone();
    }
    if settings.free_ports {
        let ports = free_ports(config.processes.len())?;
        for (process, port) in config.processes.values_mut().zip(ports) {
            process.host = "127.0.0.1".to_string();
            process.port = port;
        }
    }
    for process in config.processes.values_mut() {
        if let Some(address) = settings.hosts.get(process.id.as_str()) {
            process.host = address.clone();
        }
    }
    checked(config)
}

/// One leader holding every day for `team`, no neighbours, on a free port: the one-hop
/// reference a run's baseline measures.
pub fn baseline(team: &str) -> anyhow::Result<DerivedConfig> {
    let port = free_ports(1)?[0];
    let text = serde_json::json!({
        "strategies": {"fairness_strategy": "strict", "max_active": 100000, "per_team_limit": 100000},
        "teams": {team: {"date_bounds": ["20200810", "20200924"]}},
        "processes": {"A": {"id": "A", "role": "leader", "team": team, "host": "127.0.0.1", "port": port, "neighbors": []}}
    });
    derive(&text.to_string(), &ConfigSettings::default())
}

/// Writes `config` in the file's shape and reads it back, so what is returned is exactly what
/// the nodes will read.
fn checked(config: ClusterConfig) -> anyhow::Result<DerivedConfig> {
    let json = config.to_json();
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
    fn the_team_weights_are_set_and_nothing_else_changes() {
        let settings = ConfigSettings {
            team_weights: Some(BTreeMap::from([
                ("green".to_string(), 3),
                ("pink".to_string(), 1),
            ])),
            ..Default::default()
        };
        let derived = derive(&shipped(), &settings).unwrap();
        assert_eq!(derived.json["strategies"]["team_weights"]["green"], 3);
        assert_eq!(
            derived.config.strategies.team_weights.get("green"),
            Some(&3)
        );
        let mut expected = ClusterConfig::from_json(&shipped()).unwrap();
        expected.strategies.team_weights = derived.config.strategies.team_weights.clone();
        assert_eq!(derived.config, expected);
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
        for text in ["{", "{}"] {
            let err = derive(text, &ConfigSettings::default()).unwrap_err();
            assert!(
                err.to_string().contains("cluster config is invalid"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_baseline_is_one_leader_with_every_day() {
        let derived = baseline("pink").unwrap();
        assert_eq!(derived.config.processes.len(), 1);
        assert_eq!(derived.json["processes"]["A"]["team"], "pink");
    }
}
