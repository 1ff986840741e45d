//! `harness run` against a cluster it did not start (remote mode): the fault schedule goes
//! through the nodes' control services, detection times come from the nodes' metrics, and a
//! schedule the nodes cannot serve is refused before anything starts.

mod common;

use common::{small_dataset, Sandbox};
use overlay_harness::results::RunResults;
use overlay_harness::run::{run, RunOptions};
use serde_json::json;

fn workload(config: &std::path::Path, faults: &str) -> String {
    format!(
        r#"
name = "remote_faults"
[cluster]
config = "{}"
mode = "remote"
[sweep]
strategies = ["strict"]
concurrency = [4]
[load]
mode = "closed"
duration_s = 5
warmup_s = 0.3
timeout_s = 10
[[query]]
name = "count"
type = "aggregate"
params = {{ op = "count", group_by = "parameter" }}
[[tenant]]
team = "green"
share = 1
{faults}
"#,
        config.display()
    )
}

const SCHEDULE: &str = r#"
[[fault]]
at_s = 0.5
action = "delay"
target = "A"
peer = "client"
delay_ms = 150
duration_s = 1

[[fault]]
at_s = 2
action = "partition"
target = "B"
peer = "C"
duration_s = 1.5
"#;

/// A running cluster started with `node_args`, and a folder holding `remote.toml`, the
/// schedule above in remote mode against it.
async fn cluster_and_workload(node_args: &[&str]) -> (Sandbox, tempfile::TempDir) {
    let sandbox = Sandbox::start(small_dataset(), json!({}), node_args).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = workload(&sandbox.dir.path().join("cluster.json"), SCHEDULE);
    std::fs::write(tmp.path().join("remote.toml"), text).expect("write workload");
    (sandbox, tmp)
}

fn options(workload: std::path::PathBuf, out: std::path::PathBuf) -> RunOptions {
    RunOptions {
        workload,
        out,
        strategies: None,
        concurrency: None,
        data_path: Some(small_dataset().to_path_buf()),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_schedule_runs_through_the_control_service() {
    let (_sandbox, tmp) = cluster_and_workload(&["--enable-control"]).await;
    let file = tmp.path().join("remote.toml");
    let dir = run(options(file, tmp.path().join("reports")))
        .await
        .expect("remote run");
    let results = RunResults::load(&dir).unwrap();
    let step = &results.strategies[0].steps[0];
    let faults = step.faults.as_ref().expect("fault figures");
    assert_eq!(faults.fired.len(), 4, "{:?}", faults.fired);
    assert!(
        faults.fired.iter().all(|f| f.error.is_none()),
        "{:?}",
        faults.fired
    );
    assert!(faults.notes.is_empty(), "{:?}", faults.notes);
    // The delay toward clients shows in the window's latency.
    let delay = &faults.per_window[0];
    assert!(delay.ok > 0 && delay.p99_ms >= 150.0, "{delay:?}");
    // A partition between B and C alone is not a failure of either: the other nodes still
    // reach both, so membership's indirect probes keep each alive in the other's view, and
    // B's refused calls to C are routed around. Whatever is declared, seen through the
    // nodes' metrics, stays between B and C.
    let seen: Vec<(&str, &str)> = faults
        .detection
        .detections
        .iter()
        .filter(|d| d.detected_ms.is_some())
        .map(|d| (d.observer.as_str(), d.target.as_str()))
        .collect();
    assert!(
        seen.iter()
            .all(|pair| matches!(*pair, ("B", "C") | ("C", "B"))),
        "{seen:?}"
    );
    assert!(
        faults.detection.false_alarms.is_empty(),
        "{:?}",
        faults.detection.false_alarms
    );
    assert_eq!(step.measure.correctness.failures(), 0);
    assert!(step.measure.correctness.checked > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_schedule_without_control_is_refused_before_the_run() {
    let (_sandbox, tmp) = cluster_and_workload(&[]).await;
    let file = tmp.path().join("remote.toml");
    let err = run(options(file, tmp.path().join("reports")))
        .await
        .expect_err("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("start the nodes with --enable-control"),
        "{text}"
    );
    assert!(!tmp.path().join("reports").exists(), "nothing ran");
}

/// A remote cluster running another strategy than the workload lists is not measured under
/// the workload's name: the run stops, saying which node reports what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_cluster_with_another_strategy_is_refused() {
    let sandbox = Sandbox::start(
        small_dataset(),
        json!({}),
        &["--fairness-strategy", "weighted"],
    )
    .await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = workload(&sandbox.dir.path().join("cluster.json"), "");
    let path = tmp.path().join("remote.toml");
    std::fs::write(&path, text).expect("write workload");
    let err = run(options(path, tmp.path().join("reports")))
        .await
        .expect_err("strategy mismatch");
    let err = format!("{err:#}");
    assert!(
        err.contains("node A reports strategy 'weighted', the run is measuring 'strict'"),
        "{err}"
    );
}
