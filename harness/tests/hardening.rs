//! A hostile client against a real six-node cluster: each step sends what broke a node before
//! (issue 12's table, rows 1–8) and asserts the refusal or the bounded answer, then that a
//! normal client is still served. RSS figures of the floods are printed (`--nocapture`).

mod common;

use std::time::{Duration, Instant};

use common::{ask, small_dataset, Sandbox};
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::overlay_peer_client::OverlayPeerClient;
use overlay::proto::{
    ChunkRequest, MetricsRequest, PeerQuery, QueryRequest, RecordFormat, ScanRequest, ScanStatus,
    ShutdownRequest, SliceErrorKind, SliceTask,
};
use overlay_harness::client::connect;
use serde_json::json;
use tonic::transport::Channel;

const CONTROL_TOKEN: &str = "hardening-control-token";
const CACHE_ENTRIES: usize = 400;
const MAX_CONNECTIONS: usize = 600;

/// Every day of the small dataset through the leader, read to the end.
async fn assert_served(address: &str, expected: i64) {
    let outcome = ask(
        address,
        "aggregate",
        r#"{"op": "count"}"#,
        RecordFormat::Json,
    )
    .await;
    assert_eq!(outcome.status, "ready");
    assert!(!outcome.partial, "{:?}", outcome.missing_nodes);
    assert_eq!(count_of(&outcome), expected);
}

fn count_of(outcome: &overlay_harness::client::QueryOutcome) -> i64 {
    let rows = outcome.drained.json_rows().expect("aggregate rows");
    rows[0]["value"].as_i64().expect("a count")
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

async fn peer_client(address: &str) -> OverlayPeerClient<Channel> {
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("an address")
        .connect()
        .await
        .expect("connect to peer service");
    OverlayPeerClient::new(channel).max_decoding_message_size(64 * 1024 * 1024)
}

fn signed<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("x-overlay-cluster-token", token.parse().expect("ASCII"));
    }
    request
}

fn scan_of_d(copies: usize, limit: u32) -> ScanRequest {
    let query = overlay::query::Query::parse("filter", "").expect("an empty filter");
    let mut query = PeerQuery::from(&query);
    query.kind = Some(overlay::proto::peer_query::Kind::FilterLimit(limit));
    ScanRequest {
        query: Some(query),
        hops: vec!["A".to_string()],
        slices: (0..copies)
            .map(|_| SliceTask {
                owner: "D".to_string(),
                limit,
                offset: 0,
                holders: vec!["D".to_string()],
            })
            .collect(),
        team: "pink".to_string(),
        deadline_ms: 10_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_are_refused_and_normal_clients_still_served() {
    let token_arg = format!("--control-token={CONTROL_TOKEN}");
    let cap_arg = format!("--max-connections={MAX_CONNECTIONS}");
    let sandbox = Sandbox::start(
        small_dataset(),
        json!({"result_cache_entries": CACHE_ENTRIES}),
        &[
            "--enable-control",
            &token_arg,
            &cap_arg,
            "--idle-timeout-s=3",
        ],
    )
    .await;
    let leader = sandbox.leader();
    let d = sandbox.cluster.address("D").expect("D").to_string();
    let pids = sandbox.cluster.pids();
    let total = count_of(
        &ask(
            &leader,
            "aggregate",
            r#"{"op": "count"}"#,
            RecordFormat::Json,
        )
        .await,
    );
    assert!(total > 10_000, "the small dataset has rows: {total}");
    let secret = std::fs::read_to_string(sandbox.cluster.token_file())
        .expect("the launcher wrote a cluster secret");
    let secret = secret.trim();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.cluster.token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the secret is readable by its owner only"
        );
    }

    // Row 1: the original Shutdown without the control token is refused; the node lives on.
    let mut client = connect(&leader).await.unwrap();
    let refused = client
        .shutdown(ShutdownRequest { graceful: false })
        .await
        .expect_err("no token, no shutdown");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let mut wrong = tonic::Request::new(ShutdownRequest { graceful: false });
    wrong
        .metadata_mut()
        .insert("x-overlay-control-token", "guess".parse().unwrap());
    assert!(client.shutdown(wrong).await.is_err());
    assert_served(&leader, total).await;

    // Row 2: a client without the cluster secret cannot call OverlayPeer at all; a member's
    // Scan with limit u32::MAX gets at most the client cap.
    let mut peer = peer_client(&d).await;
    let status = peer
        .scan(signed(scan_of_d(1, u32::MAX), None))
        .await
        .expect_err("no secret");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(peer
        .scan(signed(
            scan_of_d(1, 5),
            Some("0123456789abcdef0123456789abcdef")
        ))
        .await
        .is_err());
    let answer = peer
        .scan(signed(scan_of_d(1, u32::MAX), Some(secret)))
        .await
        .expect("a member may scan")
        .into_inner();
    assert_eq!(answer.scan_status, ScanStatus::Ok as i32);
    assert_eq!(answer.slices.len(), 1);
    assert!(answer.slices[0].rows <= overlay::query::LIMIT_CAP);

    // Row 3: D's slice listed 60 times is served once.
    let rss_before = rss_kb(pids["D"]);
    let answer = peer
        .scan(signed(scan_of_d(60, 2000), Some(secret)))
        .await
        .expect("scan")
        .into_inner();
    assert_eq!(answer.slices.len(), 1, "one result per slice");
    println!(
        "row 3: D RSS {} kB before, {} kB after a 60-fold Scan",
        rss_before,
        rss_kb(pids["D"])
    );
    // A made-up slice owner is refused per task, and hops naming strangers are refused.
    let mut stranger = scan_of_d(1, 10);
    stranger.slices[0].owner = "Z".repeat(10_000);
    let answer = peer
        .scan(signed(stranger, Some(secret)))
        .await
        .unwrap()
        .into_inner();
    let failure = answer.slices[0].failure.as_ref().expect("refused");
    assert_eq!(failure.kind, SliceErrorKind::UnknownSlice as i32);
    assert!(failure.reason.contains("owns no slice"));
    assert!(answer.slices[0].owner.len() < 100);
    let mut stranger = scan_of_d(1, 10);
    stranger.hops = vec!["X".to_string()];
    let answer = peer
        .scan(signed(stranger, Some(secret)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.scan_status, ScanStatus::InvalidRequest as i32);
    assert!(answer.reason.starts_with("hops"), "{}", answer.reason);

    // Row 4: oversized hops are refused at once, not forwarded; hops naming nodes do not
    // make their days missing.
    let rss_before = rss_kb(pids["A"]);
    let started = Instant::now();
    let huge = client
        .query(QueryRequest {
            query_type: "aggregate".to_string(),
            query_params: r#"{"op": "count"}"#.to_string(),
            hops: (0..200_000).map(|i| format!("N{i}")).collect(),
            ..Default::default()
        })
        .await
        .expect("answered")
        .into_inner();
    assert!(
        huge.status
            .starts_with("invalid_query:hops has 200000 entries"),
        "{}",
        huge.status
    );
    assert!(huge.hops.is_empty(), "nothing of it is echoed");
    println!(
        "row 4: 200,000 hops refused in {} ms; A RSS {rss_before} kB → {} kB",
        started.elapsed().as_millis(),
        rss_kb(pids["A"])
    );
    let named = client
        .query(QueryRequest {
            query_type: "aggregate".to_string(),
            query_params: r#"{"op": "count"}"#.to_string(),
            hops: vec!["D".to_string(), "C".to_string()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.status, "ready");
    assert!(!named.partial, "naming nodes in hops must not exclude them");
    assert!(named.missing_dates.is_empty());

    // Row 5: a flood of unread empty answers stays within the entry bound.
    let empty = r#"{"parameter": "NO_SUCH_POLLUTANT"}"#;
    for _ in 0..CACHE_ENTRIES * 3 {
        let answer = client
            .query(QueryRequest {
                query_type: "filter".to_string(),
                query_params: empty.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, "ready");
    }
    let metrics = client
        .get_metrics(MetricsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        metrics.queue_size as usize <= CACHE_ENTRIES,
        "{} answers held",
        metrics.queue_size
    );
    println!(
        "row 5: {} unread empty answers sent, {} held ({} bytes); A RSS {} kB",
        CACHE_ENTRIES * 3,
        metrics.queue_size,
        metrics.stored_result_bytes,
        rss_kb(pids["A"])
    );

    // Row 6: uids cannot be guessed from one another.
    let mine = client
        .query(QueryRequest {
            query_type: "filter".to_string(),
            query_params: r#"{"limit": 5}"#.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let random = mine.uid.rsplit('-').next().unwrap();
    assert_eq!(random.len(), 32, "{}", mine.uid);
    let last = random.chars().last().unwrap();
    let neighbour_digit = if last == '0' { '1' } else { '0' };
    let guess = format!("{}{}", &mine.uid[..mine.uid.len() - 1], neighbour_digit);
    let guessed = client
        .get_chunk(ChunkRequest {
            uid: guess,
            chunk_index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(guessed.status, "not_found");
    let owned = client
        .get_chunk(ChunkRequest {
            uid: mine.uid.clone(),
            chunk_index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(owned.status, "success");

    // Row 7: teams the config does not know are refused; team state stays the config's.
    for i in 0..300 {
        let params = json!({"op": "count", "team": format!("team-{i}-{}", "x".repeat(40))});
        let answer = client
            .query(QueryRequest {
                query_type: "aggregate".to_string(),
                query_params: params.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            answer.status.starts_with("invalid_query:team"),
            "{}",
            answer.status
        );
        assert!(
            answer.status.contains("known: green, pink"),
            "{}",
            answer.status
        );
        assert!(answer.status.len() < 200);
    }
    let metrics = client
        .get_metrics(MetricsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(metrics.teams.len() <= 2, "{} teams", metrics.teams.len());
    assert_served(&leader, total).await;

    // Row 8: idle sockets past the connection cap are closed at once; the silent ones under
    // it are closed by the idle timeout; a normal client gets in again.
    let address: std::net::SocketAddr = leader.parse().unwrap();
    let rss_before = rss_kb(pids["A"]);
    let mut sockets = Vec::new();
    for _ in 0..(MAX_CONNECTIONS * 3) {
        if let Ok(socket) = tokio::net::TcpStream::connect(address).await {
            sockets.push(socket);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds = open_fds(pids["A"]);
    println!(
        "row 8: {} idle sockets opened; A holds {fds} fds, RSS {rss_before} kB → {} kB",
        sockets.len(),
        rss_kb(pids["A"])
    );
    assert!(
        fds < MAX_CONNECTIONS + 200,
        "A holds {fds} fds with a cap of {MAX_CONNECTIONS}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        let attempt = async {
            let mut fresh: OverlayNodeClient<Channel> = connect(&leader).await.ok()?;
            fresh
                .get_metrics(MetricsRequest {})
                .await
                .ok()
                .map(|m| m.into_inner().process_id)
        };
        if let Ok(Some(id)) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
            break Some(id);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        served.as_deref(),
        Some("A"),
        "a normal client is served again"
    );
    drop(sockets);
    assert_served(&leader, total).await;
}
