//! Nodes whose data differ (issue 12, table row 9): a node started on an empty dataset folder,
//! or on only some of its days, must not make answers silently wrong. Every node keeps the
//! config's partition map, the node says at start-up and in `GetMetrics` which days it lacks,
//! and answers coordinated anywhere are declared partial with exactly those days missing.

mod common;

use std::collections::BTreeMap;

use common::{ask, small_dataset, workspace_root, Sandbox};
use overlay::config::{ClusterConfig, NodeId};
use overlay::partition::PartitionMap;
use overlay::proto::{MetricsResponse, RecordFormat};
use overlay_harness::client::fetch;
use overlay_harness::client::QueryOutcome;
use serde_json::json;

/// Days of D's slice that its cut-down folder keeps.
const D_KEEPS: usize = 5;

/// Rows of every day of the small dataset, as a full-data cluster counts them, `YYYYMMDD`.
async fn rows_per_day(address: &str, days: &[String]) -> BTreeMap<String, i64> {
    let mut per_day = BTreeMap::new();
    for day in days {
        let params = format!(r#"{{"op": "count", "date_start": "{day}", "date_end": "{day}"}}"#);
        let outcome = ask(address, "aggregate", &params, RecordFormat::Json).await;
        assert!(!outcome.partial);
        per_day.insert(day.clone(), count_of(&outcome));
    }
    per_day
}

/// The days the shipped config gives a node.
fn assigned_days(id: &str) -> Vec<String> {
    let config = ClusterConfig::load(&workspace_root().join("configs/one_host_config.json"))
        .expect("shipped config");
    PartitionMap::from_config(&config)
        .dates_held_by(&NodeId(id.into()))
        .iter()
        .map(ToString::to_string)
        .collect()
}

async fn count(address: &str) -> QueryOutcome {
    ask(
        address,
        "aggregate",
        r#"{"op": "count"}"#,
        RecordFormat::Json,
    )
    .await
}

fn count_of(outcome: &QueryOutcome) -> i64 {
    let rows = outcome.drained.json_rows().expect("aggregate rows");
    rows[0]["value"].as_i64().expect("a count")
}

async fn metrics_of(sandbox: &Sandbox, id: &str) -> MetricsResponse {
    fetch(sandbox.cluster.address(id).expect("node"))
        .await
        .expect("metrics")
}

/// Asserts a count and a filter through `address` are partial, missing exactly `lacking`
/// (owned by `owner`), and that the count is the rows of the days present.
async fn assert_partial(
    address: &str,
    owner: &str,
    lacking: &[String],
    per_day: &BTreeMap<String, i64>,
) {
    let counted = count(address).await;
    assert_eq!(counted.status, "ready");
    assert!(counted.partial, "a count lacking {lacking:?} is partial");
    assert_eq!(counted.missing_dates, lacking);
    assert_eq!(counted.missing_nodes, vec![owner.to_string()]);
    let present: i64 = per_day
        .iter()
        .filter(|(day, _)| !lacking.contains(day))
        .map(|(_, rows)| rows)
        .sum();
    assert_eq!(count_of(&counted), present);
    let filtered = ask(
        address,
        "filter",
        r#"{"parameter": "OZONE"}"#,
        RecordFormat::Typed,
    )
    .await;
    assert_eq!(filtered.status, "ready");
    assert!(filtered.partial, "a filter lacking {lacking:?} is partial");
    assert_eq!(filtered.missing_dates, lacking);
    assert!(filtered.total_records > 0, "the other days still answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_lacking_days_make_answers_partial_naming_the_days() {
    // Every node on the full data: a complete, non-partial answer, no day lacking.
    let full = Sandbox::start(small_dataset(), json!({}), &[]).await;
    let outcome = count(&full.leader()).await;
    assert!(!outcome.partial, "{:?}", outcome.missing_dates);
    let all_days: Vec<String> = ["A", "B", "C", "D", "E", "F"]
        .iter()
        .flat_map(|id| assigned_days(id))
        .collect();
    let per_day = rows_per_day(&full.leader(), &all_days).await;
    assert_eq!(per_day.len(), 43);
    assert_eq!(count_of(&outcome), per_day.values().sum::<i64>());
    let full_d = metrics_of(&full, "D").await;
    assert!(full_d.days_lacking.is_empty());
    assert_eq!(full_d.days_held, assigned_days("D"));
    assert_eq!(full_d.data_fingerprint.len(), 16);
    drop(full);

    // A on an empty folder: A's own day is missing from answers it coordinates.
    let empty = tempfile::tempdir().expect("tempdir");
    let sandbox =
        Sandbox::start_with_roots(small_dataset(), &[("A", empty.path())], json!({}), &[]).await;
    let a_days = assigned_days("A");
    assert_partial(&sandbox.leader(), "A", &a_days, &per_day).await;
    let a = metrics_of(&sandbox, "A").await;
    assert_eq!(a.days_assigned as usize, a_days.len());
    assert!(a.days_held.is_empty());
    assert_eq!(a.days_lacking, a_days);
    let b = metrics_of(&sandbox, "B").await;
    assert_eq!(
        b.days_held,
        assigned_days("B"),
        "B's map is not shifted by A's disk"
    );
    let log = std::fs::read_to_string(&sandbox.cluster.nodes[&NodeId("A".into())].log_path)
        .expect("A's log");
    assert!(
        log.contains(&format!(
            "holds no rows for {n} of its {n} assigned day(s): {}",
            a_days.join(", "),
            n = a_days.len()
        )),
        "{log}"
    );
    drop(sandbox);

    // D holds only some of its days: answers through A (over E) lack the rest of D's.
    let partial = tempfile::tempdir().expect("tempdir");
    let d_days = assigned_days("D");
    for day in &d_days[..D_KEEPS] {
        std::os::unix::fs::symlink(small_dataset().join(day), partial.path().join(day))
            .expect("link a day");
    }
    let sandbox =
        Sandbox::start_with_roots(small_dataset(), &[("D", partial.path())], json!({}), &[]).await;
    let lacking = d_days[D_KEEPS..].to_vec();
    assert_partial(&sandbox.leader(), "D", &lacking, &per_day).await;
    let d = metrics_of(&sandbox, "D").await;
    assert_eq!(d.days_held, d_days[..D_KEEPS].to_vec());
    assert_eq!(d.days_lacking, lacking);
    assert_ne!(d.data_fingerprint, full_d.data_fingerprint);
    // A date filter that avoids D's lacking days is complete again.
    let first_lacking = &lacking[0];
    let before = format!(
        r#"{{"op": "count", "date_end": "{}"}}"#,
        d_days[D_KEEPS - 1]
    );
    let narrowed = ask(&sandbox.leader(), "aggregate", &before, RecordFormat::Json).await;
    assert!(
        !narrowed.partial,
        "no day up to {first_lacking} is lacking: {:?}",
        narrowed.missing_dates
    );
}
