//! Tests of the metrics command's tables and JSON.

use overlay::proto::{StrategyRejections, TeamAdmission};

use super::*;

fn sample() -> MetricsResponse {
    let team = |name: &str, weight, succeeded| TeamAdmission {
        team: name.to_string(),
        weight,
        admitted: succeeded + 1,
        succeeded,
        peak_active: 3,
        rejected: 7,
        rejected_team_limit: 7,
        ..Default::default()
    };
    MetricsResponse {
        process_id: "A".into(),
        uptime_s: 10.0,
        teams: vec![team("green", 1, 10), team("pink", 2, 20)],
        rejected_by_strategy: vec![
            StrategyRejections {
                strategy: "strict".into(),
                rejected: 14,
            },
            StrategyRejections {
                strategy: "weighted".into(),
                rejected: 0,
            },
        ],
        ..Default::default()
    }
}

#[test]
fn nodes_lacking_days_get_a_line_naming_them() {
    let mut lacking = sample();
    lacking.days_assigned = 2;
    lacking.days_lacking = vec!["20200810".into(), "20200814".into()];
    let text = lacking_lines(&[sample(), lacking]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("lacks 2 of its 2 assigned day(s): 20200810, 20200814"),
        "{text}"
    );
    let json = metrics_json(&sample());
    assert!(json["days_lacking"].as_array().is_some_and(Vec::is_empty));
}

#[test]
fn json_carries_the_admission_counters_and_fairness() {
    let json = metrics_json(&sample());
    let pink = &json["teams"][1];
    assert_eq!(pink["peak_active"], 3);
    assert_eq!(pink["rejected_team_limit"], 7);
    assert_eq!(pink["goodput_per_s"], 2.0);
    assert_eq!(json["rejected_by_strategy"][0]["rejected"], 14);
    assert!((json["fairness"]["jain_index"].as_f64().unwrap() - 0.9).abs() < 1e-12);
    assert!((json["fairness"]["weighted_jain_index"].as_f64().unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn tail_counters_are_listed_per_node_and_in_json() {
    let mut m = sample();
    m.routing = Some(overlay::proto::RoutingStats {
        peer_calls: 1000,
        hedges_sent: 40,
        hedges_free: 4,
        hedges_won: 31,
        calls_cancelled: 33,
        ejections: 2,
        ..Default::default()
    });
    let table = tail_table(std::slice::from_ref(&m));
    let row = table.lines().nth(1).expect("one row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "1000", "{table}");
    assert_eq!(&cells[7..11], ["40", "4", "31", "33"], "{table}");
    assert_eq!(metrics_json(&m)["routing"]["hedges_won"], 31);
    assert_eq!(metrics_json(&m)["routing"]["hedges_free"], 4);
}

#[test]
fn table_lists_each_team_and_the_rejecting_strategies() {
    let table = team_table(&[sample()]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[1].starts_with("A    green"), "{table}");
    assert!(
        lines[3].contains("rejected by strategy: strict 14;"),
        "{table}"
    );
    assert!(lines[3].contains("0.900 (weighted 1.000)"), "{table}");
}

/// The fields of `message NAME` in the proto, with their types.
fn proto_fields(name: &str) -> Vec<(String, String)> {
    let proto = include_str!("../../../../proto/overlay.proto");
    let start = proto
        .find(&format!("message {name} {{"))
        .unwrap_or_else(|| panic!("message {name}"));
    let body = &proto[start..];
    let body = &body[body.find('{').expect("open") + 1..body.find("\n}").expect("close")];
    body.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//") && line.contains('='))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (ty, name) = if words[0] == "repeated" {
                (words[1], words[2])
            } else {
                (words[0], words[1])
            };
            (name.to_string(), ty.to_string())
        })
        .collect()
}

/// Every field of `message` (and of the messages it carries) is a key of `json`.
fn assert_every_field(message: &str, json: &serde_json::Value) {
    for (field, ty) in proto_fields(message) {
        let value = json
            .get(&field)
            .unwrap_or_else(|| panic!("{message}.{field} missing from the JSON: {json}"));
        if ty.starts_with(char::is_uppercase) {
            let inner = value.as_array().and_then(|a| a.first()).unwrap_or(value);
            assert!(inner.is_object(), "{message}.{field}: {value}");
            assert_every_field(&ty, inner);
        }
    }
}

/// A sample with one entry in every repeated message field.
fn full_sample() -> MetricsResponse {
    use overlay::proto::*;
    let mut m = sample();
    m.state = "warning".into();
    m.state_times = vec![StateTime {
        state: "healthy".into(),
        entered: 1,
        time_s: 9.0,
        probability: 0.9,
    }];
    m.state_transitions = vec![StateTransition {
        from: "healthy".into(),
        to: "warning".into(),
        ..Default::default()
    }];
    m.neighbors = vec![NeighborHealth {
        id: "B".into(),
        status: "suspected".into(),
        breaker: "half_open".into(),
        ..Default::default()
    }];
    m.hooks = Some(HookStats {
        registered: 1,
        dropped: 4,
        ..Default::default()
    });
    m.routing = Some(RoutingStats::default());
    m.active_faults = vec![Fault {
        id: "f1".into(),
        kind: "delay".into(),
        peer: "client".into(),
        delay_ms: 200,
        ..Default::default()
    }];
    m.membership = Some(MembershipStats {
        protocol: "swim".into(),
        messages_sent: 120,
        datagrams_dropped: 3,
        drops: vec![DropCount {
            reason: "other_cluster".into(),
            count: 3,
        }],
        members_alive: 5,
        members_down: 1,
        open_channels: 2,
        ..Default::default()
    });
    m.skipped_rows = vec![SkippedRows {
        reason: "schema".into(),
        count: 2,
        first: "x.csv:3: bad".into(),
    }];
    m
}

#[test]
fn json_carries_every_field_of_get_metrics() {
    assert_every_field("MetricsResponse", &metrics_json(&full_sample()));
}

#[test]
fn tables_show_state_peers_breakers_hooks_and_faults() {
    let m = full_sample();
    let text = health_tables(std::slice::from_ref(&m));
    for expected in [
        "A    warning",
        "healthy 90.0% (1x)",
        "A    B     suspected  half_open",
        "A fault f1: delay 200 ms on client",
        "A skipped 2 row(s) as schema; first at x.csv:3: bad",
        "other_cluster 3",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let hooks = text
        .lines()
        .find(|line| line.starts_with("A ") && line.trim_end().ends_with("off"))
        .expect("hook row");
    assert_eq!(
        hooks.split_whitespace().collect::<Vec<_>>(),
        ["A", "1", "0", "0", "0", "4", "0", "off"]
    );
    assert!(health_tables(&[sample()]).contains("no active faults"));
}
