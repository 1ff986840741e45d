//! `harness run` end to end: smoke.toml against a real local cluster, then the reports redrawn
//! from results.json; and bad input stopped with a clear error.

mod common;

use common::{run_options as options, workspace_root};
use overlay_harness::raw::read_rows;
use overlay_harness::results::RunResults;
use overlay_harness::run::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_workload_runs_end_to_end() {
    let root = workspace_root();
    std::env::set_current_dir(&root).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let started = std::time::Instant::now();
    let dir = run(options(
        root.join("workloads/smoke.toml"),
        out.clone(),
        tmp.path().join("data"),
    ))
    .await
    .expect("smoke run");
    assert!(
        started.elapsed().as_secs() < 30,
        "smoke took {:?}",
        started.elapsed()
    );
    assert!(
        tmp.path().join("data").read_dir().unwrap().next().is_some(),
        "data generated"
    );
    assert_eq!(
        std::fs::canonicalize(out.join("smoke/latest")).unwrap(),
        std::fs::canonicalize(&dir).unwrap()
    );

    let results = RunResults::load(&dir).unwrap();
    assert!(results.interrupted.is_none());
    // The data as checked: the generator's manifest, and every node's fingerprint recomputed
    // from the files.
    let manifest = results
        .data
        .manifest
        .as_ref()
        .expect("manifest of the generated data");
    assert_eq!((manifest.scale, manifest.seed), (0.01, 1));
    assert_eq!(results.data.days, 43);
    assert_eq!(results.data.fingerprint.len(), 16);
    for p in results.strategies.iter().flat_map(|r| &r.processes) {
        assert!(p.rows > 0 && !p.days_held.is_empty(), "{p:?}");
        assert_eq!(p.fingerprint_matches, Some(true), "{p:?}");
    }
    assert_eq!(results.strategies.len(), 2);
    let baseline = results.baseline.as_ref().expect("baseline measured");
    assert_eq!(baseline.steps.len(), 2);
    for run in &results.strategies {
        assert_eq!(run.steps.len(), 2, "{}", run.strategy);
        assert!(run.processes.iter().all(|p| p.status == "healthy"));
        assert!(run.processes.iter().all(|p| p.strategy == run.strategy));
        let total = run.total();
        assert!(
            total.overall.ok.count() > 10,
            "{}: {:?}",
            run.strategy,
            total.overall.total()
        );
        assert_eq!(total.overall.failed.count(), 0, "{:?}", total.errors);
        assert!(total.warmup_queries > 0);
        assert!(!run.logs.is_empty());
    }
    for file in [
        "benchmark_fairness_strict.txt",
        "benchmark_fairness_fair_queue.txt",
        "summary.md",
        "cluster_config.json",
        "latency_vs_concurrency.png",
        "throughput_vs_concurrency.svg",
        "latency_distribution.png",
        "team_goodput.png",
        "timeline_strict.png",
        "logs/strict/A.log",
    ] {
        let len = std::fs::metadata(dir.join(file))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 0, "{file} missing or empty");
    }
    let text = std::fs::read_to_string(dir.join("benchmark_fairness_strict.txt")).unwrap();
    assert!(text.contains("success rate:"));
    raw_rows_match_the_histograms(&dir, &results);

    // Redraw from results.json alone.
    std::fs::remove_file(dir.join("summary.md")).unwrap();
    std::fs::remove_file(dir.join("team_goodput.png")).unwrap();
    overlay_harness::report::render(&dir, &results).unwrap();
    assert!(dir.join("summary.md").is_file() && dir.join("team_goodput.png").is_file());
}

/// `requests.csv` holds one row per measured request, and its rows add up to the histograms
/// of results.json: per strategy, step and team the same counts, records and attempts, and
/// the same time-to-answer maximum (within the histograms' 3 significant digits).
fn raw_rows_match_the_histograms(dir: &std::path::Path, results: &RunResults) {
    let rows = read_rows(&dir.join("requests.csv")).expect("requests.csv");
    let mut checked = 0;
    for run in results.all_runs() {
        for (index, step) in run.steps.iter().enumerate() {
            for (team, series) in &step.measure.teams {
                let mine: Vec<_> = rows
                    .iter()
                    .filter(|r| {
                        r.strategy == run.strategy && r.step == index as u32 && &r.team == team
                    })
                    .collect();
                let status = |s: &str| mine.iter().filter(|r| r.status == s).count() as u64;
                let label = format!("{} step {index} {team}", run.strategy);
                assert_eq!(mine.len() as u64, series.total(), "{label}");
                assert_eq!(status("ok"), series.ok.count(), "{label}");
                assert_eq!(status("rejected"), series.rejected.count(), "{label}");
                assert_eq!(status("failed"), series.failed.count(), "{label}");
                assert_eq!(series.answer.count(), series.total(), "{label}");
                let attempts: u64 = mine.iter().map(|r| u64::from(r.attempts)).sum();
                assert_eq!(attempts, series.attempts, "{label}");
                let rejected: u64 = mine.iter().map(|r| u64::from(r.rejected_attempts)).sum();
                assert_eq!(rejected, series.rejected_attempts, "{label}");
                let records: u64 = mine.iter().map(|r| r.records).sum();
                assert_eq!(records, series.records, "{label}");
                if let Some(max) = mine.iter().map(|r| r.answer_ms).reduce(f64::max) {
                    let hist = series.answer.summary().max_ms;
                    assert!(
                        (hist - max).abs() <= max * 0.002 + 0.002,
                        "{label}: max {max} ms in rows, {hist} ms in the histogram"
                    );
                }
                assert!(mine.iter().all(|r| r.concurrency == step.concurrency
                    && r.repetition == step.repetition
                    && r.due_unix_ms.is_none()
                    && r.start_unix_ms >= results.started_unix_s * 1000
                    && !r.entry_node.is_empty()));
                checked += mine.len();
            }
        }
    }
    assert_eq!(checked, rows.len(), "every row belongs to a step");
    assert!(checked > 20, "{checked} rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_anything_starts_or_stops_what_it_started() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(root.join("workloads/smoke.toml")).unwrap();
    let config = root.join("configs/one_host_config.json");
    let smoke = smoke.replace(
        "configs/one_host_config.json",
        &config.display().to_string(),
    );

    // Unknown strategy from the command line: named, before anything starts.
    let path = tmp.path().join("w.toml");
    std::fs::write(&path, &smoke).unwrap();
    let mut opts = options(
        path.clone(),
        tmp.path().join("out"),
        tmp.path().join("data"),
    );
    opts.strategies = Some(vec!["fastest".into()]);
    let err = format!("{:#}", run(opts).await.unwrap_err());
    assert!(
        err.contains("sweep.strategies[0]") && err.contains("fastest"),
        "{err}"
    );
    let mut opts = options(
        path.clone(),
        tmp.path().join("out"),
        tmp.path().join("data"),
    );
    opts.concurrency = Some(vec![0]);
    let err = format!("{:#}", run(opts).await.unwrap_err());
    assert!(err.contains("sweep.concurrency[0]"), "{err}");
    assert!(
        !tmp.path().join("out").exists(),
        "nothing written for invalid input"
    );

    // Data generated at another scale into the workload's folder: named, before anything
    // starts, with the fix.
    let other_scale = tmp.path().join("other-scale");
    std::fs::create_dir_all(other_scale.join("20200810")).unwrap();
    std::fs::write(
        other_scale.join("overlay-data.json"),
        r#"{"scale": 1.0, "seed": 1, "rows": 1167525, "files": 516, "days": 43, "generator": "test"}"#,
    )
    .unwrap();
    let other_path = tmp.path().join("other-scale.toml");
    std::fs::write(
        &other_path,
        smoke.replace("data/smoke", &other_scale.display().to_string()),
    )
    .unwrap();
    let mut opts = options(other_path, tmp.path().join("out"), other_scale.clone());
    opts.data_path = None;
    let err = format!("{:#}", run(opts).await.unwrap_err());
    assert!(
        err.contains("scale 1 (the workload asks for 0.01)")
            && err.contains("1167525 rows")
            && err.contains("folder of its own"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists(), "nothing started");

    // A port already in use: the config's own ports, one of them held here.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let busy_config = std::fs::read_to_string(&config)
        .unwrap()
        .replace("60051", &port.to_string());
    let busy_path = tmp.path().join("busy.json");
    std::fs::write(&busy_path, busy_config).unwrap();
    let busy = smoke
        .replace(
            &config.display().to_string(),
            &busy_path.display().to_string(),
        )
        .replace("ports = \"free\"", "ports = \"config\"");
    std::fs::write(&path, busy).unwrap();
    let err = format!(
        "{:#}",
        run(options(
            path.clone(),
            tmp.path().join("out"),
            tmp.path().join("data")
        ))
        .await
        .unwrap_err()
    );
    assert!(
        err.contains("already in use") && err.contains(&port.to_string()),
        "{err}"
    );
}

/// A short failover workload in CI: a worker killed and restarted under load with replication
/// 2; the checker must find no wrong and no silently partial answer, and the report must carry
/// the observers' detection times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_workload_checks_answers_and_records_detection_times() {
    let root = workspace_root();
    std::env::set_current_dir(&root).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The shipped schedule, shortened: C killed at 1 s and restarted 2.5 s later.
    let workload = common::short_failover_workload(
        tmp.path(),
        "failover_ci",
        6,
        6,
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"\nduration_s = 2.5\n",
    );
    let dir = run(options(
        workload,
        tmp.path().join("reports"),
        common::small_dataset().to_path_buf(),
    ))
    .await
    .expect("no wrong or silently partial answer");
    let results = RunResults::load(&dir).unwrap();
    // Data given with --data is served as it is; its own scale is recorded, the workload's
    // differing one noted.
    assert_eq!(results.data.manifest.as_ref().map(|m| m.scale), Some(0.02));
    assert!(
        results.data.unchecked.contains("served as given by --data"),
        "{:?}",
        results.data
    );
    // A faulted run's summary leads with correctness and detection, before the tables.
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let lead = summary
        .find("## Correctness and fault detection")
        .expect("fault lead");
    assert!(
        lead < summary.find("## At the top concurrency").unwrap(),
        "{summary}"
    );
    assert!(
        summary.contains("[fault timeline, every repetition](faults_"),
        "{summary}"
    );
    let step = &results.strategies[0].steps[0];
    let correctness = &step.measure.correctness;
    assert!(correctness.checked > 10, "{correctness:?}");
    assert_eq!((correctness.wrong, correctness.partial_silent), (0, 0));
    let faults = step.faults.as_ref().expect("fault figures");
    assert_eq!(faults.fired.len(), 2, "{:?}", faults.fired);
    assert!(faults.notes.is_empty(), "{:?}", faults.notes);
    let detected: Vec<_> = faults
        .detection
        .detections
        .iter()
        .filter(|d| d.target == "C" && d.detected_ms.is_some())
        .collect();
    assert!(detected.iter().any(|d| d.observer == "A"), "{detected:?}");
    // The nodes that call C find it at once from their failed calls; the others learn it from
    // membership, within a few protocol periods.
    assert!(
        detected
            .iter()
            .filter(|d| d.observer == "A" || d.observer == "B")
            .all(|d| d.detected_ms.unwrap() < 1000.0),
        "{detected:?}"
    );
    assert!(
        detected.iter().all(|d| d.detected_ms.unwrap() < 3000.0),
        "{detected:?}"
    );
    assert!(
        faults.detection.false_alarms.is_empty(),
        "{:?}",
        faults.detection.false_alarms
    );
    assert!(
        faults.during.ok > 0 && faults.during.failed == 0,
        "{:?}",
        faults.during
    );
    let report = std::fs::read_to_string(dir.join("benchmark_fairness_fair_queue.txt")).unwrap();
    assert!(report.contains("FAULTS AND DETECTION TIMES"), "{report}");
    assert!(report.contains("kill C: A suspected"), "{report}");
    assert!(report.contains("amplification during faults"), "{report}");
    assert!(report.contains("false alarms: 0"), "{report}");
    for chart in ["faults_fair_queue_c6.png", "detection_fair_queue_c6_r0.png"] {
        assert!(
            dir.join(chart).is_file(),
            "{chart} missing in {}",
            dir.display()
        );
    }
}

/// A workload's thresholds are evaluated per step, written into the reports, and a failed one
/// makes `harness run` exit non-zero; a threshold naming an unknown team stops it before
/// anything starts. Progress goes to stderr as plain lines when it is not a terminal.
#[test]
fn a_failed_threshold_sets_the_exit_code() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(root.join("workloads/smoke.toml")).unwrap();
    let text = smoke
        .replace(
            "configs/one_host_config.json",
            &root
                .join("configs/one_host_config.json")
                .display()
                .to_string(),
        )
        .replace(
            "strategies = [\"strict\", \"fair_queue\"]",
            "strategies = [\"fair_queue\"]",
        )
        .replace("concurrency = [2, 8]", "concurrency = [2]")
        .replace("enabled = true", "enabled = false")
        + "\n[thresholds]\nwrong = \"== 0\"\nok_per_s = \"> 1000000\"\n";
    let path = tmp.path().join("thresholds.toml");
    std::fs::write(&path, &text).unwrap();
    let harness = |workload: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(&root)
            .env_remove("CARGO")
            .arg("run")
            .arg(workload)
            .arg("--data")
            .arg(common::small_dataset())
            .arg("--out")
            .arg(tmp.path().join("out"))
            .output()
            .expect("harness runs")
    };
    let out = harness(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // stderr is not a terminal here: progress comes as plain lines, not a bar.
    assert!(
        stderr.contains("fair_queue · concurrency 2 · repetition 0: started"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 threshold checks failed")
            && stderr.contains("FAIL fair_queue c=2 r0: ok_per_s > 1000000"),
        "{stderr}"
    );
    let results = RunResults::load(&tmp.path().join("out/smoke/latest")).unwrap();
    assert_eq!(results.thresholds.len(), 2);
    assert!(results
        .thresholds
        .iter()
        .any(|c| c.passed && c.threshold == "wrong == 0"));
    let summary = std::fs::read_to_string(tmp.path().join("out/smoke/latest/summary.md")).unwrap();
    assert!(
        summary.contains("## Thresholds: 1 of 2 FAILED"),
        "{summary}"
    );

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("wrong = ", "\"served_share.blue\" = \"> 0.5\"\nwrong = "),
    )
    .unwrap();
    let out = harness(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("thresholds.\"served_share.blue\"") && stderr.contains("'blue'"),
        "{stderr}"
    );
}
