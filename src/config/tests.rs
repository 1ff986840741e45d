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
    assert!(invalid(&edit("[\"B\", \"E\"]", "[\"B\", \"A\"]"))
        .contains("process A: field neighbors names the process itself"));
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

const ORIGINAL_ONE_HOST: &str = include_str!("../../configs/original/one_host_config.json");
const ORIGINAL_TWO_HOSTS: &str = include_str!("../../configs/original/two_hosts_config.json");

fn ids(list: &[NodeId]) -> Vec<&str> {
    list.iter().map(NodeId::as_str).collect()
}

/// Every process's derived children, parent and the partition table of section 4.
fn assert_design_tree(config: &ClusterConfig) {
    let children = |id: &str| {
        let mut list = ids(&config.processes[&NodeId(id.into())].children);
        list.sort_unstable();
        list
    };
    assert_eq!(children("A"), ["B", "E"]);
    assert_eq!(children("B"), ["C"]);
    assert_eq!(children("E"), ["D", "F"]);
    for worker in ["C", "D", "F"] {
        assert!(children(worker).is_empty(), "{worker} forwards to nobody");
    }
    let parent = |id: &str| config.parent_of(&NodeId(id.into())).map(|p| p.id.0.clone());
    assert_eq!(parent("A"), None);
    let parents: Vec<String> = ["B", "C", "D", "E", "F"]
        .iter()
        .map(|id| parent(id).unwrap())
        .collect();
    assert_eq!(parents, ["A", "B", "E", "A", "E"]);
    let map = crate::partition::PartitionMap::compute(config, &crate::dataset::airnow_2020_dates());
    let table: Vec<(&str, usize)> = map
        .slices
        .iter()
        .map(|s| (s.owner.as_str(), s.dates.len()))
        .collect();
    assert_eq!(
        table,
        [("A", 1), ("B", 3), ("C", 4), ("E", 9), ("D", 13), ("F", 13)]
    );
}

#[test]
fn original_one_host_file_derives_the_design_tree() {
    let config = ClusterConfig::from_json(ORIGINAL_ONE_HOST).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_design_tree(&config);
    let b = &config.processes[&NodeId("B".into())];
    assert_eq!(ids(&b.links), ["A", "C", "D"], "B keeps its link to D");
    let e = &config.processes[&NodeId("E".into())];
    assert_eq!(
        ids(&e.children),
        ["F", "D"],
        "children in the order written"
    );
    let ports: Vec<u16> = config.processes.values().map(|p| p.port).collect();
    assert_eq!(ports, [60051, 60052, 60053, 60054, 60055, 60056]);
}

#[test]
fn original_two_hosts_file_derives_the_design_tree() {
    let config = ClusterConfig::from_json(ORIGINAL_TWO_HOSTS).unwrap();
    assert_design_tree(&config);
    assert_eq!(config.strategies.chunk_size, 500);
    let host = |id: &str| config.processes[&NodeId(id.into())].host.clone();
    assert_eq!(
        ["A", "B", "C", "D", "E", "F"].map(host),
        [
            "192.168.1.2",
            "192.168.1.2",
            "192.168.1.1",
            "192.168.1.2",
            "192.168.1.1",
            "192.168.1.1"
        ]
    );
}

#[test]
fn shipped_parent_to_children_files_describe_the_same_tree() {
    assert_design_tree(&ClusterConfig::from_json(SHIPPED).unwrap());
    assert_design_tree(
        &ClusterConfig::from_json(include_str!("../../configs/two_hosts_config.json")).unwrap(),
    );
}

/// The original one-host file with some process fields replaced.
fn original_with(changes: &[(&str, &str, Value)]) -> String {
    let mut value: Value = serde_json::from_str(ORIGINAL_ONE_HOST).unwrap();
    for (id, field, new) in changes {
        value["processes"][*id][*field] = new.clone();
    }
    value.to_string()
}

#[test]
fn a_link_listed_on_one_side_only_is_a_link() {
    // E no longer lists D, but D lists E: still E's child.
    let text = original_with(&[("E", "neighbors", serde_json::json!(["A", "F"]))]);
    let config = ClusterConfig::from_json(&text).unwrap();
    assert_eq!(
        ids(&config.processes[&NodeId("E".into())].children),
        ["F", "D"]
    );
    // Only the children list their parents.
    let text = original_with(&[
        ("A", "neighbors", serde_json::json!([])),
        ("B", "neighbors", serde_json::json!(["A"])),
        ("E", "neighbors", serde_json::json!(["A"])),
    ]);
    assert_design_tree(&ClusterConfig::from_json(&text).unwrap());
}

#[test]
fn a_team_leader_without_own_workers_falls_back_to_other_teams() {
    // D and F become green: E has no worker of its own team among its links.
    let text = original_with(&[
        ("D", "team", serde_json::json!("green")),
        ("F", "team", serde_json::json!("green")),
    ]);
    let config = ClusterConfig::from_json(&text).unwrap();
    let children = |id: &str| ids(&config.processes[&NodeId(id.into())].children).join(",");
    // B forwards to its own team's workers among its links: C and now D.
    assert_eq!(children("B"), "C,D");
    // E falls back to the other team's workers it links to; D keeps B, its own team's
    // leader, as parent, so E is left with F.
    assert_eq!(children("E"), "F");
    assert_eq!(
        config.parent_of(&NodeId("D".into())).unwrap().id.as_str(),
        "B"
    );
    assert_eq!(
        config.parent_of(&NodeId("F".into())).unwrap().id.as_str(),
        "E"
    );
}

#[test]
fn links_the_derivation_cannot_use_are_refused_naming_the_missing_link() {
    // Neither the leader nor E lists the link between them.
    let text = original_with(&[
        ("A", "neighbors", serde_json::json!(["B"])),
        ("E", "neighbors", serde_json::json!(["F", "D"])),
    ]);
    let message = invalid(&text);
    assert!(
        message.contains("process E: field neighbors: the leader A does not link to team leader E"),
        "{message}"
    );
    // F is linked to nobody.
    let text = original_with(&[
        ("E", "neighbors", serde_json::json!(["A", "D"])),
        ("F", "neighbors", serde_json::json!([])),
    ]);
    let message = invalid(&text);
    assert!(
        message.contains("process F: field neighbors: worker F is linked to no team leader")
            && message.contains("link it to its team leader E"),
        "{message}"
    );
    // D is linked only to B, which forwards to its own worker C: no query reaches D.
    let text = original_with(&[
        ("E", "neighbors", serde_json::json!(["A", "F"])),
        ("D", "neighbors", serde_json::json!(["B"])),
    ]);
    let message = invalid(&text);
    assert!(
        message.contains(
            "process D: field neighbors: worker D of team pink links only to team leader(s) B"
        ) && message.contains("link it to its team leader E"),
        "{message}"
    );
    let text = original_with(&[("B", "neighbors", serde_json::json!(["A", "C", "Z"]))]);
    assert!(invalid(&text).contains("process B: field neighbors names 'Z', which is not a process"));
}

#[test]
fn duplicate_ids_are_refused() {
    let text = ORIGINAL_ONE_HOST.replacen("\"B\": {", "\"C\": {", 1);
    assert_ne!(text, ORIGINAL_ONE_HOST);
    let message = invalid(&text);
    assert!(message.contains("process C: field id"), "{message}");
    assert!(message.contains("listed twice"), "{message}");
}

#[test]
fn the_json_form_reads_back_as_the_same_config() {
    let configs = [
        SHIPPED,
        include_str!("../../configs/two_hosts_config.json"),
        include_str!("../../configs/overload_config.json"),
        include_str!("../../configs/original/one_host_config.json"),
        include_str!("../../configs/original/two_hosts_config.json"),
    ];
    for text in configs {
        let config = ClusterConfig::from_json(text).unwrap();
        let again = ClusterConfig::from_json(&config.to_json().to_string()).unwrap();
        assert_eq!(again, config, "{}", config.to_json());
    }
}

#[test]
fn a_process_may_name_its_metrics_address_and_a_bad_one_names_the_key() {
    let with = |address: &str| {
        edit(
            r#""port": 60051,"#,
            &format!(r#""port": 60051, "metrics_addr": {address},"#),
        )
    };
    let config = ClusterConfig::from_json(&with(r#""127.0.0.1:9101""#)).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let leader = config.leader();
    assert_eq!(leader.metrics_addr.as_deref(), Some("127.0.0.1:9101"));
    assert_eq!(config.processes[&NodeId("B".into())].metrics_addr, None);
    let again = ClusterConfig::from_json(&config.to_json().to_string()).unwrap();
    assert_eq!(again.leader().metrics_addr, leader.metrics_addr);
    assert!(ClusterConfig::from_json(&with(r#""[::1]:0""#)).is_ok());
    for (bad, expected) in [
        (r#""9101""#, "no port"),
        (r#""127.0.0.1:http""#, "'http' is not a port"),
        (r#""127.0.0.1:70000""#, "'70000' is not a port"),
        (r#"":9101""#, "not HOST:PORT"),
        (r#""::1:9101""#, "brackets"),
    ] {
        let err = invalid(&with(bad));
        assert!(
            err.contains("process A: field metrics_addr") && err.contains(expected),
            "{bad}: {err}"
        );
    }
}
