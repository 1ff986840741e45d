//! The original system's own `one_host_config.json`, unchanged, as a real six-process cluster
//! on its fixed ports 60051–60056: started by `harness cluster up` (which runs
//! `overlay-node <config> <id>` for A–F), answering a filter and an aggregate equal to a
//! direct scan, then driven by `harness run` with a workload pointing at the file. And a
//! config whose links cannot be used is refused by the node and by the harness, before anything
//! starts, with the same message.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ask, small_dataset, workspace_root};
use overlay::proto::RecordFormat;
use overlay::record::Record;
use overlay_harness::checker::{compare_aggregate, expected_aggregate, load_dataset, matches};
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::results::RunResults;
use overlay_harness::run::{run, RunOptions};
use serde_json::{json, Map, Value};

/// The original file, byte for byte.
fn original_config() -> PathBuf {
    workspace_root().join("configs/original/one_host_config.json")
}

/// Waits up to 10 s for the file's fixed ports to be free, then fails naming the port. They lie
/// in the kernel's ephemeral range, so another process's outgoing connection may hold one for
/// a moment; anything holding one longer is reported, never waited on indefinitely.
fn require_fixed_ports_free() {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let busy = (60051..=60056).find_map(|port| {
            TcpListener::bind(("127.0.0.1", port))
                .err()
                .map(|e| (port, e))
        });
        let Some((port, err)) = busy else {
            return;
        };
        if std::time::Instant::now() > deadline {
            panic!(
                "port {port} on 127.0.0.1 is busy ({err}): this test runs the original \
                 one_host_config.json unchanged on its fixed ports 60051-60056, which lie in \
                 Linux's ephemeral range; stop what uses it, or keep outgoing connections off \
                 them with `sysctl net.ipv4.ip_local_reserved_ports=60051-60056` (.ci/run does)"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs the harness binary in `cwd` with the test's node binary.
fn harness(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(cwd)
        .env(
            "OVERLAY_NODE_BIN",
            node_binary(false).expect("overlay-node built"),
        )
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("harness runs")
}

/// Runs `harness cluster down` when dropped, so a failing test leaves no node running.
struct Down<'a> {
    cwd: &'a Path,
    config: String,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let out = harness(self.cwd, &["cluster", "down", &self.config]);
        if !out.status.success() && !std::thread::panicking() {
            panic!("cluster down failed: {out:?}");
        }
    }
}

/// The shipped smoke workload pointed at `config` on the config's own ports: one strategy,
/// one level, no baseline. Written into `dir`; returns the file.
fn smoke_workload_for(config: &str, dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("workloads/smoke.toml"))
        .expect("shipped smoke workload");
    let workload = shipped
        .replace(
            "config = \"configs/one_host_config.json\"\nports = \"free\"",
            &format!("config = {config:?}\nports = \"config\""),
        )
        .replace("name = \"smoke\"", "name = \"original_config\"")
        .replace("[\"strict\", \"fair_queue\"]", "[\"strict\"]")
        .replace("concurrency = [2, 8]", "concurrency = [4]")
        .replace("[baseline]\nenabled = true", "[baseline]\nenabled = false");
    assert!(workload.contains("ports = \"config\""), "{workload}");
    let path = dir.join("original_config.toml");
    std::fs::write(&path, workload).expect("write workload");
    path
}

fn params(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_one_host_file_runs_unchanged() {
    require_fixed_ports_free();
    let data = small_dataset();
    let rows = load_dataset(data).expect("dataset");
    let cwd = tempfile::tempdir().unwrap();
    let config = original_config().to_str().unwrap().to_string();
    {
        let up = harness(
            cwd.path(),
            &[
                "cluster",
                "up",
                &config,
                "--dataset-root",
                data.to_str().unwrap(),
                "--ready-timeout-s",
                "60",
            ],
        );
        assert!(up.status.success(), "cluster up: {up:?}");
        let _down = Down {
            cwd: cwd.path(),
            config: config.clone(),
        };
        let stdout = String::from_utf8_lossy(&up.stdout);
        assert!(
            stdout.contains("cluster of 6 processes") && stdout.contains("127.0.0.1:60051"),
            "{stdout}"
        );
        let leader = "127.0.0.1:60051";

        let filter = json!({"parameter": "PM2.5", "min_value": 10, "max_value": 50, "limit": 2000});
        let expected: Vec<&Record> = rows
            .iter()
            .filter(|r| matches(r, &params(&filter)))
            .collect();
        let outcome = ask(leader, "filter", &filter.to_string(), RecordFormat::Typed).await;
        assert_eq!(outcome.status, "ready");
        assert!(!outcome.partial);
        let records = outcome.drained.records().unwrap();
        assert_eq!(records.len(), expected.len().min(2000));
        assert!(records.iter().all(|r| matches(r, &params(&filter))));

        for aggregate in [
            json!({"op": "count", "group_by": "date"}),
            json!({"op": "avg", "field": "aqi", "group_by": "parameter"}),
        ] {
            let outcome = ask(
                leader,
                "aggregate",
                &aggregate.to_string(),
                RecordFormat::Json,
            )
            .await;
            assert_eq!(outcome.status, "ready", "{aggregate}");
            assert!(!outcome.partial, "{aggregate}");
            let actual = outcome.drained.json_rows().unwrap();
            compare_aggregate(&actual, &expected_aggregate(&rows, &params(&aggregate)))
                .unwrap_or_else(|diff| panic!("{aggregate}: {diff}"));
        }
    }

    // `harness run` with a workload pointing at the file, on its own ports.
    std::env::set_current_dir(workspace_root()).unwrap();
    let workload_path = smoke_workload_for(&config, cwd.path());
    let dir = run(RunOptions {
        workload: workload_path,
        out: cwd.path().join("reports"),
        strategies: None,
        concurrency: None,
        data_path: Some(cwd.path().join("data")),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    })
    .await
    .expect("harness run on the original file");
    let results = RunResults::load(&dir).unwrap();
    let strict = &results.strategies[0];
    assert_eq!(strict.target, "127.0.0.1:60051");
    let total = strict.total();
    assert!(total.overall.ok.count() > 5, "{:?}", total.overall.total());
    assert_eq!(total.overall.failed.count(), 0, "{:?}", total.errors);
    assert_eq!(total.correctness.wrong, 0, "{:?}", total.correctness);
    let report = std::fs::read_to_string(dir.join("benchmark_fairness_strict.txt")).unwrap();
    assert!(report.contains("HOST: 127.0.0.1\n"), "{report}");
    assert!(report.contains(&format!("Total Requests: {}\n", total.overall.total())));
    for id in ["A", "B", "C", "D", "E", "F"] {
        assert!(
            report.contains(&format!("  {id} (")),
            "{id} missing from Final Process Metrics"
        );
    }
    assert!(
        TcpListener::bind("127.0.0.1:60051").is_ok(),
        "the run stopped its cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_links_are_refused_by_node_and_harness_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(original_config()).unwrap()).unwrap();
    // Neither the leader nor E lists the link between them.
    value["processes"]["A"]["neighbors"] = json!(["B"]);
    value["processes"]["E"]["neighbors"] = json!(["F", "D"]);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, value.to_string()).unwrap();
    let message = "process E: field neighbors: the leader A does not link to team leader E";

    let node = Command::new(node_binary(false).expect("overlay-node built"))
        .arg(&bad)
        .arg("A")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&node.stderr);
    assert!(
        !node.status.success() && stderr.contains(message),
        "{stderr}"
    );

    let up = harness(dir.path(), &["cluster", "up", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success() && stderr.contains(message), "{stderr}");
    assert!(
        !dir.path().join(".overlay/bad/logs").exists(),
        "nothing launched"
    );

    let workload = smoke_workload_for(bad.to_str().unwrap(), dir.path());
    let refused = run(RunOptions {
        workload,
        out: dir.path().join("reports"),
        strategies: None,
        concurrency: None,
        data_path: Some(dir.path().join("data")),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    })
    .await
    .expect_err("harness run refuses the config");
    let text = format!("{refused:#}");
    assert!(text.contains(message), "{text}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing generated or launched"
    );
}
