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
    spec.cluster.config = spec.cluster.config.map(|c| workspace_root().join(c));
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
                "scale_sweep",
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

/// A local workload on generated topologies: `cluster` and `sweep` lines given.
fn generated(cluster: &str, sweep: &str) -> Result<Workload, WorkloadError> {
    workload_of(&format!(
        "[cluster]\n{cluster}\n[sweep]\nstrategies = [\"strict\"]\nconcurrency = [2]\n{sweep}\n\
         [load]\nmode = \"closed\"\nrequests = 10\n[[query]]\nname = \"q\"\ntype = \"filter\"\n\
         [[tenant]]\nteam = \"t1\"\nshare = 1\n"
    ))
}

#[test]
fn a_topology_or_a_sweep_of_topologies_replaces_the_config_file() {
    let one = generated("topology = { teams = 8, workers = 7 }\nidle_s = 10", "").unwrap();
    assert_eq!(one.topologies.len(), 1);
    assert_eq!(one.idle_s, 10.0);
    let swept = generated(
        "",
        "topologies = [{ teams = 2, workers = [1, 2] }, { teams = 4, workers = 7 }]",
    )
    .unwrap();
    assert_eq!(swept.topologies.len(), 2);
}

#[test]
fn bad_topologies_are_refused_naming_the_key() {
    let cases = [
        (
            "topology = { teams = 0, workers = 7 }",
            "",
            "cluster.topology.teams",
        ),
        (
            "topology = { teams = 2, workers = 0 }",
            "",
            "cluster.topology.workers",
        ),
        (
            "",
            "topologies = [{ teams = 2, workers = 1 }, { teams = 2, workers = [1] }]",
            "sweep.topologies[1].workers",
        ),
        (
            "",
            "topologies = [{ teams = 2, workers = 1 }, { teams = 2, workers = 1 }]",
            "sweep.topologies[1]",
        ),
        (
            "config = \"configs/one_host_config.json\"\ntopology = { teams = 2, workers = 1 }",
            "",
            "cluster.config",
        ),
        ("", "", "cluster.config"),
        (
            "mode = \"remote\"\ntopology = { teams = 2, workers = 1 }",
            "",
            "cluster.topology",
        ),
        (
            "topology = { teams = 2, workers = 1 }\nidle_s = -1",
            "",
            "cluster.idle_s",
        ),
    ];
    for (cluster, sweep, key) in cases {
        let err = generated(cluster, sweep).unwrap_err();
        assert_eq!(err.key, key, "{cluster} {sweep}: {err}");
    }
    let err = generated("topology = { teams = 2, workers = 1, nodes = 9 }", "").unwrap_err();
    assert_eq!(err.key, "(syntax)");
}

#[test]
fn faults_must_name_a_node_of_every_topology() {
    let sweep = "topologies = [{ teams = 2, workers = 2 }, { teams = 2, workers = [1, 2] }]";
    let fault = |target: &str| {
        format!("{sweep}\n[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"{target}\"\nduration_s = 1")
    };
    assert_eq!(
        generated("", &fault("T2W2")).unwrap().faults.events.len(),
        2
    );
    let err = generated("", &fault("T1W2")).unwrap_err();
    assert_eq!(err.key, "fault[0].target", "{err}");
}
