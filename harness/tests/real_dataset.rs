//! The real AirNow dataset (beside the project in `../shared/datasets`) loaded by a real
//! cluster: the partition table of the design and the documented row counts must come out.
//! The test is ignored by default (the dataset is not part of a clone) and shows as such in
//! the test summary; `--include-ignored` runs it, and then a missing dataset is a failure.

mod common;

use std::process::Command;

use common::{ask, workspace_root, Sandbox};
use overlay::proto::RecordFormat;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real dataset at ../shared/datasets/airnow-2020-fire.tar.gz; run with --include-ignored"]
async fn real_dataset_gives_the_documented_counts() {
    let archive = workspace_root().join("../shared/datasets/airnow-2020-fire.tar.gz");
    assert!(
        archive.is_file(),
        "the real dataset is not at {}",
        archive.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("--strip-components=1")
        .status()
        .expect("tar runs");
    assert!(status.success());
    let sandbox = Sandbox::start(dir.path(), json!({}), &[]).await;
    let leader = sandbox.leader();

    let mut files = Vec::new();
    let mut rows = 0;
    for id in ["A", "B", "C", "E", "D", "F"] {
        let metrics = overlay_harness::client::fetch(sandbox.cluster.address(id).unwrap())
            .await
            .unwrap();
        assert_eq!(metrics.rows_skipped, 0, "{id}");
        files.push(metrics.data_files_loaded);
        rows += metrics.rows_loaded;
    }
    assert_eq!(
        files,
        vec![12, 36, 48, 108, 156, 156],
        "the partition table of the design"
    );
    assert_eq!(rows, 1_167_525);

    let count = |params: serde_json::Value| {
        let leader = leader.clone();
        async move {
            let outcome = ask(
                &leader,
                "aggregate",
                &params.to_string(),
                RecordFormat::Json,
            )
            .await;
            assert_eq!(outcome.status, "ready");
            outcome.drained.json_rows().unwrap()
        }
    };
    let pm =
        count(json!({"op": "count", "parameter": "PM2.5", "min_value": 10, "max_value": 50})).await;
    assert_eq!(pm[0]["value"], 116_218);
    let early = count(json!({"op": "count", "parameter": "PM2.5", "min_value": 10, "max_value": 50, "date_end": "20200820"})).await;
    assert_eq!(early[0]["value"], 18_785);
    let per_parameter = count(json!({"op": "count", "group_by": "parameter"})).await;
    let counted: Vec<(String, u64)> = per_parameter
        .iter()
        .map(|row| {
            (
                row["group"].as_str().unwrap().to_string(),
                row["count"].as_u64().unwrap() + row["missing"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("CO", 59_666),
        ("NO2", 97_613),
        ("OZONE", 478_728),
        ("PM10", 125_784),
        ("PM2.5", 334_402),
        ("SO2", 71_332),
    ];
    assert_eq!(counted, expected.map(|(p, n)| (p.to_string(), n)).to_vec());

    let benchmark = ask(
        &leader,
        "filter",
        r#"{"parameter":"PM2.5","min_value":10,"max_value":50,"limit":5000}"#,
        RecordFormat::Typed,
    )
    .await;
    assert_eq!(benchmark.drained.record_count(), 2000);
}
