//! The control service and the standard health service on a real cluster: refusals without
//! enablement or with a wrong token, nonsense faults rejected, and each fault kind observed
//! from outside (clients and peers).

mod common;

use std::time::{Duration, Instant};

use common::{ask, small_dataset, Sandbox};
use overlay::proto::{Fault, MetricsRequest, RecordFormat};
use overlay_harness::client::connect;
use overlay_harness::control::ControlClient;
use serde_json::json;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn fault(kind: &str, peer: &str, delay_ms: i64) -> Fault {
    Fault {
        kind: kind.to_string(),
        peer: peer.to_string(),
        delay_ms,
        ..Default::default()
    }
}

async fn metrics(address: &str) -> overlay::proto::MetricsResponse {
    overlay_harness::client::fetch(address)
        .await
        .expect("metrics")
}

const COUNT: &str = r#"{"op": "count"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_is_refused_unless_enabled() {
    let sandbox = Sandbox::start(small_dataset(), json!({}), &[]).await;
    let leader = sandbox.leader();
    let mut control = ControlClient::new("A", &leader, "").unwrap();
    let err = control.inject(fault("delay", "", 100)).await.unwrap_err();
    assert_eq!(err.code, tonic::Code::PermissionDenied);
    assert!(
        err.message.contains("start the node with --enable-control"),
        "{err}"
    );
    assert!(!metrics(&leader).await.control_enabled);

    // The standard health service answers, reflecting the state tracker.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{leader}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    assert_eq!(metrics(&leader).await.state, "healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_checked_applied_and_cleared() {
    let sandbox = Sandbox::start(
        small_dataset(),
        json!({}),
        &["--enable-control", "--control-token", "s3cret"],
    )
    .await;
    let leader = sandbox.leader();
    let mut wrong = ControlClient::new("A", &leader, "guess").unwrap();
    let err = wrong.list().await.unwrap_err();
    assert_eq!(err.code, tonic::Code::Unauthenticated);
    assert!(
        err.message.contains("wrong or missing control token"),
        "{err}"
    );

    let mut control = ControlClient::new("A", &leader, "s3cret").unwrap();
    for (bad, expected) in [
        (fault("delay", "", -5), "delay_ms = -5"),
        (fault("drop", "Z", 0), "unknown peer 'Z'"),
        (fault("partition", "", 0), "partition needs `peer`"),
        (fault("melt", "", 0), "unknown fault kind 'melt'"),
    ] {
        let err = control.inject(bad).await.unwrap_err();
        assert_eq!(err.code, tonic::Code::InvalidArgument, "{err}");
        assert!(err.message.contains(expected), "{err}");
    }
    assert!(control.list().await.unwrap().is_empty());

    // Failed answers toward clients: the query fails with UNAVAILABLE, then works again.
    let drop = control.inject(fault("drop", "client", 0)).await.unwrap();
    let mut client = connect(&leader).await.unwrap();
    let refused = client
        .query(overlay::proto::QueryRequest {
            query_type: "aggregate".to_string(),
            query_params: COUNT.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    assert_eq!(metrics(&leader).await.active_faults.len(), 1);
    assert_eq!(control.clear(Some(&drop)).await.unwrap(), 1);
    assert_eq!(
        ask(&leader, "aggregate", COUNT, RecordFormat::Typed)
            .await
            .status,
        "ready"
    );

    // Added latency toward clients.
    control.inject(fault("delay", "client", 300)).await.unwrap();
    let started = Instant::now();
    ask(&leader, "aggregate", COUNT, RecordFormat::Typed).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    control.clear(None).await.unwrap();

    // A partition on A's side between A and C: A refuses C's membership datagrams (counted
    // under "fault") and its calls to C; the rest of the cluster still reaches C, so no answer
    // is lost: C's days still reach A's clients through B, exact and whole.
    let c_address = sandbox.cluster.address("C").unwrap().to_string();
    let mut c_control = ControlClient::new("C", &c_address, "s3cret").unwrap();
    control.inject(fault("partition", "C", 0)).await.unwrap();
    let started = Instant::now();
    loop {
        let answer = ask(&leader, "aggregate", COUNT, RecordFormat::Typed).await;
        assert_eq!(answer.status, "ready");
        assert!(!answer.partial, "{:?}", answer.missing_nodes);
        let membership = metrics(&leader).await.membership.unwrap_or_default();
        let refused = membership
            .drops
            .iter()
            .find(|d| d.reason == "fault")
            .map_or(0, |d| d.count);
        if refused > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{membership:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    control.clear(None).await.unwrap();

    // Strategy switch and shutdown.
    assert_eq!(control.set_strategy("fair_queue").await.unwrap(), "strict");
    assert_eq!(metrics(&leader).await.fairness_strategy, "fair_queue");
    let err = control.set_strategy("lottery").await.unwrap_err();
    assert!(
        err.message.contains("unknown fairness strategy 'lottery'"),
        "{err}"
    );
    c_control.shutdown(true).await.unwrap();
    let started = Instant::now();
    while connect(&c_address).await.is_ok() && metrics_ok(&c_address).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "C still answers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metrics_ok(address: &str) -> bool {
    match connect(address).await {
        Ok(mut client) => client.get_metrics(MetricsRequest {}).await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_command_injects_lists_and_refuses() {
    let sandbox = Sandbox::start(small_dataset(), json!({}), &["--enable-control"]).await;
    let node = sandbox.cluster.address("B").unwrap().to_string();
    let harness = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["control", "--node", &node])
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("harness runs")
    };
    let injected = harness(&["delay", "--ms", "50", "--peer", "client"]);
    assert!(injected.status.success(), "{injected:?}");
    let listed = String::from_utf8(harness(&["list"]).stdout).unwrap();
    assert!(
        listed.contains("delay") && listed.contains("client"),
        "{listed}"
    );
    let stalled = harness(&["delay", "--ms", "20", "--stall"]);
    assert!(stalled.status.success(), "{stalled:?}");
    let listed = String::from_utf8(harness(&["list"]).stdout).unwrap();
    assert!(listed.contains("stall"), "{listed}");
    let refused = harness(&["delay", "--ms", "-3"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("delay_ms = -3"), "{stderr}");
    let cleared = String::from_utf8(harness(&["clear"]).stdout).unwrap();
    assert!(cleared.contains("2 fault(s) cleared"), "{cleared}");
}
