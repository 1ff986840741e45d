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
            let faulty =
                ["failover", "failover_rf1", "cascading", "slow_node"].contains(&w.name.as_str());
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
