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

/// Every bad fairness setting is refused at load with a message naming its key.
#[test]
fn every_bad_fairness_setting_names_its_key() {
    let strategies = |extra: &str| {
        edit(
            "\"chunk_size\": 200",
            &format!("\"chunk_size\": 200, {extra}"),
        )
    };
    for (text, expected) in [
        (
            edit("\"strict\"", "\"Strict\""),
            "strategies.fairness_strategy: unknown fairness strategy 'Strict'",
        ),
        (
            edit("\"strict\"", "\"\""),
            "strategies.fairness_strategy: unknown fairness strategy ''",
        ),
        (
            edit("\"max_active\": 100", "\"max_active\": -1"),
            "strategies.max_active is -1",
        ),
        (
            edit("\"per_team_limit\": 60", "\"per_team_limit\": 0"),
            "strategies.per_team_limit is 0",
        ),
        (
            edit("\"hybrid_threshold\": 0.8", "\"hybrid_threshold\": -0.2"),
            "strategies.hybrid_threshold is -0.2",
        ),
        (
            edit("\"hybrid_threshold\": 0.8", "\"hybrid_threshold\": 1.0001"),
            "strategies.hybrid_threshold is 1.0001",
        ),
        (
            strategies("\"team_weights\": {\"pink\": -2}"),
            "strategies.team_weights.pink is -2",
        ),
        (
            strategies("\"team_weights\": {\"pink\": 1.5}"),
            "strategies.team_weights.pink is 1.5",
        ),
        (
            strategies("\"team_weights\": {\"pink\": 1001}"),
            "strategies.team_weights.pink is 1001",
        ),
        (
            strategies("\"queue_capacity\": 0"),
            "strategies.queue_capacity is 0",
        ),
        (
            strategies("\"queue_timeout_ms\": -10"),
            "strategies.queue_timeout_ms is -10",
        ),
    ] {
        let message = invalid(&text);
        assert!(
            message.contains(expected),
            "expected {expected:?}, got {message:?}"
        );
    }
}

/// A value of the wrong type is named by its key too (serde alone says only what it expected).
#[test]
fn wrongly_typed_settings_name_their_key() {
    let strategies = |extra: &str| {
        edit(
            "\"chunk_size\": 200",
            &format!("\"chunk_size\": 200, {extra}"),
        )
    };
    for (text, expected) in [
        (
            edit("\"strict\"", "3"),
            "strategies.fairness_strategy: invalid type",
        ),
        (
            edit("\"max_active\": 100", "\"max_active\": \"ten\""),
            "strategies.max_active: invalid type",
        ),
        (
            edit(
                "\"hybrid_threshold\": 0.8",
                "\"hybrid_threshold\": \"high\"",
            ),
            "strategies.hybrid_threshold: invalid type",
        ),
        (
            strategies("\"team_weights\": {\"pink\": \"two\"}"),
            "strategies.team_weights: invalid type",
        ),
        (
            strategies("\"team_weights\": [2, 1]"),
            "strategies.team_weights: invalid type",
        ),
        (
            edit(
                "\"processes\"",
                "\"health\": {\"interval_ms\": true}, \"processes\"",
            ),
            "health.interval_ms: invalid type",
        ),
    ] {
        let message = invalid(&text);
        assert!(
            message.contains(expected),
            "expected {expected:?}, got {message:?}"
        );
    }
}

/// The boundaries themselves are accepted.
#[test]
fn fairness_settings_at_their_bounds_load() {
    let text = edit("\"hybrid_threshold\": 0.8", "\"hybrid_threshold\": 1.0")
        .replace("\"max_active\": 100", "\"max_active\": 1")
        .replace("\"per_team_limit\": 60", "\"per_team_limit\": 1")
        .replace(
            "\"chunk_size\": 200",
            "\"chunk_size\": 200, \"team_weights\": {\"pink\": 1000, \"green\": 1.0}, \"queue_capacity\": 1, \"queue_timeout_ms\": 1",
        );
    let s = ClusterConfig::from_json(&text).unwrap().strategies;
    assert_eq!(
        (s.max_active, s.per_team_limit, s.hybrid_threshold),
        (1, 1, 1.0)
    );
    assert_eq!((s.team_weights["pink"], s.team_weights["green"]), (1000, 1));
    assert_eq!((s.queue_capacity, s.queue_timeout_ms), (1, 1));
    let tiny = edit("\"hybrid_threshold\": 0.8", "\"hybrid_threshold\": 0.001");
    assert_eq!(
        ClusterConfig::from_json(&tiny)
            .unwrap()
            .strategies
            .hybrid_threshold,
        0.001
    );
}

#[test]
fn state_thresholds_default_to_the_original_and_are_checked() {
    let config = ClusterConfig::from_json(SHIPPED).unwrap();
    assert_eq!(config.state, StateThresholds::default());
    assert_eq!(config.state.active_critical, 90.0);
    let custom = edit(
        "\"processes\"",
        "\"state\": {\"active_warning\": 5, \"active_critical\": 8, \"recovery_samples\": 1}, \"processes\"",
    );
    let config = ClusterConfig::from_json(&custom).unwrap();
    assert_eq!(
        (config.state.active_warning, config.state.active_critical),
        (5.0, 8.0)
    );
    assert_eq!(config.state.recovery_samples, 1);
    for (block, message) in [
        (
            "{\"active_warning\": 95}",
            "state.active_warning is 95 and state.active_critical is 90",
        ),
        (
            "{\"latency_warning_ms\": -1}",
            "state.latency_warning_ms is -1",
        ),
        ("{\"failing_factor\": 0.5}", "state.failing_factor is 0.5"),
        ("{\"recovery_samples\": 0}", "state.recovery_samples is 0"),
        ("{\"queue_critical\": \"lots\"}", "state.queue_critical"),
    ] {
        let text = edit(
            "\"processes\"",
            &format!("\"state\": {block}, \"processes\""),
        );
        let error = invalid(&text);
        assert!(error.contains(message), "{block}: {error}");
    }
}
