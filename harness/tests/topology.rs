//! Generated topologies end to end: `harness topology` writes configs the root crate's parser
//! loads (and refuses bad arguments naming them), and `harness run` sweeps two generated
//! topologies with a worker killed under load, recording each topology's figures.

mod common;

use std::process::Command;

use common::{run_options, workspace_root};
use overlay::config::ClusterConfig;
use overlay_harness::report::scale::scale_rows;
use overlay_harness::results::RunResults;
use overlay_harness::run::run;

fn topology(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("topology")
        .args(args)
        .output()
        .expect("harness runs")
}

#[test]
fn harness_topology_writes_a_config_that_loads_and_refuses_bad_arguments() {
    let out = topology(&["--teams", "4", "--workers", "7", "--base-port", "40000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = ClusterConfig::from_json(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(config.processes.len(), 33);
    assert_eq!(config.leader().port, 40000);

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.json");
    let args = [
        "--teams",
        "2",
        "--workers",
        "1,2",
        "--weights",
        "3,1",
        "--host",
        "127.0.0.1,127.0.0.2",
    ];
    let out = topology(&[&args[..], &["--out", file.to_str().unwrap()]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = ClusterConfig::load(&file).unwrap();
    assert_eq!(config.processes.len(), 6);
    assert_eq!(config.strategies.team_weights.get("t1"), Some(&3));

    for (args, flag) in [
        (vec!["--teams", "0", "--workers", "7"], "--teams"),
        (vec!["--teams", "2", "--workers", "0"], "--workers"),
        (
            vec!["--teams", "2", "--workers", "7", "--base-port", "65530"],
            "--base-port",
        ),
        (
            vec![
                "--teams",
                "1",
                "--workers",
                "1",
                "--dates",
                "20200101-20200820",
            ],
            "--dates",
        ),
    ] {
        let out = topology(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

const WORKLOAD: &str = r#"
name = "tiny_scale"
seed = 3

[cluster]
ready_timeout_s = 60
idle_s = 1

[data]
path = "data/smoke"
scale = 0.01

[sweep]
strategies = ["strict"]
concurrency = [4]
topologies = [{ teams = 1, workers = 2 }, { teams = 2, workers = [2, 2] }]

[load]
mode = "closed"
duration_s = 3
warmup_s = 0.3
timeout_s = 10

[[query]]
name = "pm25"
type = "filter"
params = { parameter = "PM2.5", min_value = 10, max_value = 50, limit = 500 }

[[query]]
name = "count"
type = "aggregate"
params = { op = "count", group_by = "parameter" }

[[tenant]]
team = "t1"
share = 1

[[fault]]
at_s = 0.5
action = "kill"
target = "T1W2"
duration_s = 1.5
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_sweeps_generated_topologies_and_records_their_figures() {
    let root = workspace_root();
    std::env::set_current_dir(&root).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let workload = tmp.path().join("tiny_scale.toml");
    std::fs::write(&workload, WORKLOAD).unwrap();
    let out = tmp.path().join("reports");
    let dir = run(run_options(workload, out, tmp.path().join("data")))
        .await
        .expect("tiny scale run");
    let results = RunResults::load(&dir).unwrap();
    let names: Vec<String> = results.strategies.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["strict_4n", "strict_7n"]);
    for name in &names {
        assert!(dir
            .join(format!("cluster_config_{}.json", &name[7..]))
            .is_file());
        assert!(dir.join(format!("benchmark_fairness_{name}.txt")).is_file());
    }
    let rows = scale_rows(&results);
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(
            row.idle_cpu_pct.is_some_and(|c| (0.0..400.0).contains(&c)),
            "{row:?}"
        );
        assert!(row.rss_mb.is_some_and(|m| m > 1.0), "{row:?}");
        // Shared pages count once in PSS: never more than the resident sum.
        assert!(
            row.pss_mb
                .zip(row.rss_mb)
                .is_some_and(|(pss, rss)| pss > 1.0 && pss <= rss),
            "{row:?}"
        );
        assert!(row.qps > 0.0, "{row:?}");
        assert!(row.observers >= 1, "the kill was seen: {row:?}");
    }
    for run in &results.strategies {
        let total = run.total();
        assert_eq!(total.correctness.wrong, 0, "{}", run.name());
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("## Scale: every topology"), "{summary}");
    assert!(dir.join("scale_idle_cpu.png").is_file());
}
