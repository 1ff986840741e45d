//! Reports rendered from a fixed results.json: the text sections carry the right numbers, the
//! summary compares the strategies, and the charts are real PNG and SVG files.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::workspace_root;
use overlay_harness::data::manifest::Manifest;
use overlay_harness::results::{
    DataServed, ProcessSnapshot, RunResults, StateChange, Step, StrategyRun, SCHEMA,
};
use overlay_harness::stats::{Outcome, Recorder, Sample};
use overlay_harness::workload::load;

/// A step where green gets `green_ok` answers of 1..=green_ok ms and pink `pink_ok` answers of
/// 10 ms, plus `rejected` rejections of green, over a 10 s window.
fn step(concurrency: u32, green_ok: u64, pink_ok: u64, rejected: u64) -> Step {
    let mut r = Recorder::new(
        vec!["green".into(), "pink".into()],
        vec!["pm25_filter".into(), "avg_by_parameter".into()],
    );
    let sample = |team, ms, outcome| Sample {
        team,
        query: 0,
        outcome,
        latency: Duration::from_millis(ms),
        service: Duration::from_millis(ms),
        answer: Duration::from_millis(if outcome == Outcome::Ok { ms } else { 20_000 }),
        attempts: 1,
        rejected_attempts: u32::from(outcome == Outcome::Rejected),
        timed_out: false,
        start_unix_ms: 0,
        due_unix_ms: None,
        entry_node: String::new(),
        at_s: 1.0,
        records: if outcome == Outcome::Ok { 500 } else { 0 },
        error: None,
        partial: false,
        retried: false,
        verdict: None,
    };
    for ms in 1..=green_ok {
        r.add(sample(0, ms, Outcome::Ok));
    }
    for _ in 0..pink_ok {
        r.add(sample(1, 10, Outcome::Ok));
    }
    for _ in 0..rejected {
        r.add(sample(0, 1, Outcome::Rejected));
    }
    Step {
        concurrency,
        repetition: 0,
        measure: r.finish(10.0),
        admission: Vec::new(),
        faults: None,
        trace: None,
    }
}

fn strategy(name: &str, top: (u64, u64, u64)) -> StrategyRun {
    StrategyRun {
        strategy: name.to_string(),
        target: "127.0.0.1:60051".to_string(),
        startup_s: 0.5,
        steps: vec![step(1, 50, 50, 0), step(100, top.0, top.1, top.2)],
        processes: vec![ProcessSnapshot {
            id: "A".into(),
            address: "127.0.0.1:60051".into(),
            role: "leader".into(),
            team: "green".into(),
            status: "healthy".into(),
            files: 12,
            rows: 1234,
            days_assigned: 2,
            days_held: vec!["20200810".into(), "20200814".into()],
            data_fingerprint: "0123456789abcdef".into(),
            fingerprint_matches: Some(true),
            ..Default::default()
        }],
        logs: BTreeMap::from([("A".to_string(), vec!["[Server] A serving".to_string()])]),
        state_transitions: Vec::new(),
        state_changes: vec![StateChange {
            at_s: 3.0,
            node: "A".into(),
            from: "healthy".into(),
            to: "warning".into(),
            reason: "active 75 >= 70".into(),
        }],
        step_starts: vec![(0.5, "c=1".into()), (11.0, "c=100".into())],
        topology: None,
        links: Vec::new(),
    }
}

fn fixture() -> RunResults {
    std::env::set_current_dir(workspace_root()).expect("workspace root");
    let mut workload = load(Path::new("workloads/fairness_sweep.toml")).expect("shipped workload");
    // The steps below are one repetition each.
    workload.repetitions = 1;
    RunResults {
        schema: SCHEMA,
        run_id: "20250101-000000".into(),
        workload,
        cluster_config: serde_json::json!({}),
        git_revision: "abc".into(),
        machine: Default::default(),
        started_unix_s: 0,
        wall_s: 60.0,
        interrupted: None,
        baseline: Some(strategy("baseline", (100, 100, 0))),
        // strict: green 100 ok (1..100 ms) and 100 rejections, pink 100 ok at 10 ms.
        strategies: vec![
            strategy("strict", (100, 100, 100)),
            strategy("fair_queue", (300, 100, 0)),
        ],
        thresholds: Vec::new(),
        data: DataServed {
            path: "data/synthetic".into(),
            manifest: Some(Manifest {
                scale: 0.25,
                seed: 42,
                rows: 291_000,
                files: 516,
                days: 43,
                generator: "test".into(),
            }),
            fingerprint: "fedcba9876543210".into(),
            days: 43,
            unchecked: String::new(),
        },
    }
}

/// The fixture with each step measured three times (the repetitions differ by a few answers).
fn repeated() -> RunResults {
    let mut r = fixture();
    r.workload.repetitions = 3;
    for run in r.baseline.iter_mut().chain(r.strategies.iter_mut()) {
        let mut steps = Vec::new();
        for s in &run.steps {
            for (rep, extra) in [(0u32, 0u64), (1, 10), (2, 20)] {
                let mut s2 = step(s.concurrency, 50 + extra, 50, 0);
                s2.repetition = rep;
                steps.push(s2);
            }
        }
        run.steps = steps;
    }
    r
}

#[test]
fn reports_render_from_a_results_file_with_the_right_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture();
    fixture.save(dir.path()).unwrap();
    let results = RunResults::load(dir.path()).unwrap();
    overlay_harness::report::render(dir.path(), &results).unwrap();

    let strict = std::fs::read_to_string(dir.path().join("benchmark_fairness_strict.txt")).unwrap();
    for section in [
        "PROCESSES",
        "RECENT LOGS",
        "SUMMARY",
        "PER CONCURRENCY LEVEL",
        "PER TEAM",
        "FAIRNESS",
        "REJECTIONS",
        "STATE TRANSITIONS",
        "FINAL PROCESS METRICS",
    ] {
        assert!(strict.contains(section), "missing {section}");
    }
    // Both steps: 100 + 200 ok, 100 rejected, over 20 s.
    assert!(strict.contains("total requests:      400"), "{strict}");
    assert!(strict.contains("successful:          300"));
    assert!(strict.contains("success rate:        75.00%"));
    assert!(strict.contains("throughput:          15.00 successful queries/s over 20.00 s"));
    assert!(strict.contains("records total:       150000"));
    assert!(strict.contains("max latency:         100.0"));
    assert!(strict.contains("[A] [Server] A serving"));
    // Top level: green offered 20/s and got 10/s, pink offered and got 10/s. Capacity is the
    // most any strategy served there (fair_queue: 40/s), which covers all demand: fair shares
    // 20 and 10, ratios 0.5 and 1 → (1.5)² / (2 · 1.25) = 0.9. The plain index of 10 and 10
    // calls it perfectly fair.
    assert!(
        strict.contains("demand-aware index (served ÷ weighted max-min fair share): 0.900"),
        "{strict}"
    );
    assert!(
        strict.contains("plain Jain's index over goodput / weight (ignores demand): 1.000"),
        "{strict}"
    );
    assert!(
        strict.contains("rejected attempts 100 of 400 attempts (25.00%)"),
        "{strict}"
    );
    // SUMMARY and REJECTIONS count the unanswered requests alike.
    assert!(strict.contains("failed:              100 (rejected 100, errors 0)"));
    assert!(strict.contains("requests 400: answered 300, failed 100 (rejected to the end 100"));
    // Time to answer counts the 100 rejected requests at 20 s: their quarter sets the p99.
    assert!(
        strict.contains("p99 20004.86 · max 20004.86 ms (from first attempt"),
        "{strict}"
    );
    // fair_queue top level: 30 and 10 served of 30 and 10 offered → every demand met: 1, where
    // the plain index over goodput says (40)² / (2·(900+100)) = 0.8.
    let fq = std::fs::read_to_string(dir.path().join("benchmark_fairness_fair_queue.txt")).unwrap();
    assert!(
        fq.contains("demand-aware index (served ÷ weighted max-min fair share): 1.000"),
        "{fq}"
    );
    assert!(
        fq.contains("plain Jain's index over goodput / weight (ignores demand): 0.800"),
        "{fq}"
    );

    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("| strict | 20.0 (n=1) |"), "{summary}");
    assert!(summary.contains("| fair_queue | 40.0 (n=1) |"));
    assert!(summary.contains("| baseline | 20.0 (n=1) |"));
    assert!(summary.contains("Distance from one hop"));
    assert!(summary.contains("One repetition per level"), "{summary}");
    // Provenance as checked: the generator's record, the files' and the nodes' fingerprints.
    assert!(
        summary.contains("generated at scale 0.25 with seed 42 (291000 rows in 516 files)"),
        "{summary}"
    );
    assert!(
        summary.contains("fingerprint fedcba9876543210"),
        "{summary}"
    );
    assert!(
        summary.contains("A 1234 rows, 2/2 days, fingerprint 0123456789abcdef (matches the files)"),
        "{summary}"
    );
    assert!(
        strict.contains("data:         data/synthetic · generated at scale 0.25"),
        "{strict}"
    );
    assert!(
        strict.contains("FAIRNESS BENCHMARK REPORT — strategy: strict (not confirmed"),
        "{strict}"
    );
    // The question's chart is the first link.
    let links = summary.split("## Charts").nth(1).unwrap();
    assert!(
        links.trim_start().starts_with("- [protection_vs_cost]"),
        "{links}"
    );

    let mut charts = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                assert!(
                    bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    "{}",
                    path.display()
                );
                charts += 1;
            }
            Some("svg") => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    text.contains("<svg") && text.contains("</svg>") && text.contains("<text"),
                    "{}",
                    path.display()
                );
                charts += 1;
            }
            _ => {}
        }
    }
    // protection vs cost, 3 per-level charts, the distribution, 2 team charts, 3 timelines
    // and 3 state timelines, in two formats.
    assert!(dir.path().join("states_strict.png").exists());
    assert!(dir.path().join("protection_vs_cost.png").exists());
    assert_eq!(charts, 26);
}

#[test]
fn repetitions_give_medians_with_intervals_in_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let results = repeated();
    overlay_harness::report::render(dir.path(), &results).unwrap();
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    // Top level: 50, 60 and 70 green answers + 50 pink over 10 s: 10, 11 and 12 ok/s.
    assert!(
        summary.contains("| strict | 11.0 [10.0–12.0] |"),
        "{summary}"
    );
    assert!(
        summary.contains("over 3 repetitions per level"),
        "{summary}"
    );
    assert!(summary.contains("at 95 % confidence"), "{summary}");
    let strict = std::fs::read_to_string(dir.path().join("benchmark_fairness_strict.txt")).unwrap();
    assert!(
        strict.contains("conc   100: ok/s 11.0 [10.0–12.0]"),
        "{strict}"
    );
    // Error bars: the per-level SVG holds more paths than one line per series would.
    let svg = std::fs::read_to_string(dir.path().join("throughput_vs_concurrency.svg")).unwrap();
    assert!(
        svg.contains("bootstrap interval over 3 repetitions"),
        "{svg}"
    );
}

#[test]
fn a_sweep_of_one_level_draws_no_line_over_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = fixture();
    results.workload.concurrency = vec![100];
    for run in results
        .baseline
        .iter_mut()
        .chain(results.strategies.iter_mut())
    {
        run.steps.retain(|s| s.concurrency == 100);
    }
    overlay_harness::report::render(dir.path(), &results).unwrap();
    assert!(!dir.path().join("throughput_vs_concurrency.png").exists());
    assert!(!dir.path().join("latency_vs_concurrency.png").exists());
    assert!(dir.path().join("protection_vs_cost.png").exists());
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(!summary.contains("throughput_vs_concurrency"), "{summary}");
}

#[test]
fn an_older_results_file_without_the_new_fields_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = serde_json::to_value(fixture()).unwrap();
    json.as_object_mut().unwrap().remove("data");
    json["workload"]
        .as_object_mut()
        .unwrap()
        .remove("confidence");
    for run in json["strategies"].as_array_mut().unwrap() {
        for p in run["processes"].as_array_mut().unwrap() {
            let p = p.as_object_mut().unwrap();
            for key in [
                "days_assigned",
                "days_held",
                "data_fingerprint",
                "fingerprint_matches",
            ] {
                p.remove(key);
            }
        }
    }
    std::fs::write(dir.path().join("results.json"), json.to_string()).unwrap();
    let results = RunResults::load(dir.path()).unwrap();
    assert_eq!(results.workload.confidence, 0.95);
    overlay_harness::report::render(dir.path(), &results).unwrap();
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("no generator manifest"), "{summary}");
}

#[test]
fn compare_sets_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture();
    let mut b = fixture();
    b.run_id = "20250102-000000".into();
    assert!(overlay_harness::results::differences(&a, &b).is_empty());
    let table = overlay_harness::report::compare::compare(
        &[a.clone(), b.clone()],
        &[(b.run_id.clone(), Vec::new())],
    );
    assert!(
        table.contains("`fairness_sweep/20250101-000000`"),
        "{table}"
    );
    assert!(
        table.contains("## 20250102-000000 vs 20250101-000000"),
        "{table}"
    );
    assert!(
        table.contains(
            "| strict | 100 | ok/s | 20.0 (n=1) | 20.0 (n=1) | +0.0 (no interval) | noise |"
        ),
        "{table}"
    );
    let files = overlay_harness::report::charts::render_compare(dir.path(), &[a, b]).unwrap();
    assert_eq!(files.len(), 6);
}

#[test]
fn compare_refuses_runs_that_differ_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture();
    let mut b = fixture();
    b.run_id = "20250102-000000".into();
    b.machine.cpus = 64;
    b.workload.per_team_limit = Some(3);
    for (run, name) in [(&a, "a"), (&b, "b")] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        run.save(&dir.path().join(name)).unwrap();
    }
    let args = |force| overlay_harness::cli::CompareArgs {
        dirs: vec![dir.path().join("a"), dir.path().join("b")],
        out: dir.path().join("out"),
        force,
    };
    let err = format!(
        "{:#}",
        overlay_harness::commands::compare::run(args(false)).unwrap_err()
    );
    assert!(
        err.contains("machine CPUs: 0 vs 64")
            && err.contains("workload per_team_limit: 16 vs 3")
            && err.contains("--force"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing written");
    overlay_harness::commands::compare::run(args(true)).unwrap();
    let md = std::fs::read_to_string(dir.path().join("out/compare.md")).unwrap();
    assert!(md.contains("**WARNING: `20250102-000000` differs"), "{md}");
}

/// The original's lines, each read with its own regex as the original's scripts read them,
/// and compared with the figures of results.json.
#[test]
fn original_report_lines_come_first_and_match_results_json() {
    let dir = tempfile::tempdir().unwrap();
    fixture().save(dir.path()).unwrap();
    let results = RunResults::load(dir.path()).unwrap();
    overlay_harness::report::render(dir.path(), &results).unwrap();
    let text = std::fs::read_to_string(dir.path().join("benchmark_fairness_strict.txt")).unwrap();
    let run = results
        .strategies
        .iter()
        .find(|r| r.strategy == "strict")
        .unwrap();
    let total = run.total();
    let latency = total.overall.ok.summary();

    let rule = "=".repeat(120);
    assert!(
        text.starts_with(&format!(
            "{rule}\nBENCHMARK\n{rule}\nFairness Strategy: strict\n"
        )),
        "{text}"
    );
    let ours = text
        .find("FAIRNESS BENCHMARK REPORT")
        .expect("today's sections");
    assert!(
        text.find("BENCHMARK SUMMARY").unwrap() < ours,
        "original first"
    );

    let capture = |pattern: &str| -> String {
        let re = regex::Regex::new(&format!("(?m)^{pattern}$")).unwrap();
        let found = re
            .captures(&text)
            .unwrap_or_else(|| panic!("no line matches {pattern:?} in\n{text}"));
        found.get(1).map_or("", |m| m.as_str()).to_string()
    };
    let number = |pattern: &str| -> f64 { capture(pattern).parse().unwrap() };
    let close = |pattern: &str, expected: f64| {
        let got = number(pattern);
        assert!(
            (got - expected).abs() < 0.006,
            "{pattern}: {got} vs {expected}"
        );
    };

    assert_eq!(capture(r"Requests: (\d+), Concurrency: 1/100"), "400");
    assert_eq!(
        capture(r"Started: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"),
        "1970-01-01 00:00:00"
    );
    assert_eq!(capture(r"HOST: (\S+)"), "127.0.0.1");
    capture(
        r"(ID   Role         Team   Status   Active   Queue    Avg\(ms\)    Files    State) {10}",
    );
    assert_eq!(
        capture(
            r"(A    leader       green  online   0        0        0\.00       12       Ready) {10}"
        ),
        "A    leader       green  online   0        0        0.00       12       Ready"
    );
    capture(r"(RECENT LOGS \(127\.0\.0\.1\):)");
    capture(r"  A: (\[Server\] A serving)");
    assert_eq!(
        capture(r"Completed at: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"),
        "1970-01-01 00:01:00"
    );
    close(r"Duration: (\d+\.\d\d) seconds", total.elapsed_s);
    assert_eq!(
        number(r"Total Requests: (\d+)") as u64,
        total.overall.total()
    );
    assert_eq!(
        number(r"Successful: (\d+)") as u64,
        total.overall.ok.count()
    );
    assert_eq!(
        number(r"Failed: (\d+)") as u64,
        total.overall.total() - total.overall.ok.count()
    );
    close(r"Success Rate: (\d+\.\d\d)%", 75.0);
    capture(r"(Performance Metrics:)");
    close(r"  Average Latency: (\d+\.\d\d) ms", latency.mean_ms);
    close(r"  Min Latency: (\d+\.\d\d) ms", latency.min_ms);
    close(r"  Max Latency: (\d+\.\d\d) ms", latency.max_ms);
    close(r"  P95 Latency: (\d+\.\d\d) ms", latency.p95_ms);
    close(r"  P99 Latency: (\d+\.\d\d) ms", latency.p99_ms);
    close(r"  Throughput: (\d+\.\d\d) req/sec", total.throughput());
    capture(r"(Data Metrics:)");
    assert_eq!(
        number(r"  Total Records Returned: (\d+)") as u64,
        total.overall.records
    );
    close(
        r"  Average Records per Query: (\d+\.\d\d)",
        total.overall.records as f64 / total.overall.ok.count() as f64,
    );
    capture(r"(Final Process Metrics:)");
    assert_eq!(
        capture(r"  A \(leader/green\): Active=(\d+), Queue=\d+, AvgTime=\d+\.\d\dms, Files=12"),
        "0"
    );
    // The figures the issue's scripts read, with the fixture's known values.
    assert_eq!(
        (
            number(r"Total Requests: (\d+)"),
            number(r"  Total Records Returned: (\d+)")
        ),
        (400.0, 150000.0)
    );
    close(r"  Throughput: (\d+\.\d\d) req/sec", 15.0);
}
