//! Tail tolerance on a real cluster with replication 2: one replica made slow through the
//! control service; answers stay exact, the team leader hedges its calls to the slow worker
//! (hedges won, lost calls cancelled, the worker ejected), and the slow worker, whose callers
//! went away, ends with no admission permit held and its abandoned calls counted.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_replica_is_hedged_around_and_its_abandoned_calls_free_their_permits() {
    let sandbox = Sandbox::start(
        small_dataset(),
        json!({"replication_factor": 2}),
        &["--enable-control"],
    )
    .await;
    let leader = sandbox.leader();
    let d = sandbox.cluster.address("D").expect("D runs").to_string();
    let e = sandbox.cluster.address("E").expect("E runs").to_string();
    // Healthy answers, which also give E recent answer times of D and F.
    let (healthy, partial) = answer(&leader).await;
    assert!(!partial);
    for _ in 0..10 {
        assert_eq!(answer(&leader).await.0, healthy);
    }
    let before = routing(&e).await;

    // D answers every call 400 ms late (its probes too, still well within their timeout).
    let mut control = ControlClient::new("D", &d, "").expect("control client");
    control
        .inject(Fault {
            kind: "delay".to_string(),
            delay_ms: 400,
            ..Default::default()
        })
        .await
        .expect("delay injected");
    for i in 0..12 {
        let (rows, partial) = answer(&leader).await;
        assert!(!partial, "query {i} declared partial");
        assert_eq!(rows, healthy, "query {i} answered differently");
    }
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

    // On D: every abandoned call was seen go, and no permit stays held.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(&d).await;
        let abandoned = m.routing.as_ref().map_or(0, |r| r.calls_abandoned);
        let released = m
            .teams
            .iter()
            .all(|t| t.active == 0 && t.completed == t.admitted);
        if m.active_requests == 0 && released && abandoned >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "D still holds work: active {}, abandoned {abandoned}, teams {:?}",
            m.active_requests,
            m.teams
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    control.clear(None).await.expect("cleared");
}
