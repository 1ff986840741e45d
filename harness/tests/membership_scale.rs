//! Membership at scale, with real processes: 29 nodes (a leader, 4 teams of a team leader and
//! 6 workers, replication 2). One worker is killed and another hung (SIGSTOP); their team
//! leaders declare them failed, every other node's membership view converges on 27 alive, and
//! the answers the leader gives stay exact throughout.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port_config, small_dataset};
use overlay::config::NodeId;
use overlay::proto::{MetricsRequest, MetricsResponse, RecordFormat};
use overlay_harness::checker::{compare_aggregate, expected_aggregate, load_dataset};
use overlay_harness::client::{connect, run_query, QuerySpec};
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use serde_json::{json, Map};

const TEAMS: usize = 4;
const WORKERS: usize = 6;
/// The dataset's days, split evenly over the teams.
const TEAM_DAYS: [(&str, &str); TEAMS] = [
    ("20200810", "20200820"),
    ("20200821", "20200831"),
    ("20200901", "20200911"),
    ("20200912", "20200924"),
];

/// A leader `L`, team leaders `T0`..`T3`, workers `T0W0`..`T3W5` (ports are replaced by free
/// ones when the config is derived).
fn topology() -> String {
    let mut processes = Map::new();
    let mut teams = Map::new();
    let mut port = 41000;
    let mut add = |id: &str, role: &str, team: &str, neighbors: Vec<String>| {
        port += 1;
        processes.insert(
            id.to_string(),
            json!({"id": id, "role": role, "team": team, "host": "127.0.0.1", "port": port,
                   "neighbors": neighbors}),
        );
    };
    add(
        "L",
        "leader",
        "t0",
        (0..TEAMS).map(|t| format!("T{t}")).collect(),
    );
    for (t, (first, last)) in TEAM_DAYS.iter().enumerate() {
        let team = format!("t{t}");
        teams.insert(team.clone(), json!({"date_bounds": [first, last]}));
        let workers: Vec<String> = (0..WORKERS).map(|w| format!("T{t}W{w}")).collect();
        add(&format!("T{t}"), "team_leader", &team, workers.clone());
        for worker in workers {
            add(&worker, "worker", &team, Vec::new());
        }
    }
    json!({"teams": teams, "processes": processes}).to_string()
}

async fn metrics(address: &str) -> Option<MetricsResponse> {
    let mut client = tokio::time::timeout(Duration::from_secs(2), connect(address))
        .await
        .ok()?
        .ok()?;
    tokio::time::timeout(
        Duration::from_secs(2),
        client.get_metrics(MetricsRequest {}),
    )
    .await
    .ok()?
    .ok()
    .map(|r| r.into_inner())
}

/// Polls until `done` holds for every node of `ids` (at most `limit`); the ones it does not
/// hold for at the end.
async fn wait_all(
    cluster: &LocalCluster,
    ids: &[String],
    limit: Duration,
    done: impl Fn(&MetricsResponse) -> bool,
) -> Vec<String> {
    let until = Instant::now() + limit;
    loop {
        let mut lagging = Vec::new();
        for id in ids {
            let address = cluster.address(id).expect("node");
            if !metrics(address).await.is_some_and(|m| done(&m)) {
                lagging.push(id.clone());
            }
        }
        if lagging.is_empty() || Instant::now() > until {
            return lagging;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn status_of(m: &MetricsResponse, peer: &str) -> String {
    m.neighbors
        .iter()
        .find(|n| n.id == peer)
        .map(|n| n.status.clone())
        .unwrap_or_default()
}

fn alive(m: &MetricsResponse) -> i32 {
    m.membership.as_ref().map_or(0, |s| s.members_alive)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_processes_detect_a_kill_and_a_hang_and_converge() {
    let started = Instant::now();
    let data = small_dataset();
    let rows = load_dataset(data).expect("dataset");
    let dir = tempfile::tempdir().unwrap();
    let mut strategies = Map::new();
    strategies.insert("replication_factor".into(), json!(2));
    let config_path = dir.path().join("cluster.json");
    std::fs::write(&config_path, free_port_config(&topology(), strategies)).unwrap();
    let mut cluster = LocalCluster::start(LaunchOptions {
        config_path,
        dataset_root: data.to_path_buf(),
        node_dataset_roots: Default::default(),
        node_binary: node_binary(false).expect("overlay-node is built by cargo test --workspace"),
        log_dir: dir.path().join("logs"),
        settings: NodeSettings::default(),
        extra_args: Vec::new(),
        ready_timeout: Duration::from_secs(60),
    })
    .await
    .expect("cluster starts");
    let everyone: Vec<String> = std::iter::once("L".to_string())
        .chain((0..TEAMS).flat_map(|t| {
            std::iter::once(format!("T{t}")).chain((0..WORKERS).map(move |w| format!("T{t}W{w}")))
        }))
        .collect();
    assert_eq!(everyone.len(), 29);
    let lagging = wait_all(&cluster, &everyone, Duration::from_secs(30), |m| {
        alive(m) == 29
    })
    .await;
    assert!(lagging.is_empty(), "not converged on 29 alive: {lagging:?}");

    // Checked answers through the leader, all along.
    let params = json!({"op": "count", "group_by": "parameter"});
    let expected = expected_aggregate(&rows, params.as_object().unwrap());
    let query = QuerySpec {
        query_type: "aggregate".into(),
        params: params.to_string(),
        format: RecordFormat::Typed,
        chunk_size: 0,
        client_id: "membership-test".into(),
    };
    let leader = cluster.leader_address();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let load = {
        let (stop, answered, problems) = (stop.clone(), answered.clone(), problems.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let outcome = async {
                    let mut client = connect(&leader).await.map_err(|e| e.to_string())?;
                    run_query(&mut client, &query)
                        .await
                        .map_err(|e| e.to_string())
                }
                .await;
                let verdict = outcome.and_then(|o| {
                    if o.status != "ready" || o.partial {
                        return Err(format!("status {} partial {}", o.status, o.partial));
                    }
                    compare_aggregate(
                        &o.drained.json_rows().map_err(|e| e.to_string())?,
                        &expected,
                    )
                });
                answered.fetch_add(1, Ordering::Relaxed);
                if let Err(problem) = verdict {
                    problems.lock().unwrap().push(problem);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    cluster
        .signal(&NodeId("T1W0".into()), libc::SIGKILL)
        .unwrap();
    cluster
        .signal(&NodeId("T2W1".into()), libc::SIGSTOP)
        .unwrap();
    let detected = wait_all(
        &cluster,
        &["T1".to_string(), "T2".to_string()],
        Duration::from_secs(20),
        |m| match m.process_id.as_str() {
            "T1" => status_of(m, "T1W0") == "failed",
            _ => status_of(m, "T2W1") == "failed",
        },
    )
    .await;
    assert!(detected.is_empty(), "not declared failed by {detected:?}");
    let live: Vec<String> = everyone
        .iter()
        .filter(|id| *id != "T1W0" && *id != "T2W1")
        .cloned()
        .collect();
    let lagging = wait_all(&cluster, &live, Duration::from_secs(30), |m| alive(m) == 27).await;
    assert!(lagging.is_empty(), "not converged on 27 alive: {lagging:?}");

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let _ = cluster.signal(&NodeId("T2W1".into()), libc::SIGCONT);
    let answered = answered.load(Ordering::Relaxed);
    let problems = problems.lock().unwrap().clone();
    eprintln!("{answered} answers checked in {:?}", started.elapsed());
    assert!(answered >= 5, "the load ran: {answered}");
    assert!(problems.is_empty(), "{problems:?}");
}
