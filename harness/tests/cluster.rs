//! End-to-end tests on a real six-process cluster with generated data: every answer is
//! compared with a plain scan of the same files.

mod common;

use std::collections::HashSet;

use common::{ask, small_dataset, Sandbox};
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::{ChunkRequest, MetricsRequest, QueryRequest, RecordFormat};
use overlay::record::Record;
use overlay_harness::checker::{compare_aggregate, expected_aggregate, load_dataset, matches};
use serde_json::{json, Map, Value};

fn params(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn identity(r: &Record) -> (String, String, String, String) {
    (
        r.full_aqs_id.clone(),
        r.timestamp.clone(),
        r.parameter.clone(),
        r.date.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_a_direct_scan_through_both_chunk_formats() {
    let data = small_dataset();
    let rows = load_dataset(data).unwrap();
    let sandbox = Sandbox::start(data, json!({}), &[]).await;
    let leader = sandbox.leader();

    let aggregates = [
        json!({"op": "count", "parameter": "PM2.5", "min_value": 10, "max_value": 50}),
        json!({"op": "count"}),
        json!({"op": "avg", "group_by": "parameter"}),
        json!({"op": "max", "group_by": "date", "date_start": "2020-08-15", "date_end": "2020-09-02"}),
        json!({"op": "sum", "field": "aqi", "group_by": "site", "lat_min": 36.0, "lat_max": 42.0, "lon_max": -118.0}),
        json!({"op": "min", "field": "raw_concentration", "parameter": "OZONE"}),
        json!({"op": "avg", "parameter": "NOPE"}),
    ];
    for query in &aggregates {
        let outcome = ask(&leader, "aggregate", &query.to_string(), RecordFormat::Json).await;
        assert_eq!(outcome.status, "ready", "{query}");
        assert!(!outcome.partial);
        let actual = outcome.drained.json_rows().unwrap();
        let expected = expected_aggregate(&rows, &params(query));
        compare_aggregate(&actual, &expected).unwrap_or_else(|diff| panic!("{query}: {diff}"));
    }

    // The original benchmark query: limit 5000 is capped at 2000.
    let benchmark = json!({"parameter": "PM2.5", "min_value": 10, "max_value": 50, "limit": 5000});
    let matching: Vec<&Record> = rows
        .iter()
        .filter(|r| matches(r, &params(&benchmark)))
        .collect();
    let typed = ask(
        &leader,
        "filter",
        &benchmark.to_string(),
        RecordFormat::Typed,
    )
    .await;
    let json_path = ask(
        &leader,
        "filter",
        &benchmark.to_string(),
        RecordFormat::Json,
    )
    .await;
    let typed_records = typed.drained.records().unwrap();
    let json_records = json_path.drained.records().unwrap();
    assert_eq!(typed_records.len(), 2000.min(matching.len()));
    assert_eq!(typed.total_records, typed_records.len() as i64);
    assert_eq!(
        json_path.total_chunks,
        typed_records.len().div_ceil(200) as i32
    );
    assert_eq!(
        typed_records, json_records,
        "typed and JSON paths return the same records in the same order"
    );
    let all: HashSet<_> = matching.iter().map(|r| identity(r)).collect();
    let returned: HashSet<_> = typed_records.iter().map(identity).collect();
    assert_eq!(returned.len(), typed_records.len(), "no record twice");
    assert!(returned.is_subset(&all), "every record matches and exists");
    assert!(
        typed_records.windows(2).all(|w| w[0].date <= w[1].date),
        "answers come in date order"
    );

    // A limit above the matches returns exactly the matching rows, in (day, file, row) order.
    let narrow = json!({"parameter": "CO", "min_value": 1.0, "limit": 2000});
    let expected: Vec<Record> = rows
        .iter()
        .filter(|r| matches(r, &params(&narrow)))
        .cloned()
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < 2000,
        "fixture has {} rows",
        expected.len()
    );
    let got = ask(&leader, "filter", &narrow.to_string(), RecordFormat::Typed)
        .await
        .drained
        .records()
        .unwrap();
    assert_eq!(got, expected);

    // Limits met whenever enough rows match, even when some slices run dry (shortfall rounds).
    let sparse = json!({"parameter": "PM2.5", "min_value": 60.0});
    let sparse_total = rows.iter().filter(|r| matches(r, &params(&sparse))).count();
    for limit in [
        1,
        7,
        150,
        sparse_total.saturating_sub(3).max(1),
        sparse_total + 10,
    ] {
        let mut query = sparse.clone();
        query["limit"] = json!(limit);
        let got = ask(&leader, "filter", &query.to_string(), RecordFormat::Typed).await;
        assert_eq!(
            got.drained.record_count(),
            limit.min(sparse_total).min(2000),
            "limit {limit}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_status_and_the_node_keeps_serving() {
    let sandbox = Sandbox::start(small_dataset(), json!({}), &[]).await;
    let leader = sandbox.leader();
    let client = overlay_harness::client::connect(&leader).await.unwrap();
    let query = |query_type: &str, params: &str, hops: Vec<String>| {
        let request = QueryRequest {
            query_type: query_type.to_string(),
            query_params: params.to_string(),
            hops,
            ..Default::default()
        };
        let mut client: OverlayNodeClient<_> = client.clone();
        async move { client.query(request).await.unwrap().into_inner().status }
    };
    for (query_type, params, expect) in [
        (
            "filter",
            "{not json",
            "invalid_query:query_params is not valid JSON",
        ),
        (
            "filter",
            "[1, 2]",
            "invalid_query:query_params must be a JSON object",
        ),
        (
            "filter",
            r#"{"colour": "red"}"#,
            "invalid_query:unknown parameter 'colour'",
        ),
        (
            "filter",
            r#"{"min_value": "ten"}"#,
            "invalid_query:min_value must be a number",
        ),
        (
            "filter",
            r#"{"min_value": 50, "max_value": 10}"#,
            "invalid_query:min_value (50) is greater than max_value (10)",
        ),
        (
            "filter",
            r#"{"date_start": "2020-02-31"}"#,
            "invalid_query:date_start '2020-02-31' is not a date",
        ),
        (
            "filter",
            r#"{"limit": -5}"#,
            "invalid_query:limit must be a whole number",
        ),
        (
            "filter",
            r#"{"limit": 1e40}"#,
            "invalid_query:limit must be a whole number",
        ),
        ("median", "{}", "invalid_query:unknown query_type 'median'"),
        (
            "aggregate",
            r#"{"op": "mode"}"#,
            "invalid_query:op 'mode' is not an op",
        ),
    ] {
        let status = query(query_type, params, Vec::new()).await;
        assert!(status.starts_with(expect), "{params}: got {status}");
    }
    assert_eq!(
        query("filter", "{}", vec!["X".into(), "A".into()]).await,
        "loop_detected"
    );

    let chunk = |uid: &str, index: i32| {
        let mut client = client.clone();
        let request = ChunkRequest {
            uid: uid.to_string(),
            chunk_index: index,
        };
        async move { client.get_chunk(request).await.unwrap().into_inner() }
    };
    assert_eq!(chunk("no-such-uid", 0).await.status, "not_found");
    let ready = client
        .clone()
        .query(QueryRequest {
            query_type: "filter".into(),
            query_params: r#"{"limit": 450}"#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            ready.status.as_str(),
            ready.total_chunks,
            ready.total_records
        ),
        ("ready", 3, 450)
    );
    assert_eq!(chunk(&ready.uid, -1).await.status, "out_of_range");
    assert_eq!(chunk(&ready.uid, 3).await.status, "out_of_range");
    let first = chunk(&ready.uid, 0).await;
    assert_eq!((first.status.as_str(), first.is_last), ("success", false));
    assert_eq!(
        serde_json::from_str::<Vec<Record>>(&first.data)
            .unwrap()
            .len(),
        200
    );
    let last = chunk(&ready.uid, 2).await;
    assert_eq!((last.status.as_str(), last.is_last), ("success", true));
    assert_eq!(
        chunk(&ready.uid, 1).await.status,
        "not_found",
        "the answer is freed after its last chunk"
    );

    let metrics = client
        .clone()
        .get_metrics(MetricsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            metrics.process_id.as_str(),
            metrics.role.as_str(),
            metrics.team.as_str()
        ),
        ("A", "leader", "green")
    );
    assert_eq!(metrics.active_requests, 0);
    assert_eq!(metrics.max_capacity, 100);
    assert_eq!(metrics.fairness_strategy, "strict");
    assert_eq!(metrics.data_files_loaded, 12);
    assert!(metrics.avg_processing_time_ms > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_waits_for_the_exit_and_a_restart_brings_the_node_back() {
    let mut sandbox = Sandbox::start(small_dataset(), json!({}), &[]).await;
    let c = overlay::config::NodeId("C".into());
    let address = sandbox.cluster.address("C").unwrap().to_string();
    sandbox.cluster.terminate(&c).await.unwrap();
    assert!(!sandbox.cluster.is_running(&c));
    assert!(overlay_harness::client::connect(&address).await.is_err());
    assert!(sandbox.cluster.terminate(&c).await.is_err());
    sandbox.cluster.restart(&c).await.unwrap();
    assert!(sandbox.cluster.is_running(&c));
    let mut client = overlay_harness::client::connect(&address).await.unwrap();
    let metrics = client.get_metrics(MetricsRequest {}).await.unwrap();
    assert_eq!(metrics.into_inner().process_id, "C");
}

/// `harness cluster status` and `harness metrics` exit non-zero, naming the nodes, when a node
/// does not answer; `harness query` does when there is no ready answer.
#[test]
fn status_and_query_exit_non_zero_without_an_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(common::workspace_root().join("configs/one_host_config.json"))
            .unwrap();
    // Free ports with nothing behind them.
    let config = tmp.path().join("nobody.json");
    std::fs::write(&config, common::free_port_config(&shipped, Map::new())).unwrap();
    let harness = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(args)
            .output()
            .expect("harness runs")
    };
    let config = config.display().to_string();
    let out = harness(&["cluster", "status", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("6 of 6 nodes unreachable: A, B"),
        "{stderr}"
    );
    let out = harness(&[
        "query",
        "--config",
        &config,
        "--type",
        "aggregate",
        "--params",
        "{\"op\":\"count\"}",
    ]);
    assert_eq!(out.status.code(), Some(1));
}
