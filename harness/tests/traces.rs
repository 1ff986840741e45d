//! Traces across the tree, on a real six-process cluster: a sampled query sent to the leader
//! leaves spans in the trace files of the leader, a team leader and a worker, all of one
//! trace and linked parent to child across the hops; an unwritable trace file costs the query
//! nothing and is reported once; and `harness run` with `[trace]` draws the slowest sampled
//! query of each step and says in summary.md where its time went.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::QueryRequest;
use overlay_harness::results::RunResults;
use overlay_harness::trace::SpanFiles;
use serde_json::{json, Value};

mod common;
use common::*;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN: &str = "b7ad6b7169203331";

/// An aggregate query over every day (so every team and worker serves a slice), sent to the
/// leader with `traceparent`; its status.
async fn traced_query(leader: &str, traceparent: &str) -> String {
    let mut client = OverlayNodeClient::connect(format!("http://{leader}"))
        .await
        .expect("leader answers");
    let mut request = tonic::Request::new(QueryRequest {
        query_type: "aggregate".into(),
        query_params: json!({"op": "count"}).to_string(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().expect("ascii"));
    client
        .query(request)
        .await
        .expect("query answered")
        .into_inner()
        .status
}

/// Every span line of the `trace-*.jsonl` files in `dir`.
fn spans_in(dir: &Path) -> Vec<Value> {
    let mut spans = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("trace-") && name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(entry.path()).expect("trace file");
            for line in text.lines() {
                spans.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")));
            }
        }
    }
    spans
}

#[tokio::test]
async fn a_sampled_query_leaves_linked_spans_on_every_hop() {
    let data = small_dataset();
    let traces = tempfile::tempdir().expect("tempdir");
    let file = traces.path().join("trace-{id}.jsonl");
    let file = file.to_string_lossy();
    // No query is sampled unless its traceparent says so.
    let sandbox = Sandbox::start(
        data,
        json!({}),
        &["--trace-file", &file, "--trace-sample", "0"],
    )
    .await;
    let leader = sandbox.leader();
    // The unsampled query goes first: each node meets its span sites outside a traced
    // request before inside one, so a filter that decided once per site would record nothing.
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    assert_eq!(traced_query(&leader, unsampled).await, "ready");
    let sampled = format!("00-{TRACE}-{CLIENT_SPAN}-01");
    assert_eq!(traced_query(&leader, &sampled).await, "ready");
    // Spans are written out every 200 ms; wait until the worker's arrive.
    let mut spans = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        spans = spans_in(traces.path());
        let nodes: HashSet<&str> = spans.iter().filter_map(|s| s["node"].as_str()).collect();
        if ["A", "B", "C", "D", "E", "F"]
            .iter()
            .all(|n| nodes.contains(n))
        {
            break;
        }
    }
    assert!(
        spans.iter().all(|s| s["trace_id"] == TRACE),
        "only the sampled query is recorded: {spans:#?}"
    );
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["span_id"].as_str().expect("span id"), s))
        .collect();
    let nodes: HashSet<&str> = spans.iter().filter_map(|s| s["node"].as_str()).collect();
    for node in ["A", "B", "C", "D", "E", "F"] {
        assert!(nodes.contains(node), "no span from {node}: {nodes:?}");
    }
    for span in &spans {
        let parent = span["parent_span_id"]
            .as_str()
            .expect("every span has a parent");
        let (node, name) = (
            span["node"].as_str().unwrap(),
            span["name"].as_str().unwrap(),
        );
        match (node, name) {
            ("A", "query") => assert_eq!(parent, CLIENT_SPAN, "the client's span is the root"),
            (_, "peer_scan") => {
                let caller = by_id.get(parent).expect("the caller's span is recorded");
                assert_eq!(caller["name"], "peer_call", "{span}");
                assert_ne!(caller["node"], node, "{span}");
                assert_eq!(caller["attributes"]["peer"], node, "{span}");
            }
            _ => {
                let up = by_id.get(parent).unwrap_or_else(|| panic!("orphan {span}"));
                assert_eq!(up["node"], node, "a local child: {span}");
            }
        }
        assert!(span["duration_ns"].as_u64().is_some() && span["start_unix_ns"].as_u64() > Some(0));
    }
    for name in [
        "query",
        "admission",
        "peer_call",
        "peer_scan",
        "local_scan",
        "merge",
    ] {
        assert!(spans.iter().any(|s| s["name"] == name), "no {name} span");
    }
}

#[tokio::test]
async fn an_unwritable_trace_file_is_reported_once_and_queries_go_on() {
    let data = small_dataset();
    let sandbox = Sandbox::start(
        data,
        json!({}),
        &[
            "--trace-file",
            "/nonexistent/folder/trace-{id}.jsonl",
            "--trace-sample",
            "1",
        ],
    )
    .await;
    let leader = sandbox.leader();
    for _ in 0..3 {
        assert_eq!(traced_query(&leader, "not a traceparent").await, "ready");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let log = std::fs::read_to_string(sandbox.dir.path().join("logs/A.log")).expect("A's log");
    let reports = log
        .lines()
        .filter(|l| l.contains("cannot write spans"))
        .count();
    assert_eq!(reports, 1, "{log}");
}

/// A one-second step at concurrency 2 of an aggregate over every day (so every team and
/// worker serves a slice) on the six-process config, with `[trace]` sampling 4 requests.
fn traced_workload(dir: &Path) -> std::path::PathBuf {
    let config = workspace_root().join("configs/one_host_config.json");
    let text = format!(
        r#"
name = "traced"
[cluster]
config = "{}"
ports = "free"
ready_timeout_s = 30
[sweep]
strategies = ["fair_queue"]
concurrency = [2]
[load]
mode = "closed"
duration_s = 1
warmup_s = 0.2
timeout_s = 10
[[query]]
name = "count"
type = "aggregate"
params = {{ op = "count" }}
[[tenant]]
team = "green"
share = 1
[[tenant]]
team = "pink"
share = 1
[trace]
sample_per_step = 4
"#,
        config.display()
    );
    let path = dir.join("traced.toml");
    std::fs::write(&path, text).expect("write workload");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_run_draws_the_slowest_query_and_says_where_its_time_went() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = overlay_harness::run::run(run_options(
        traced_workload(tmp.path()),
        tmp.path().join("reports"),
        small_dataset().to_path_buf(),
    ))
    .await
    .expect("traced run");
    let results = RunResults::load(&dir).expect("results.json");
    let step = &results.strategies[0].steps[0];
    let trace = step.trace.as_ref().expect("the step is traced");
    assert_eq!(trace.sampled.len(), 4, "the first four measured requests");
    let SpanFiles::Read {
        spans,
        skipped_lines,
        unknown_spans,
    } = &trace.files
    else {
        panic!("span files not read: {:?}", trace.files);
    };
    assert!(*spans > 0, "spans of the sampled requests");
    assert_eq!(
        (*skipped_lines, *unknown_spans),
        (0, 0),
        "only sampled requests recorded"
    );
    let slowest = trace.slowest.as_ref().expect("a slowest query with spans");
    let most = trace
        .sampled
        .iter()
        .map(|q| q.latency_ms)
        .fold(0.0, f64::max);
    assert_eq!(slowest.query.latency_ms, most, "the slowest at the client");
    let nodes: HashSet<&str> = slowest.bars.iter().map(|b| b.node.as_str()).collect();
    // A leads; B and E lead the teams; C, D and F work.
    assert!(nodes.contains("A"), "{nodes:?}");
    assert!(nodes.contains("B") || nodes.contains("E"), "{nodes:?}");
    assert!(
        ["C", "D", "F"].iter().any(|w| nodes.contains(w)),
        "{nodes:?}"
    );
    assert!(slowest
        .bars
        .iter()
        .all(|b| b.self_ms <= b.duration_ms + 1e-9));
    assert!(
        slowest.spans_ms <= slowest.query.latency_ms + 1.0,
        "spans lie within the client's time"
    );

    for file in [
        "waterfall_fair_queue_c2_r0.png",
        "waterfall_fair_queue_c2_r0.svg",
    ] {
        let len = std::fs::metadata(dir.join(file))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 0, "{file} missing or empty");
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    let section = summary
        .split("## Where the time went")
        .nth(1)
        .expect("the section is written");
    let line = section
        .lines()
        .find(|l| l.starts_with("- concurrency 2 · repetition 0"))
        .unwrap_or_else(|| panic!("no step line: {section}"));
    assert!(
        line.contains("ms** at the client") && line.contains("waterfall_fair_queue_c2_r0.svg"),
        "{line}"
    );
    let top = slowest.top_self(1)[0].label();
    assert!(line.contains(&top), "{line} lacks {top}");
    assert!(line.contains("A: "), "{line}");
    let spans_on_disk = spans_in(&dir.join("traces/fair_queue"));
    assert!(spans_on_disk
        .iter()
        .any(|s| s["node"] == "F" || s["node"] == "D" || s["node"] == "C"));
}
