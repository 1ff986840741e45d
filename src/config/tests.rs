//! Config loading and validation tests.

use super::*;

const SHIPPED: &str = include_str!("../../configs/one_host_config.json");

fn invalid(text: &str) -> String {
    match ClusterConfig::from_json(text) {
        Err(ConfigError::Invalid { message, .. }) | Err(ConfigError::Parse { message, .. }) => {
            message
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

fn edit(from: &str, to: &str) -> String {
    assert!(SHIPPED.contains(from), "fixture lacks {from}");
    SHIPPED.replacen(from, to, 1)
}

#[test]
fn shipped_configs_load_with_original_defaults() {
    let config = ClusterConfig::from_json(SHIPPED).unwrap();
    assert_eq!(config.processes.len(), 6);
    assert_eq!(config.leader().id.as_str(), "A");
    assert_eq!(
        config.strategies.fairness_strategy,
        FairnessStrategy::Strict
    );
    assert_eq!(
        (
            config.strategies.max_active,
            config.strategies.per_team_limit
        ),
        (100, 60)
    );
    assert_eq!(config.strategies.replication_factor, 1);
    assert_eq!(
        config.parent_of(&NodeId("D".into())).unwrap().id.as_str(),
        "E"
    );
    let pink: Vec<&str> = config
        .team_members("pink")
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(pink, ["E", "D", "F"]);
    assert!(config.warnings.is_empty());
    ClusterConfig::from_json(include_str!("../../configs/two_hosts_config.json")).unwrap();
}

#[test]
fn unknown_keys_warn_but_load() {
    let config = ClusterConfig::from_json(&edit(
        "\"chunk_size\": 200",
        "\"chunk_size\": 200, \"colour\": 1",
    ))
    .unwrap();
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].contains("unknown key 'colour' in strategies"));
}

#[test]
fn validation_names_the_process_and_field() {
    assert!(invalid(&edit("\"role\": \"worker\"", "\"role\": \"boss\""))
        .contains("process C: field role: unknown role 'boss'"));
    assert!(invalid(&edit("60054", "60053"))
        .contains("process D: field port 60053 on 127.0.0.1 is already used by process C"));
    assert!(invalid(&edit("[\"C\"]", "[\"Z\"]")).contains("process B: field neighbors names 'Z'"));
    assert!(
        invalid(&edit("\"role\": \"leader\"", "\"role\": \"worker\""))
            .contains("no process has role leader")
    );
    assert!(invalid(&edit("\"id\": \"B\"", "\"id\": \"Q\"")).contains("process B: field id is 'Q'"));
    assert!(invalid(&edit("\"port\": 60056", "\"port\": 70000"))
        .contains("process F: field port 70000"));
    assert!(invalid(&edit(
        "\"neighbors\": [\"C\"]",
        "\"neighbors\": [\"C\"], \"date_bounds\": [\"20200820\", \"20200810\"]"
    ))
    .contains("process B: field date_bounds: first day 20200820 is after last day 20200810"));
    assert!(invalid(&edit(
        "\"neighbors\": [\"C\"]",
        "\"neighbors\": [\"C\"], \"date_bounds\": [\"2020-13-01\", \"20200810\"]"
    ))
    .contains("process B: field date_bounds: '2020-13-01' is not a date"));
    assert!(invalid(&edit("\"team\": \"pink\"", "\"team\": \"blue\""))
        .contains("team 'blue' has no date bounds"));
    assert!(
        invalid(&edit("[\"F\", \"D\"]", "[\"F\", \"D\", \"C\"]")).contains("which B already lists")
    );
    assert!(invalid("{\"processes\": {}}").contains("processes is empty"));
    assert!(invalid("{ not json").contains("line 1"));
}

#[test]
fn strategy_settings_are_checked() {
    assert!(invalid(&edit("\"strict\"", "\"fastest\""))
        .contains("strategies.fairness_strategy: unknown fairness strategy 'fastest'"));
    assert!(invalid(&edit("\"max_active\": 100", "\"max_active\": 0"))
        .contains("strategies.max_active is 0"));
    assert!(
        invalid(&edit("\"per_team_limit\": 60", "\"per_team_limit\": -5"))
            .contains("strategies.per_team_limit is -5")
    );
    assert!(invalid(&edit(
        "\"hybrid_threshold\": 0.8",
        "\"hybrid_threshold\": 1.5"
    ))
    .contains("must lie in (0, 1]"));
    assert!(invalid(&edit(
        "\"hybrid_threshold\": 0.8",
        "\"hybrid_threshold\": 0"
    ))
    .contains("must lie in (0, 1]"));
    assert!(invalid(&edit(
        "\"chunk_size\": 200",
        "\"chunk_size\": 200, \"team_weights\": {\"green\": 0}"
    ))
    .contains("strategies.team_weights.green is 0"));
    let weighted = ClusterConfig::from_json(&edit("\"strict\"", "\"fair_queue\"")).unwrap();
    assert_eq!(
        weighted.strategies.fairness_strategy,
        FairnessStrategy::FairQueue
    );
}

#[test]
fn team_bounds_can_be_set() {
    let text = edit(
        "\"processes\"",
        "\"teams\": {\"green\": {\"date_bounds\": [\"20200810\", \"20200815\"]}}, \"processes\"",
    );
    let config = ClusterConfig::from_json(&text).unwrap();
    assert_eq!(config.team_date_bounds["green"].1.to_string(), "20200815");
}
