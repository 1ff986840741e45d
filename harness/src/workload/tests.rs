//! Workload files through parse and validate: the shipped ones, and `[[fault]]` resolved
//! against the cluster config.

use std::path::{Path, PathBuf};

use super::validate::{parse, validate};
use super::{Workload, WorkloadError};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Parses and validates `text` as a workload with its cluster config path made absolute.
fn workload_of(text: &str) -> Result<Workload, WorkloadError> {
    let path = Path::new("w.toml");
    let mut spec = parse(path, text)?;
    spec.cluster.config = workspace_root().join(&spec.cluster.config);
    validate(path, spec)
}

#[test]
fn shipped_workloads_have_the_fault_plans_their_names_promise() {
    let dir = workspace_root().join("workloads");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let w = workload_of(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let faulty = [
                "failover",
                "failover_rf1",
                "cascading",
                "slow_node",
                "partitions",
            ]
            .contains(&w.name.as_str());
            assert_eq!(w.faults.is_empty(), !faulty, "{}", w.name);
            assert!(w.control_service);
            seen += 1;
        }
    }
    assert!(seen >= 5);
}

#[test]
fn a_workload_file_resolves_its_faults_against_the_cluster_config() {
    let base = std::fs::read_to_string(workspace_root().join("workloads/smoke.toml")).unwrap();
    let w = workload_of(&format!(
        "{base}\n[[fault]]\nat_s = 0.2\naction = \"pause\"\ntarget = \"E\"\nduration_s = 0.5\n"
    ))
    .unwrap();
    assert_eq!(w.faults.events.len(), 2);
    let err = workload_of(&format!(
        "{base}\n[[fault]]\nat_s = 0.2\naction = \"pause\"\ntarget = \"X\"\n"
    ))
    .unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.key.as_str()),
        ("w.toml", "fault[0].target")
    );
    let err = workload_of(&format!(
        "{base}\n[[fault]]\nat_s = 0.2\naction = \"kill\"\ntarget = \"E\"\nspeed = 3\n"
    ))
    .unwrap_err();
    assert_eq!(err.key, "(syntax)");
    assert!(err.message.contains("speed"), "{err}");
}

#[test]
fn network_netns_needs_a_local_cluster_on_host_addresses() {
    let two = std::fs::read_to_string(workspace_root().join("workloads/two_hosts.toml")).unwrap();
    assert!(workload_of(&two).unwrap().netns);
    let remote = two.replace("mode = \"local\"", "mode = \"remote\"");
    let err = workload_of(&remote).unwrap_err();
    assert_eq!(err.key, "cluster.network");
    assert!(err.message.contains("mode = \"local\""), "{err}");
    let loopback = two.replace(
        "configs/two_hosts_config.json",
        "configs/one_host_config.json",
    );
    let err = workload_of(&loopback).unwrap_err();
    assert_eq!(err.key, "cluster.network");
    assert!(
        err.message
            .contains("processes.A.host is 127.0.0.1, a loopback address"),
        "{err}"
    );
    let err = workload_of(&two.replace("network = \"netns\"", "network = \"lan\"")).unwrap_err();
    assert_eq!(err.key, "cluster.network");
}

#[test]
fn the_network_block_gives_a_default_and_pairs_named_by_address_or_process() {
    let two = std::fs::read_to_string(workspace_root().join("workloads/two_hosts.toml")).unwrap();
    let w = workload_of(&two).unwrap();
    assert_eq!(w.network.default.latency_ms, 0.5);
    assert_eq!(w.network.default.jitter_ms, 0.1);
    let pair = two.replace(
        "[data]",
        "[[network.link]]\nbetween = [\"A\", \"192.168.1.11\"]\nloss_percent = 2\n\n[data]",
    );
    let w = workload_of(&pair).unwrap();
    let link = w.network.pairs["192.168.1.10-192.168.1.11"];
    assert_eq!((link.latency_ms, link.loss_percent), (0.5, 2.0));
    let refused = |from: &str, to: &str| workload_of(&two.replace(from, to)).unwrap_err();
    let err = refused("latency_ms = 0.5", "latency_ms = -1");
    assert_eq!(err.key, "network.latency_ms");
    let err = refused("jitter_ms = 0.1", "jitter_ms = 0.1\nloss_percent = 101");
    assert_eq!(err.key, "network.loss_percent");
    let err = refused("jitter_ms = 0.1", "jitter_ms = 0.1\nrate_mbit = 0");
    assert_eq!(err.key, "network.rate_mbit");
    let err = workload_of(&pair.replace("\"192.168.1.11\"]", "\"Z\"]")).unwrap_err();
    assert_eq!(err.key, "network.link[0].between");
    assert!(err.message.contains("'Z'"), "{err}");
    let err = workload_of(&pair.replace("\"192.168.1.11\"]", "\"B\"]")).unwrap_err();
    assert!(err.message.contains("one host twice"), "{err}");
    let err = refused("network = \"netns\"", "network = \"loopback\"");
    assert_eq!(err.key, "network");
}

#[test]
fn per_process_hosts_spread_a_one_host_config_over_a_range() {
    let text = std::fs::read_to_string(workspace_root().join("workloads/partitions.toml")).unwrap();
    let w = workload_of(&text).unwrap();
    assert_eq!(w.host_addresses["A"], "10.77.0.1");
    assert_eq!(w.host_addresses["F"], "10.77.0.6");
    let err = workload_of(&text.replace("10.77.0.1/24", "10.77.0.1/30")).unwrap_err();
    assert_eq!(err.key, "network.addresses");
    let err = workload_of(&text.replace("addresses = \"10.77.0.1/24\"\n", "")).unwrap_err();
    assert_eq!(err.key, "network.addresses");
}

#[test]
fn network_faults_are_resolved_and_bad_ones_refused_naming_the_key() {
    let text = std::fs::read_to_string(workspace_root().join("workloads/partitions.toml")).unwrap();
    let w = workload_of(&text).unwrap();
    let first = w.faults.event(0).unwrap();
    let net = first.net.as_ref().unwrap();
    assert_eq!(
        (net.from.join(","), net.to.join(",")),
        ("A,B,F".into(), "C,D,E".into())
    );
    assert!(!net.reject);
    assert!(w.faults.delays_links());
    let refused = |from: &str, to: &str| {
        let err = workload_of(&text.replace(from, to)).unwrap_err();
        (err.key, err.message)
    };
    let (key, message) = refused("to = [\"C\", \"D\", \"E\"]", "to = [\"X\"]");
    assert_eq!(key, "fault[0].to");
    assert!(message.contains("'X' is not a process"), "{message}");
    let (key, _) = refused("to = [\"C\", \"D\", \"E\"]", "to = [\"C\", \"B\"]");
    assert_eq!(key, "fault[0].to");
    // Teams and the rest name groups.
    let w = workload_of(&text.replace(
        "from = [\"A\", \"B\", \"F\"]\nto = [\"C\", \"D\", \"E\"]",
        "from = [\"green\"]\nto = [\"rest\"]",
    ))
    .unwrap();
    let net = w.faults.event(0).unwrap().net.clone().unwrap();
    assert_eq!(
        (net.from.join(","), net.to.join(",")),
        ("A,B,C".into(), "D,E,F".into())
    );
    assert_eq!(
        refused("loss_percent = 5", "loss_percent = 150").0,
        "fault[3].loss_percent"
    );
    assert_eq!(
        refused("delay_ms = 200", "delay_ms = -5").0,
        "fault[2].delay_ms"
    );
    assert_eq!(
        refused("cut = \"blackhole\"", "cut = \"explode\"").0,
        "fault[0].cut"
    );
    let zero_rate = text.replace(
        "action = \"link\"\ntarget = \"E\"\nloss_percent = 5",
        "action = \"bandwidth\"\ntarget = \"E\"\nrate_mbit = 0",
    );
    assert_eq!(
        workload_of(&zero_rate).unwrap_err().key,
        "fault[3].rate_mbit"
    );
    let no_netns = text.replace("network = \"netns\"\n", "").replace(
        "[network]\nhosts = \"per_process\"\naddresses = \"10.77.0.1/24\"\n",
        "",
    );
    assert_eq!(workload_of(&no_netns).unwrap_err().key, "fault[0].action");
}

#[test]
fn a_partition_cannot_split_the_processes_of_one_host() {
    let two = std::fs::read_to_string(workspace_root().join("workloads/two_hosts.toml")).unwrap();
    let with = |fault: &str| {
        workload_of(&format!(
            "{two}\n[[fault]]\nat_s = 1\naction = \"net_partition\"\n{fault}\n"
        ))
    };
    assert!(with("from = [\"192.168.1.10\"]\nto = [\"rest\"]").is_ok());
    let err = with("from = [\"B\"]\nto = [\"C\"]").unwrap_err();
    assert_eq!(err.key, "fault[0].from");
    assert!(err.message.contains("per_process"), "{err}");
}
