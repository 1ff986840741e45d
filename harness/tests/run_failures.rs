//! `harness run` when the nodes cannot start: a binary that exits shows its log tail, a
//! cluster that never answers names the missing nodes; either way nothing is left running.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::workspace_root;
use overlay_harness::run::{run, RunOptions};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn workload(dir: &Path, ready_timeout_s: f64) -> PathBuf {
    let config = workspace_root().join("configs/one_host_config.json");
    let text = std::fs::read_to_string(workspace_root().join("workloads/smoke.toml"))
        .expect("smoke workload")
        .replace(
            "configs/one_host_config.json",
            &config.display().to_string(),
        )
        .replace(
            "ready_timeout_s = 30",
            &format!("ready_timeout_s = {ready_timeout_s}"),
        )
        .replace("enabled = true", "enabled = false");
    let path = dir.join("w.toml");
    std::fs::write(&path, text).expect("write workload");
    path
}

fn options(dir: &Path, workload: PathBuf) -> RunOptions {
    RunOptions {
        workload,
        out: dir.join("out"),
        strategies: Some(vec!["strict".into()]),
        concurrency: None,
        data_path: Some(dir.join("data")),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    }
}

// One test: OVERLAY_NODE_BIN is process-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_cannot_start_are_reported_and_stopped() {
    let tmp = tempfile::tempdir().unwrap();

    let failing = script(
        tmp.path(),
        "failing-node",
        "echo \"error: cannot open the dataset (simulated) for $2\" >&2\nexit 3",
    );
    std::env::set_var("OVERLAY_NODE_BIN", &failing);
    let err = format!(
        "{:#}",
        run(options(tmp.path(), workload(tmp.path(), 10.0)))
            .await
            .unwrap_err()
    );
    assert!(err.contains("exited during start-up"), "{err}");
    assert!(
        err.contains("cannot open the dataset (simulated)"),
        "log tail missing: {err}"
    );

    let mute = script(
        tmp.path(),
        "mute-node",
        "echo \"node $2 $$\" >> \"$(dirname \"$0\")/pids\"\nexec sleep 60",
    );
    std::env::set_var("OVERLAY_NODE_BIN", &mute);
    let err = format!(
        "{:#}",
        run(options(tmp.path(), workload(tmp.path(), 1.0)))
            .await
            .unwrap_err()
    );
    std::env::remove_var("OVERLAY_NODE_BIN");
    assert!(err.contains("did not answer within"), "{err}");
    assert!(
        err.contains("A, B, C, D, E, F"),
        "missing nodes not named: {err}"
    );
    let pids = std::fs::read_to_string(tmp.path().join("pids")).unwrap();
    for line in pids.lines() {
        let pid = line.split_whitespace().last().unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap()
                    .contains(") Z"),
            "{line} still runs"
        );
    }
    // What was measured before (nothing) is still written, marked as stopped early.
    let latest = tmp.path().join("out/smoke/latest/results.json");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest).unwrap()).unwrap();
    assert!(results["interrupted"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
}
