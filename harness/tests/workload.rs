//! Workload files: the shipped ones are valid, and every rule fails naming the file, the key
//! and what is allowed.

mod common;

use std::path::Path;

use common::workspace_root;
use overlay_harness::workload::validate::{parse, validate};
use overlay_harness::workload::{load, LoadMode, StepLength};

fn base() -> String {
    let config = workspace_root().join("configs/one_host_config.json");
    format!(
        r#"
[cluster]
config = "{}"
[sweep]
strategies = ["strict", "weighted"]
concurrency = [1, 10]
[load]
mode = "closed"
duration_s = 2
[[query]]
name = "q"
type = "filter"
params = {{ parameter = "PM2.5", limit = 10 }}
[[tenant]]
team = "green"
share = 3
[[tenant]]
team = "pink"
share = 1
weight = 2
"#,
        config.display()
    )
}

/// Replaces `from` in the base workload with `to` and returns the error text.
fn error_with(from: &str, to: &str) -> String {
    let text = base();
    assert!(text.contains(from), "base lacks {from}");
    error_of(&text.replacen(from, to, 1))
}

fn error_of(text: &str) -> String {
    let path = Path::new("w.toml");
    match parse(path, text).and_then(|spec| validate(path, spec)) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.to_string(),
    }
}

fn assert_names(error: &str, parts: &[&str]) {
    for part in parts {
        assert!(error.contains(part), "{error:?} lacks {part:?}");
    }
    assert!(
        error.starts_with("w.toml: "),
        "{error:?} does not name the file"
    );
}

#[test]
fn the_base_workload_resolves() {
    let path = Path::new("w.toml");
    let w = validate(path, parse(path, &base()).unwrap()).unwrap();
    assert_eq!(w.name, "w");
    assert_eq!(w.concurrency, vec![1, 10]);
    assert_eq!(w.load, LoadMode::Closed);
    assert_eq!(w.length, StepLength::Seconds(2.0));
    assert!((w.tenants[0].share - 0.75).abs() < 1e-12);
    assert_eq!(w.tenants[1].weight, 2);
    assert_eq!(w.data_path, Path::new("data/synthetic"));
    assert_eq!(w.repetitions, 1);
}

#[test]
fn shipped_workloads_are_valid() {
    let root = workspace_root();
    std::env::set_current_dir(&root).unwrap();
    for name in [
        "fairness_sweep",
        "noisy_neighbor",
        "seed_benchmark",
        "smoke",
        "loadgen_ceiling",
    ] {
        let w =
            load(&root.join(format!("workloads/{name}.toml"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.name, name);
    }
    let sweep = load(&root.join("workloads/fairness_sweep.toml")).unwrap();
    assert_eq!(
        sweep.strategies,
        ["strict", "weighted", "hybrid", "fair_queue"]
    );
    assert_eq!(sweep.concurrency, [8, 24, 64]);
    // Demand is a number: each team's own open-loop rate.
    assert!(matches!(sweep.load, LoadMode::Open { rate, .. } if (rate - 1350.0).abs() < 1e-9));
    assert_eq!(sweep.tenants[1].rate, Some(150.0));
    // Repetitions, so every figure has an interval.
    assert_eq!((sweep.repetitions, sweep.confidence), (3, 0.95));
    // The two-host workload is the same sweep on other hosts, so the two compare step by step.
    let two_hosts = load(&root.join("workloads/two_hosts.toml")).unwrap();
    assert_eq!(two_hosts.strategies, sweep.strategies);
    assert_eq!(two_hosts.concurrency, sweep.concurrency);
    assert_eq!(two_hosts.repetitions, sweep.repetitions);
    assert_eq!(two_hosts.load, sweep.load);
    let rates = |w: &overlay_harness::workload::Workload| -> Vec<Option<f64>> {
        w.tenants.iter().map(|t| t.rate).collect()
    };
    assert_eq!(rates(&two_hosts), rates(&sweep));
}

#[test]
fn unknown_keys_and_syntax_are_refused() {
    assert_names(
        &error_with("[sweep]", "[sweep]\nstrategy = \"strict\""),
        &["unknown field", "strategy"],
    );
    assert_names(&error_of("not toml ["), &["(syntax)"]);
    assert_names(&error_with("[load]", "[load]\nrps = 3"), &["rps"]);
}

#[test]
fn cluster_errors_name_the_key() {
    assert_names(
        &error_with("one_host_config.json", "nope.json"),
        &["cluster.config", "does not exist"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nmode = \"cloud\""),
        &["cluster.mode", "allowed: local, remote"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nports = \"any\""),
        &["cluster.ports", "config, free"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nmax_active = 0"),
        &["cluster.max_active", "≥ 1"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nper_team_limit = -3"),
        &["cluster.per_team_limit"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nhybrid_threshold = 1.5"),
        &["cluster.hybrid_threshold", "(0, 1]"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nready_timeout_s = 0"),
        &["cluster.ready_timeout_s"],
    );
    assert_names(
        &error_with("[cluster]", "[cluster]\nmode = \"remote\""),
        &["sweep.strategies", "remote"],
    );
    assert_names(
        &error_with("[sweep]", "[data]\nscale = 0\n[sweep]"),
        &["data.scale"],
    );
}

#[test]
fn sweep_errors_name_the_key() {
    assert_names(
        &error_with("\"weighted\"]", "\"fastest\"]"),
        &[
            "sweep.strategies[1]",
            "'fastest'",
            "strict, weighted, hybrid, fair_queue",
        ],
    );
    assert_names(
        &error_with("[\"strict\", \"weighted\"]", "[]"),
        &["sweep.strategies", "empty"],
    );
    assert_names(
        &error_with("\"weighted\"]", "\"strict\"]"),
        &["sweep.strategies[1]", "twice"],
    );
    assert_names(
        &error_with("[1, 10]", "[0, 10]"),
        &["sweep.concurrency[0]", "is 0"],
    );
    assert_names(
        &error_with("[1, 10]", "[1, -5]"),
        &["sweep.concurrency[1]", "is -5"],
    );
    assert_names(
        &error_with("[1, 10]", "[]"),
        &["sweep.concurrency", "empty"],
    );
    assert_names(
        &error_with(
            "concurrency = [1, 10]",
            "concurrency = [1]\nrepetitions = 0",
        ),
        &["sweep.repetitions"],
    );
    for level in ["0", "1", "1.5", "-0.5"] {
        assert_names(
            &error_with(
                "concurrency = [1, 10]",
                &format!("concurrency = [1]\nconfidence = {level}"),
            ),
            &["sweep.confidence", "between 0 and 1"],
        );
    }
}

#[test]
fn load_errors_name_the_key() {
    assert_names(
        &error_with("mode = \"closed\"", "mode = \"burst\""),
        &["load.mode", "closed, open"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nrequests = 5"),
        &["load", "not both"],
    );
    assert_names(
        &error_with("duration_s = 2", "warmup_s = 1"),
        &["load", "requests", "duration_s"],
    );
    assert_names(
        &error_with("duration_s = 2", "requests = 0"),
        &["load.requests", "≥ 1"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = -1"),
        &["load.duration_s"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nrate = 5"),
        &["load.rate", "open"],
    );
    assert_names(
        &error_with("mode = \"closed\"", "mode = \"open\""),
        &["load.rate", "needs a rate"],
    );
    assert_names(
        &error_with("mode = \"closed\"", "mode = \"open\"\nrate = 0"),
        &["load.rate", "(0, 100000]"],
    );
    assert_names(
        &error_with("mode = \"closed\"", "mode = \"open\"\nrate = 1e9"),
        &["load.rate"],
    );
    assert_names(
        &error_with(
            "mode = \"closed\"\nduration_s = 2",
            "mode = \"open\"\nrate = 10\nduration_s = 2\nrequests = 50",
        ),
        &["load.requests", "cannot be sent at 10/s", "at most 20"],
    );
    assert_names(
        &error_with(
            "mode = \"closed\"",
            "mode = \"open\"\nrate = 10\narrival = \"bursty\"",
        ),
        &["load.arrival", "uniform, poisson"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nwarmup_s = -1"),
        &["load.warmup_s"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\ntimeout_s = 0"),
        &["load.timeout_s"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nconnections = 0"),
        &["load.connections"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nconnections = 100000000"),
        &["load.connections", "1..=1000"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\ntimeout_s = 1e300"),
        &["load.timeout_s", "3600"],
    );
    assert_names(
        &error_with("duration_s = 2", "duration_s = 2\nreject_backoff_ms = -1"),
        &["load.reject_backoff_ms"],
    );
}

#[test]
fn mix_and_tenant_errors_name_the_key() {
    assert_names(
        &error_with("type = \"filter\"", "type = \"scan\""),
        &["query[0].type", "filter, aggregate, metrics"],
    );
    assert_names(
        &error_with("type = \"filter\"", "type = \"filter\"\nweight = 0"),
        &["query[0].weight"],
    );
    assert_names(
        &error_with("limit = 10", "limit = \"ten\""),
        &["query[0].params", "refuse"],
    );
    assert_names(
        &error_with("limit = 10", "limit = 10, team = \"green\""),
        &["query[0].params.team"],
    );
    assert_names(
        &error_with("name = \"q\"", "name = \"\""),
        &["query[0].name"],
    );
    let no_queries = base().replace("[[query]]\nname = \"q\"\ntype = \"filter\"\nparams = { parameter = \"PM2.5\", limit = 10 }\n", "");
    assert_names(&error_of(&no_queries), &["query", "at least one"]);
    assert_names(&error_with("share = 3", "share = 0"), &["tenant[0].share"]);
    assert_names(
        &error_with("team = \"pink\"", "team = \"green\""),
        &["tenant[1].team", "unique"],
    );
    assert_names(
        &error_with("weight = 2", "weight = 0"),
        &["tenant[1].weight", "1 to 1000"],
    );
    assert_names(
        &error_with("name = \"q\"", "name = \"q\"\nnumber = 1"),
        &["number"],
    );
}

#[test]
fn per_team_rates_make_the_open_loop_rate_and_shares() {
    let open = base()
        .replace("mode = \"closed\"", "mode = \"open\"")
        .replace("share = 3", "rate = 30")
        .replace("share = 1", "rate = 10");
    let path = Path::new("w.toml");
    let w = validate(path, parse(path, &open).unwrap()).unwrap();
    assert_eq!(
        w.load,
        LoadMode::Open {
            rate: 40.0,
            poisson: false
        }
    );
    assert!((w.tenants[0].share - 0.75).abs() < 1e-12);
    assert_eq!(w.tenants[1].rate, Some(10.0));
    assert!(w.retry_rejected && w.raw);

    // A rate for a team the cluster config does not have.
    assert_names(
        &error_of(&open.replace("team = \"pink\"", "team = \"blue\"")),
        &["tenant[1].rate", "'blue'", "not in the cluster config"],
    );
    // Rates and shares mixed, or a rate beside load.rate, or in closed loop.
    assert_names(
        &error_of(&open.replace("rate = 10", "share = 1")),
        &["tenant[1].rate"],
    );
    assert_names(
        &error_of(&open.replace("mode = \"open\"", "mode = \"open\"\nrate = 40")),
        &["load.rate", "their sum"],
    );
    assert_names(
        &error_of(&open.replace("mode = \"open\"", "mode = \"closed\"")),
        &["tenant[0].rate", "open"],
    );
    assert_names(
        &error_of(&open.replace("rate = 30", "rate = 0")),
        &["tenant[0].rate"],
    );
    assert_names(
        &error_of(&open.replace("rate = 30", "rate = 30\nshare = 1")),
        &["tenant[0]", "not both"],
    );
}

#[test]
fn trace_sampling_is_bounded_and_leaves_the_trace_flags_to_the_harness() {
    let path = Path::new("w.toml");
    let off = validate(path, parse(path, &base()).unwrap()).unwrap();
    assert_eq!(off.trace_per_step, 0, "tracing is off by default");
    let on = base() + "[trace]\nsample_per_step = 5\n";
    let on = validate(path, parse(path, &on).unwrap()).unwrap();
    assert_eq!(on.trace_per_step, 5);
    for bad in ["-1", "1001"] {
        assert_names(
            &error_of(&(base() + &format!("[trace]\nsample_per_step = {bad}\n"))),
            &["trace.sample_per_step", bad, "0..=1000"],
        );
    }
    assert_names(
        &error_of(&(base() + "[trace]\nsample_every = 5\n")),
        &["unknown field", "sample_every"],
    );
    let flags = base().replace("[sweep]", "node_args = [\"--trace-sample=1\"]\n[sweep]")
        + "[trace]\nsample_per_step = 2\n";
    assert_names(
        &error_of(&flags),
        &[
            "trace.sample_per_step",
            "--trace-sample=1",
            "cluster.node_args",
        ],
    );
}
