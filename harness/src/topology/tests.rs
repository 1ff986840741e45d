use overlay::config::{ClusterConfig, NodeId, Role};
use overlay::dataset::airnow_2020_dates;
use overlay::partition::PartitionMap;

use super::*;

fn spec(teams: i64, workers: PerTeam) -> TopologySpec {
    TopologySpec {
        teams,
        workers,
        weights: None,
        dates: None,
    }
}

/// Generates on one host from port 40000 and reads the result with the root crate's parser.
fn loaded(spec: &TopologySpec) -> ClusterConfig {
    let shape = spec.check().unwrap();
    let places = addresses(&["127.0.0.1".to_string()], 40_000, shape.nodes()).unwrap();
    let json = generate(&shape, &places);
    ClusterConfig::from_json(&json.to_string()).unwrap()
}

#[test]
fn the_shipped_shape_and_the_sweep_sizes_have_the_expected_node_counts() {
    let shipped = loaded(&spec(2, PerTeam::List(vec![1, 2])));
    assert_eq!(shipped.processes.len(), 6);
    for (teams, nodes) in [(4, 33), (8, 65), (16, 129)] {
        let config = loaded(&spec(teams, PerTeam::Each(7)));
        assert_eq!(config.processes.len(), nodes);
        let leaders = config.children_of(&NodeId("L".into()));
        assert_eq!(leaders.len(), teams as usize);
        assert!(leaders.iter().all(|p| p.role == Role::TeamLeader));
        for leader in leaders {
            let workers = config.children_of(&leader.id);
            assert_eq!(workers.len(), 7, "{}", leader.id);
            assert!(workers.iter().all(|w| w.team == leader.team));
        }
    }
}

#[test]
fn by_default_every_day_of_the_dataset_is_held_exactly_once() {
    let days = airnow_2020_dates();
    for teams in [1, 2, 4, 8, 16, 43] {
        let config = loaded(&spec(teams, PerTeam::Each(7)));
        let map = PartitionMap::from_config(&config);
        for day in &days {
            let holders: Vec<_> = map
                .slices
                .iter()
                .filter(|s| s.dates.contains(day))
                .collect();
            assert_eq!(holders.len(), 1, "{teams} teams, {day}");
        }
        let bounds: Vec<_> = config.team_date_bounds.values().collect();
        assert_eq!(bounds.len(), teams as usize);
    }
}

#[test]
fn weights_dates_hosts_and_ports_are_written_as_given() {
    let spec = TopologySpec {
        teams: 2,
        workers: PerTeam::Each(1),
        weights: Some(vec![3, 1]),
        dates: Some(vec!["20200810-20200820".into(), "20200821-20200924".into()]),
    };
    let shape = spec.check().unwrap();
    let hosts = ["10.0.0.1".to_string(), "10.0.0.2".to_string()];
    let json = generate(&shape, &addresses(&hosts, 50_000, shape.nodes()).unwrap());
    let config = ClusterConfig::from_json(&json.to_string()).unwrap();
    assert_eq!(config.strategies.team_weights.get("t1"), Some(&3));
    let (lo, hi) = config.team_date_bounds["t2"];
    assert_eq!(
        (lo.to_string(), hi.to_string()),
        ("20200821".into(), "20200924".into())
    );
    let leader = config.process(&NodeId("L".into())).unwrap();
    assert_eq!((leader.host.as_str(), leader.port), ("10.0.0.1", 50_000));
    let t1 = config.process(&NodeId("T1".into())).unwrap();
    assert_eq!((t1.host.as_str(), t1.port), ("10.0.0.2", 50_001));
}

fn refused(spec: &TopologySpec) -> &'static str {
    spec.check().unwrap_err().field
}

#[test]
fn zero_or_too_many_teams_or_workers_are_refused_naming_the_argument() {
    assert_eq!(refused(&spec(0, PerTeam::Each(7))), "teams");
    assert_eq!(refused(&spec(44, PerTeam::Each(1))), "teams");
    assert_eq!(refused(&spec(2, PerTeam::Each(0))), "workers");
    assert_eq!(refused(&spec(2, PerTeam::List(vec![1, 0]))), "workers");
    assert_eq!(refused(&spec(2, PerTeam::List(vec![1]))), "workers");
    assert_eq!(refused(&spec(2, PerTeam::Each(100_000))), "workers");
    let mut weighted = spec(2, PerTeam::Each(1));
    weighted.weights = Some(vec![1, 0]);
    assert_eq!(refused(&weighted), "weights");
}

#[test]
fn date_ranges_outside_the_dataset_or_overlapping_are_refused() {
    for dates in [
        ["20200801-20200820", "20200821-20200924"],
        ["20200810-20200820", "20200821-20201001"],
        ["20200811-20200813", "20200821-20200924"],
        ["20200810-20200830", "20200821-20200924"],
        ["20200820-20200810", "20200821-20200924"],
        ["yesterday", "20200821-20200924"],
    ] {
        let mut s = spec(2, PerTeam::Each(1));
        s.dates = Some(dates.iter().map(|d| d.to_string()).collect());
        let err = s.check().unwrap_err();
        assert_eq!(err.field, "dates", "{dates:?}: {err}");
    }
}

#[test]
fn ports_past_65535_and_bad_hosts_are_refused() {
    let one = ["127.0.0.1".to_string()];
    assert_eq!(addresses(&one, 65_531, 6).unwrap_err().field, "base_port");
    assert_eq!(addresses(&one, 0, 6).unwrap_err().field, "base_port");
    assert_eq!(
        addresses(&one, 65_530, 6).unwrap().last().unwrap().1,
        65_535
    );
    assert_eq!(addresses(&[], 40_000, 6).unwrap_err().field, "host");
    assert_eq!(
        addresses(&["a b".to_string()], 40_000, 6)
            .unwrap_err()
            .field,
        "host"
    );
}

#[test]
fn the_workload_form_parses_one_count_or_a_list() {
    let each: TopologySpec = toml::from_str("teams = 8\nworkers = 7").unwrap();
    assert_eq!(each.workers, PerTeam::Each(7));
    let list: TopologySpec = toml::from_str("teams = 2\nworkers = [1, 2]").unwrap();
    assert_eq!(list.check().unwrap().nodes(), 6);
    assert!(toml::from_str::<TopologySpec>("teams = 2\nworkers = 1\nfoo = 1").is_err());
}
