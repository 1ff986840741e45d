//! Tail tolerance on a real cluster with replication 2, the slow node made slow through the
//! control service with a `stall` (inside its work, after admission, permit held):
//!
//! - a stalled worker: answers stay exact, the team leader hedges its calls to the worker
//!   (hedges won, lost calls cancelled, the worker ejected, not failed), and the worker, whose
//!   callers went away, shows its stalled scans stopped and no admission permit held;
//! - a stalled team leader: the leader hedges its calls to it by asking the slices' holders
//!   below it directly, and answers stay exact.

mod common;

use std::time::{Duration, Instant};

use common::{ask, small_dataset, Sandbox};
use overlay::proto::{Fault, MetricsResponse, RecordFormat, RoutingStats};
use overlay_harness::control::ControlClient;
use serde_json::json;

const COUNT_BY_DATE: &str = r#"{"op": "count", "group_by": "date"}"#;

async fn metrics(address: &str) -> MetricsResponse {
    overlay_harness::client::fetch(address)
        .await
        .expect("metrics")
}

async fn routing(address: &str) -> RoutingStats {
    metrics(address).await.routing.expect("routing counters")
}

async fn answer(leader: &str) -> (Vec<String>, bool) {
    let outcome = ask(leader, "aggregate", COUNT_BY_DATE, RecordFormat::Json).await;
    assert_eq!(outcome.status, "ready");
    (outcome.drained.json_chunks.clone(), outcome.partial)
}

/// Asks `n` queries, each answered exactly as `healthy`.
async fn answers_stay_exact(leader: &str, healthy: &[String], n: usize) {
    for i in 0..n {
        let (rows, partial) = answer(leader).await;
        assert!(!partial, "query {i} declared partial");
        assert_eq!(rows, healthy, "query {i} answered differently");
    }
}

/// Stalls `node`'s work for `peer`'s calls (every caller when empty) by `ms`.
async fn stall(control: &mut ControlClient, peer: &str, ms: i64) {
    control
        .inject(Fault {
            kind: "stall".to_string(),
            peer: peer.to_string(),
            delay_ms: ms,
            ..Default::default()
        })
        .await
        .expect("stall injected");
}

/// Waits until `node` holds no admission permit and has seen at least `calls` of its calls
/// abandoned and `scans` of its local serves stopped; returns its routing counters.
async fn until_released(node: &str, calls: i64, scans: i64) -> RoutingStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(node).await;
        let r = m.routing.unwrap_or_default();
        let released = m
            .teams
            .iter()
            .all(|t| t.active == 0 && t.completed == t.admitted);
        if m.active_requests == 0
            && released
            && r.calls_abandoned >= calls
            && r.scans_stopped >= scans
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{node} still holds work: active {}, routing {r:?}, teams {:?}",
            m.active_requests,
            m.teams
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_replica_is_hedged_around_and_its_abandoned_scans_stop_and_free_their_permits() {
    let sandbox = Sandbox::start(
        small_dataset(),
        json!({"replication_factor": 2}),
        &["--enable-control"],
    )
    .await;
    let leader = sandbox.leader();
    let address = |id: &str| sandbox.cluster.address(id).expect("runs").to_string();
    let (d, e) = (address("D"), address("E"));
    // Healthy answers, which also give every node recent answer times of its peers.
    let (healthy, partial) = answer(&leader).await;
    assert!(!partial);
    answers_stay_exact(&leader, &healthy, 10).await;
    let before = routing(&e).await;
    let d_before = routing(&d).await;

    // D holds every admitted piece of work 400 ms before scanning; it answers pings at once.
    let mut control_d = ControlClient::new("D", &d, "").expect("control client");
    stall(&mut control_d, "", 400).await;
    answers_stay_exact(&leader, &healthy, 12).await;
    let after = routing(&e).await;
    let grew = |f: fn(&RoutingStats) -> i64| f(&after) - f(&before);
    assert!(grew(|r| r.hedges_sent) >= 5, "{after:?}");
    assert!(grew(|r| r.hedges_won) >= 5, "{after:?}");
    assert!(grew(|r| r.calls_cancelled) >= 5, "{after:?}");
    // Losing hedge after hedge ejected D, which is not a failure.
    assert!(grew(|r| r.ejections) >= 1, "{after:?}");
    assert_eq!(grew(|r| r.peer_call_failures), 0, "{after:?}");
    let d_seen = metrics(&e).await;
    let d_health = d_seen.neighbors.iter().find(|n| n.id == "D").expect("D");
    assert_eq!(d_health.failures_detected, 0, "slow is not failed");

    // On D: the work was admitted, then its caller went; the stalled serve stopped and the
    // permit was released.
    let d_after =
        until_released(&d, d_before.calls_abandoned + 5, d_before.scans_stopped + 5).await;
    assert!(d_after.scans_stopped > d_before.scans_stopped);
    control_d.clear(None).await.expect("cleared");

    // E stalls the work A sends it (its own slice): A's calls to E are hedged by asking D
    // and F directly, past E.
    let a_before = routing(&leader).await;
    let mut control_e = ControlClient::new("E", &e, "").expect("control client");
    stall(&mut control_e, "A", 400).await;
    answers_stay_exact(&leader, &healthy, 12).await;
    let a_after = routing(&leader).await;
    let grew = |f: fn(&RoutingStats) -> i64| f(&a_after) - f(&a_before);
    assert!(grew(|r| r.hedges_won) >= 5, "{a_after:?}");
    assert!(grew(|r| r.calls_cancelled) >= 5, "{a_after:?}");
    assert_eq!(grew(|r| r.peer_call_failures), 0, "{a_after:?}");
    until_released(&e, 5, 5).await;
    control_e.clear(None).await.expect("cleared");
}
