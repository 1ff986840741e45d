//! Admission control on a real six-process cluster: two teams drive unequal load past
//! capacity and each fairness strategy leaves its own pattern in the leader's metrics; team
//! accounting follows the tree; and every slot comes back after cancellations and failures.
//!
//! Load is closed-loop: each client sends the next heavy aggregate as soon as the previous one
//! is answered (a short pause after a rejection). The assertions are about patterns the rules
//! guarantee (a peak that cannot pass a limit, a team that cannot be refused) or that hold by a
//! wide margin (a heavy team that gets past its limit when allowed), never about exact counts.
//! The tests of this file share the machine's cores, so they run one at a time.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{small_dataset, Sandbox};
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::{MetricsResponse, QueryRequest, RecordFormat, TeamAdmission};
use overlay_harness::client::fetch;
use overlay_harness::client::{connect, run_query, QuerySpec};
use overlay_harness::fairness::{goodput_fairness, team_goodput, TeamGoodput};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tonic::transport::Channel;

/// One cluster at a time: the tests measure concurrency on a small shared machine.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Small limits, so a handful of clients is "past capacity": a node runs 6 queries at once, 3
/// per team; hybrid turns strict from 5 active (5 / 6 ≥ 0.8).
const MAX_ACTIVE: i32 = 6;
const PER_TEAM_LIMIT: i32 = 3;
const HYBRID_STRICT_FROM: i32 = 5;

/// Clients of the heavy and the light team.
const PINK_CLIENTS: usize = 16;
const GREEN_CLIENTS: usize = 3;

/// How long each load phase runs.
const PHASE: Duration = Duration::from_millis(2500);

/// Upper bound of a whole test, so a hang fails instead of blocking the suite.
const TEST_LIMIT: Duration = Duration::from_secs(50);

/// A heavy query: an average per site over every day, so every node scans all its rows and
/// the leader waits on the whole tree.
fn heavy(team: &str) -> String {
    json!({"op": "avg", "group_by": "site", "team": team}).to_string()
}

/// What the clients of one team saw.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Answers by status (`ready`, `rejected`, `rejected:queue_timeout`, ...), or `error:...`.
    statuses: BTreeMap<String, u64>,
}

impl Tally {
    fn count(&self, status: &str) -> u64 {
        self.statuses.get(status).copied().unwrap_or(0)
    }

    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }
}

/// One client: heavy queries of `team` back to back until `until`.
async fn client_loop(
    mut client: OverlayNodeClient<Channel>,
    team: String,
    until: Instant,
) -> Tally {
    let spec = QuerySpec {
        query_type: "aggregate".into(),
        params: heavy(&team),
        format: RecordFormat::Json,
        chunk_size: 0,
        client_id: format!("fairness-{team}"),
    };
    let mut tally = Tally::default();
    while Instant::now() < until {
        let status = match run_query(&mut client, &spec).await {
            Ok(outcome) => outcome.status,
            Err(err) => format!("error:{err}"),
        };
        let refused = status.starts_with("rejected");
        *tally.statuses.entry(status).or_default() += 1;
        if refused {
            // Back off a little: a refused client spinning would only burn the shared cores.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tally
}

/// Runs `clients` per team against `address` for `phase`; returns what each team saw.
async fn drive(
    address: &str,
    clients: &[(&str, usize)],
    phase: Duration,
) -> BTreeMap<String, Tally> {
    let channel = connect(address).await.expect("connect");
    let until = Instant::now() + phase;
    let mut tasks = Vec::new();
    for &(team, count) in clients {
        for _ in 0..count {
            let task = tokio::spawn(client_loop(channel.clone(), team.to_string(), until));
            tasks.push((team.to_string(), task));
        }
    }
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for (team, task) in tasks {
        let tally = task.await.expect("client task");
        tallies.entry(team).or_default().merge(tally);
    }
    tallies
}

fn team<'a>(metrics: &'a MetricsResponse, name: &str) -> &'a TeamAdmission {
    metrics
        .teams
        .iter()
        .find(|t| t.team == name)
        .unwrap_or_else(|| {
            panic!(
                "{} has no counters of team {name}: {metrics:?}",
                metrics.process_id
            )
        })
}

fn goodput<'a>(teams: &'a [TeamGoodput], name: &str) -> &'a TeamGoodput {
    teams
        .iter()
        .find(|t| t.team == name)
        .unwrap_or_else(|| panic!("no goodput of team {name}"))
}

/// Prints one line of the sweep summary: what the leader counted between two snapshots.
fn report(
    label: &str,
    before: Option<&MetricsResponse>,
    after: &MetricsResponse,
    seen: &BTreeMap<String, Tally>,
) {
    let teams = team_goodput(before, after);
    let mut line = format!("{label:<21} peak total {}", after.peak_active_requests);
    for t in &teams {
        let now = team(after, &t.team);
        let earlier = before.and_then(|b| b.teams.iter().find(|e| e.team == t.team));
        let delta = |field: fn(&TeamAdmission) -> i64| field(now) - earlier.map_or(0, field);
        line.push_str(&format!(
            " | {} peak {} admitted {} rejected {} (team {} total {} full {} timeout {}) \
             wait avg {:.1} max {:.1} ms, goodput {:.0}/s, clients saw {:?}",
            t.team,
            now.peak_active,
            t.admitted,
            t.rejected,
            delta(|c| c.rejected_team_limit),
            delta(|c| c.rejected_total_limit),
            delta(|c| c.rejected_queue_full),
            delta(|c| c.rejected_queue_timeout),
            now.avg_wait_ms,
            now.max_wait_ms,
            t.goodput_per_s,
            seen.get(&t.team).map(|tally| &tally.statuses),
        ));
    }
    let jain =
        |weighted| goodput_fairness(&teams, weighted).map_or("-".into(), |j| format!("{j:.3}"));
    println!("{line} | Jain {} weighted {}", jain(false), jain(true));
}

/// The `strategies` block of one run: the small limits plus `extra`.
fn strategies(strategy: &str, extra: Value) -> Value {
    let mut settings = json!({
        "fairness_strategy": strategy,
        "max_active": MAX_ACTIVE,
        "per_team_limit": PER_TEAM_LIMIT,
        "hybrid_threshold": 0.8,
    });
    if let (Some(settings), Value::Object(extra)) = (settings.as_object_mut(), extra) {
        settings.extend(extra);
    }
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_strategy_leaves_its_pattern_under_unequal_load() {
    let _serial = SERIAL.lock().await;
    // The cluster is restarted per strategy (fresh counters, no carry-over), as the harness
    // does in a sweep.
    let sweep = async {
        strict_holds_the_heavy_team_at_its_limit().await;
        weighted_lends_idle_capacity().await;
        hybrid_stops_lending_at_the_threshold().await;
        fair_queue_serves_by_weight().await;
    };
    tokio::time::timeout(TEST_LIMIT, sweep)
        .await
        .expect("the sweep finishes in time");
}

/// strict: the heavy team never passes its limit, and the light team is never refused.
async fn strict_holds_the_heavy_team_at_its_limit() {
    let sandbox = Sandbox::start(small_dataset(), strategies("strict", json!({})), &[]).await;
    let leader = sandbox.leader();
    let both = [("pink", PINK_CLIENTS), ("green", GREEN_CLIENTS)];
    let seen = drive(&leader, &both, PHASE).await;
    let m = fetch(&leader).await.expect("metrics");
    report("strict", None, &m, &seen);
    assert_eq!(m.fairness_strategy, "strict");
    let (pink, green) = (team(&m, "pink"), team(&m, "green"));
    assert!(
        pink.peak_active <= PER_TEAM_LIMIT,
        "strict lets no team past its limit: {pink:?}"
    );
    assert!(
        pink.rejected_team_limit > 0,
        "the heavy team is refused at its limit: {pink:?}"
    );
    assert!(green.admitted > 0, "{green:?}");
    // Green's 3 clients ask with at most 2 of them active, and pink holds at most 3: neither
    // limit can refuse green.
    assert_eq!(
        green.rejected, 0,
        "strict keeps room for the light team: {green:?}"
    );
    assert!(seen["pink"].count("rejected") > 0);
    assert_eq!(m.rejected_by_strategy[0].strategy, "strict");
    assert_eq!(
        m.rejected_by_strategy[0].rejected,
        pink.rejected + green.rejected
    );
}

/// weighted: with the light team idle the heavy team borrows past its limit; once both are
/// busy the borrower crowds the light team out at the total limit.
async fn weighted_lends_idle_capacity() {
    let sandbox = Sandbox::start(small_dataset(), strategies("weighted", json!({})), &[]).await;
    let leader = sandbox.leader();
    let seen = drive(&leader, &[("pink", PINK_CLIENTS)], PHASE).await;
    let alone = fetch(&leader).await.expect("metrics");
    report("weighted, green idle", None, &alone, &seen);
    let pink = team(&alone, "pink");
    assert!(
        pink.peak_active > PER_TEAM_LIMIT,
        "weighted lets a lone team borrow: {pink:?}"
    );
    assert!(pink.peak_active <= MAX_ACTIVE, "{pink:?}");
    assert_eq!(
        pink.rejected_team_limit, 0,
        "nobody else is busy, so only the total limit refuses: {pink:?}"
    );

    let both = [("pink", PINK_CLIENTS), ("green", GREEN_CLIENTS)];
    let seen = drive(&leader, &both, PHASE).await;
    let m = fetch(&leader).await.expect("metrics");
    report("weighted, both busy", Some(&alone), &m, &seen);
    let green = team(&m, "green");
    assert!(green.admitted > 0, "{green:?}");
    assert!(
        green.rejected_total_limit > 0,
        "the borrower fills the node and the light team meets the total limit: {green:?}"
    );
    assert_eq!(m.rejected_by_strategy[1].strategy, "weighted");
    assert_eq!(
        m.rejected_by_strategy[0].rejected, 0,
        "nothing counted as strict"
    );
}

/// hybrid: borrowing below the threshold, strict from it.
async fn hybrid_stops_lending_at_the_threshold() {
    let sandbox = Sandbox::start(small_dataset(), strategies("hybrid", json!({})), &[]).await;
    let leader = sandbox.leader();
    let seen = drive(&leader, &[("pink", PINK_CLIENTS)], PHASE).await;
    let m = fetch(&leader).await.expect("metrics");
    report("hybrid, green idle", None, &m, &seen);
    let pink = team(&m, "pink");
    assert!(
        pink.peak_active > PER_TEAM_LIMIT,
        "hybrid borrows below the threshold: {pink:?}"
    );
    assert!(
        pink.peak_active <= HYBRID_STRICT_FROM && m.peak_active_requests <= HYBRID_STRICT_FROM,
        "hybrid admits nothing past the limit once at the threshold: {pink:?}"
    );
    assert!(
        pink.rejected_team_limit > 0,
        "at the threshold the team limit applies: {pink:?}"
    );
    assert_eq!(
        pink.rejected_total_limit, 0,
        "the total limit is never reached: {pink:?}"
    );
}

/// fair_queue: nobody is refused; while both teams wait they are served 2:1 by weight, and
/// every wait stays under the queue timeout.
async fn fair_queue_serves_by_weight() {
    let settings = strategies(
        "fair_queue",
        json!({
            // The team limit must not bind for the weights to decide the shares.
            "per_team_limit": MAX_ACTIVE,
            "team_weights": {"pink": 2, "green": 1},
            "queue_capacity": 64,
            "queue_timeout_ms": 5000,
        }),
    );
    let sandbox = Sandbox::start(small_dataset(), settings, &[]).await;
    let leader = sandbox.leader();
    // Both teams have more clients than their share of the 6 slots (4 and 2), so both always
    // have someone waiting.
    let seen = drive(&leader, &[("pink", 12), ("green", 6)], PHASE).await;
    let m = fetch(&leader).await.expect("metrics");
    report("fair_queue 2:1", None, &m, &seen);
    let (pink, green) = (team(&m, "pink"), team(&m, "green"));
    assert_eq!((pink.weight, green.weight), (2, 1));
    let admitted = pink.admitted + green.admitted;
    assert!(
        (pink.rejected + green.rejected) * 50 <= admitted,
        "the queue absorbs the overload (at most 2% refused): {pink:?} {green:?}"
    );
    let ratio = pink.admitted as f64 / green.admitted.max(1) as f64;
    assert!(
        (1.4..=2.9).contains(&ratio),
        "admissions follow the weights 2:1, got {ratio:.2}: {pink:?} {green:?}"
    );
    for t in [pink, green] {
        assert!(t.max_wait_ms > 0.0, "queries did wait: {t:?}");
        assert!(
            t.max_wait_ms <= m.queue_timeout_ms as f64,
            "waits are bounded by queue_timeout: {t:?}"
        );
    }
    let teams = team_goodput(None, &m);
    assert!(goodput(&teams, "pink").goodput_per_s > goodput(&teams, "green").goodput_per_s);
    let weighted_jain = goodput_fairness(&teams, true).expect("goodput");
    assert!(
        weighted_jain > 0.95,
        "weighted goodput is fair: {weighted_jain}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_leaders_forward_with_their_own_team() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_LIMIT, team_forwarding())
        .await
        .expect("finishes in time");
}

/// Admissions per node of one query: the leader (green) and team leaders admit the request's
/// team; a team leader forwards with its own team, so its workers admit that team.
async fn team_forwarding() {
    let sandbox = Sandbox::start(small_dataset(), json!({}), &[]).await;
    let address = |id: &str| sandbox.cluster.address(id).expect("node").to_string();
    let ask = |node: String, team: Option<&'static str>| async move {
        let mut params = json!({"op": "count"});
        if let Some(team) = team {
            params["team"] = json!(team);
        }
        let mut client = connect(&node).await.expect("connect");
        let answer = client
            .query(QueryRequest {
                query_type: "aggregate".into(),
                query_params: params.to_string(),
                ..Default::default()
            })
            .await
            .expect("query")
            .into_inner();
        assert_eq!(answer.status, "ready");
    };
    // Through the leader A: one query naming pink, one naming green, one naming none.
    ask(address("A"), Some("pink")).await;
    ask(address("A"), Some("green")).await;
    ask(address("A"), None).await;
    // Straight to the pink team leader E, naming green.
    ask(address("E"), Some("green")).await;

    let mut admitted: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for id in ["A", "B", "C", "D", "E", "F"] {
        let m = fetch(&address(id)).await.expect("metrics");
        admitted.insert(
            id.to_string(),
            m.teams
                .iter()
                .map(|t| (t.team.clone(), t.admitted))
                .collect(),
        );
    }
    let expect = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    };
    // The leader forwards with the request's team, so A, B and E admit the team each query
    // names (A's own green when it names none). Team leaders forward with their own team:
    // B's worker C sees green and E's workers D and F see pink whoever asked, and E, when it
    // coordinates itself, sends even green's work to A, B and C as pink.
    assert_eq!(
        admitted["A"],
        expect(&[("green", 2), ("pink", 2)]),
        "{admitted:?}"
    );
    assert_eq!(
        admitted["B"],
        expect(&[("green", 2), ("pink", 2)]),
        "{admitted:?}"
    );
    assert_eq!(
        admitted["C"],
        expect(&[("green", 3), ("pink", 1)]),
        "{admitted:?}"
    );
    assert_eq!(
        admitted["E"],
        expect(&[("green", 3), ("pink", 1)]),
        "{admitted:?}"
    );
    assert_eq!(admitted["D"], expect(&[("pink", 4)]), "{admitted:?}");
    assert_eq!(admitted["F"], expect(&[("pink", 4)]), "{admitted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slot_comes_back_after_cancellations_and_failures() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(TEST_LIMIT, cancellations_and_failures())
        .await
        .expect("finishes in time");
}

/// Waiting and running queries are abandoned in every way a client can (task aborted, deadline
/// passed), and a worker dies under load; afterwards no node holds a slot or a waiter.
async fn cancellations_and_failures() {
    let settings = json!({
        "fairness_strategy": "fair_queue",
        "max_active": 4,
        "per_team_limit": 3,
        "queue_capacity": 8,
        "queue_timeout_ms": 3000,
    });
    let mut sandbox = Sandbox::start(small_dataset(), settings, &[]).await;
    let leader = sandbox.leader();
    let channel = connect(&leader).await.expect("connect");

    // 1. Clients whose tasks are aborted mid-query: some run, some wait in the fair queue.
    let until = Instant::now() + Duration::from_secs(60);
    let aborted: Vec<_> = (0..14)
        .map(|i| {
            let team = if i % 3 == 0 { "green" } else { "pink" };
            tokio::spawn(client_loop(channel.clone(), team.to_string(), until))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let busy = fetch(&leader).await.expect("metrics");
    assert!(busy.active_requests > 0, "the load is running: {busy:?}");
    for task in &aborted {
        task.abort();
    }

    // 2. Calls whose deadline passes while they wait or run.
    let mut timed_out = 0;
    for i in 0..30u64 {
        let mut client = channel.clone();
        let mut request = tonic::Request::new(QueryRequest {
            query_type: "aggregate".into(),
            query_params: heavy(if i % 2 == 0 { "pink" } else { "green" }),
            ..Default::default()
        });
        request.set_timeout(Duration::from_millis(1 + i % 4));
        if client.query(request).await.is_err() {
            timed_out += 1;
        }
    }
    assert!(timed_out > 0, "some deadlines passed mid-query");

    // 3. A worker dies under load: its slices fail, queries come back partial.
    let load = tokio::spawn({
        let channel = channel.clone();
        async move {
            let until = Instant::now() + Duration::from_millis(1500);
            let clients: Vec<_> = (0..8)
                .map(|i| {
                    let team = if i % 2 == 0 { "green" } else { "pink" };
                    tokio::spawn(client_loop(channel.clone(), team.to_string(), until))
                })
                .collect();
            let mut tally = Tally::default();
            for client in clients {
                tally.merge(client.await.expect("client"));
            }
            tally
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    sandbox
        .cluster
        .signal(&overlay::config::NodeId("F".into()), libc::SIGKILL)
        .expect("kill F");
    let tally = load.await.expect("load");
    assert!(tally.count("ready") > 0, "{tally:?}");

    // Every surviving node releases every slot and drops every waiter.
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in ["A", "B", "C", "D", "E"] {
        let address = sandbox.cluster.address(id).expect("node").to_string();
        loop {
            let m = fetch(&address).await.expect("metrics");
            let idle = m.active_requests == 0
                && m.teams
                    .iter()
                    .all(|t| t.active == 0 && t.queued == 0 && t.completed == t.admitted);
            if idle {
                assert!(
                    m.teams.iter().any(|t| t.admitted > 0),
                    "{id} took part: {m:?}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id} still holds slots: active {} teams {:?}",
                m.active_requests,
                m.teams
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let leader_metrics = fetch(&leader).await.expect("metrics");
    let admitted: i64 = leader_metrics.teams.iter().map(|t| t.admitted).sum();
    let succeeded: i64 = leader_metrics.teams.iter().map(|t| t.succeeded).sum();
    assert!(
        succeeded < admitted,
        "cancelled queries are not counted as answered: {leader_metrics:?}"
    );
}
