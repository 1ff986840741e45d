//! Traces across the tree, on a real six-process cluster: a sampled query sent to the leader
//! leaves spans in the trace files of the leader, a team leader and a worker, all of one
//! trace and linked parent to child across the hops; an unwritable trace file costs the query
//! nothing and is reported once.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::QueryRequest;
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
    let sampled = format!("00-{TRACE}-{CLIENT_SPAN}-01");
    assert_eq!(traced_query(&leader, &sampled).await, "ready");
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    assert_eq!(traced_query(&leader, unsampled).await, "ready");
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
