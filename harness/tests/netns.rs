//! Virtual hosts on real network namespaces: the two-host config runs with its 192.168.1.x
//! addresses, one namespace per host, reached by the harness over the run's own link; and
//! nothing of a run is left behind, also after the harness running it was killed.
//!
//! They need root and iproute2, so outside CI they are ignored with that reason; CI runs them
//! (`--include-ignored`) as root after installing iproute2.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{ask, small_dataset, workspace_root};
use overlay::config::ClusterConfig;
use overlay::proto::RecordFormat;
use overlay::record::Record;
use overlay_harness::checker::{compare_aggregate, expected_aggregate, load_dataset};
use overlay_harness::client::fetch;
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use overlay_harness::netns::{leftovers, Cut, Layout, NetFault, VirtualHosts};
use serde_json::json;

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn two_hosts() -> std::path::PathBuf {
    workspace_root().join("configs/two_hosts_config.json")
}

/// The tests share the config's addresses, so they take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `harness run WORKLOAD` in `dir` on the small dataset, quiet, both outputs to `log`.
fn harness_run(dir: &Path, workload: &Path, log: std::fs::File) -> Command {
    let mut command = Command::new(HARNESS);
    command
        .current_dir(dir)
        .env(
            "OVERLAY_NODE_BIN",
            node_binary(false).expect("overlay-node built"),
        )
        .arg("run")
        .arg(workload)
        .arg("--data")
        .arg(small_dataset())
        .args(["--out", "reports", "--quiet"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    command
}

#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn the_two_host_config_forms_its_tree_and_answers_exactly() {
    let _turn = one_at_a_time();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(two_host_cluster());
}

async fn two_host_cluster() {
    let config = ClusterConfig::load(&two_hosts()).expect("netns test");
    let run = Layout::fresh_run_id();
    let hosts = VirtualHosts::create(&config, &run).expect("virtual hosts");
    let layout = hosts.layout().clone();
    let addresses: Vec<String> = layout.hosts.iter().map(|h| h.address.to_string()).collect();
    assert_eq!(addresses, ["192.168.1.10", "192.168.1.11"]);
    let dir = tempfile::tempdir().expect("netns test");
    let data = small_dataset();
    let cluster = LocalCluster::start_in(
        LaunchOptions {
            config_path: two_hosts(),
            dataset_root: data.to_path_buf(),
            node_dataset_roots: Default::default(),
            node_binary: node_binary(false).expect("overlay-node built"),
            log_dir: dir.path().join("logs"),
            settings: NodeSettings::default(),
            extra_args: Vec::new(),
            ready_timeout: Duration::from_secs(60),
        },
        hosts.namespaces(),
    )
    .await
    .expect("the two-host cluster starts in its namespaces");
    // Each node runs in its host's namespace and binds its configured address there.
    for (id, pid) in cluster.pids() {
        let ns = &layout.namespaces()[&overlay::config::NodeId(id.clone())];
        let inside = ip(&["netns", "pids", ns]);
        assert!(
            inside.split_whitespace().any(|p| p == pid.to_string()),
            "{id} not in {ns}"
        );
        let metrics = fetch(cluster.address(&id).expect("netns test"))
            .await
            .expect("metrics");
        assert_eq!(metrics.process_id, id);
        let peers: BTreeSet<&str> = metrics
            .neighbors
            .iter()
            .map(|n| n.status.as_str())
            .collect();
        assert!(!peers.contains("failed"), "{id}: {peers:?}");
    }
    let leader = cluster.leader_address();
    assert_eq!(leader, "192.168.1.10:60051");
    let rows = load_dataset(data).expect("netns test");
    for query in [
        json!({"op": "count", "group_by": "parameter"}),
        json!({"op": "avg", "group_by": "date"}),
    ] {
        let outcome = ask(&leader, "aggregate", &query.to_string(), RecordFormat::Json).await;
        assert_eq!(
            (outcome.status.as_str(), outcome.partial),
            ("ready", false),
            "{query}"
        );
        let actual = outcome.drained.json_rows().expect("netns test");
        let params = query.as_object().cloned().expect("netns test");
        compare_aggregate(&actual, &expected_aggregate(&rows, &params))
            .unwrap_or_else(|diff| panic!("{query}: {diff}"));
        // The query crossed both hosts: every process of the tree took part.
        let hops: BTreeSet<&str> = outcome.hops.iter().map(String::as_str).collect();
        assert_eq!(hops.len(), 6, "{:?}", outcome.hops);
    }
    let filter = ask(
        &leader,
        "filter",
        r#"{"parameter":"PM2.5"}"#,
        RecordFormat::Json,
    )
    .await;
    assert_eq!(filter.status, "ready");
    assert!(filter.total_records > 0);
    let addresses: Vec<String> = cluster
        .pids()
        .keys()
        .filter_map(|id| cluster.address(id).map(str::to_string))
        .collect();
    partition_and_loss(&hosts, &addresses, &leader, &rows).await;
    drop(cluster);
    drop(hosts);
    assert_eq!(leftovers(&run), Vec::<String>::new());
}

#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn cluster_down_netns_cleans_a_run_whose_harness_was_killed() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("netns test");
    let config = dir.path().join("two.json");
    std::fs::copy(two_hosts(), &config).expect("netns test");
    let node = node_binary(false).expect("overlay-node built");
    let mut up = Command::new(HARNESS)
        .current_dir(dir.path())
        .env("OVERLAY_NODE_BIN", &node)
        .args(["cluster", "up", "two.json", "--netns", "--dataset-root"])
        .arg(small_dataset())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("harness runs");
    let record = dir.path().join(".overlay/two/netns-run");
    let run = wait_for(|| {
        std::fs::read_to_string(&record)
            .ok()
            .filter(|r| !r.is_empty())
    });
    // Killed while it sets up (or starts) the virtual hosts: nothing of it stops them.
    wait_for(|| (!leftovers(run.trim()).is_empty()).then_some(()));
    let _ = up.kill();
    let _ = up.wait();
    let down = Command::new(HARNESS)
        .current_dir(dir.path())
        .args(["cluster", "down", "two.json", "--netns"])
        .output()
        .expect("harness runs");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert_eq!(leftovers(run.trim()), Vec::<String>::new());
    assert!(!record.exists());
    assert_eq!(
        nodes_running_in(dir.path()),
        0,
        "nodes of the killed run still run"
    );
}

/// `overlay-node` processes whose working folder is `dir`.
fn nodes_running_in(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| {
            let path = entry.path();
            let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains("overlay-node")
                && std::fs::read_link(path.join("cwd")).is_ok_and(|cwd| cwd == dir)
        })
        .count()
}

const COUNT: &str = r#"{"op":"count","group_by":"parameter"}"#;

/// A two-way blackhole between the hosts: the leader declares the other host's team leader
/// failed, answers are partial and say so; after the heal it is alive again and answers are
/// exact. Then 20 % loss on one host's link: every answer is exact or declared partial.
async fn partition_and_loss(
    hosts: &VirtualHosts,
    addresses: &[String],
    leader: &str,
    rows: &[Record],
) {
    let ids = |names: &[&str]| -> Vec<overlay::config::NodeId> {
        names
            .iter()
            .map(|n| overlay::config::NodeId(n.to_string()))
            .collect()
    };
    let params = serde_json::from_str(COUNT).expect("JSON params");
    let expected = expected_aggregate(rows, &params);
    let mut cut = hosts
        .apply(&NetFault::Partition {
            from: ids(&["A", "B", "F"]),
            to: ids(&["C", "D", "E"]),
            one_way: false,
            cut: Cut::Blackhole,
        })
        .expect("partition applied");
    assert_eq!(cut.namespaces().len(), 2);
    let cut_at = Instant::now();
    wait_until_async(|| async { peer_status(leader, "E").await == "failed" }).await;
    eprintln!(
        "blackhole: A declared E failed after {:?}",
        cut_at.elapsed()
    );
    let outcome = ask(leader, "aggregate", COUNT, RecordFormat::Json).await;
    assert_eq!(outcome.status, "ready");
    assert!(
        outcome.partial && !outcome.missing_dates.is_empty(),
        "{:?}",
        outcome.missing_nodes
    );
    cut.undo();
    let healed_at = Instant::now();
    wait_until_async(|| all_see_all_alive(addresses)).await;
    eprintln!(
        "heal: every node saw every other alive again after {:?}",
        healed_at.elapsed()
    );
    let healed = ask(leader, "aggregate", COUNT, RecordFormat::Json).await;
    assert!(!healed.partial, "{:?}", healed.missing_nodes);
    compare_aggregate(&healed.drained.json_rows().expect("rows"), &expected)
        .expect("exact after heal");
    let mut loss = hosts
        .apply(&NetFault::Loss {
            on: ids(&["C"]),
            percent: 20.0,
        })
        .expect("loss applied");
    let ns = loss.namespaces()[0].clone();
    assert!(ip(&["netns", "exec", &ns, "nft", "list", "tables"]).contains("-f1"));
    for _ in 0..5 {
        let outcome = ask(leader, "aggregate", COUNT, RecordFormat::Json).await;
        assert_eq!(outcome.status, "ready");
        if !outcome.partial {
            compare_aggregate(&outcome.drained.json_rows().expect("rows"), &expected)
                .expect("an answer under loss not declared partial is exact");
        }
    }
    loss.undo();
    assert!(!ip(&["netns", "exec", &ns, "nft", "list", "tables"]).contains("-f1"));
}

/// Whether every node answers and sees none of its peers failed nor its breaker open.
async fn all_see_all_alive(addresses: &[String]) -> bool {
    for address in addresses {
        let Ok(metrics) = fetch(address).await else {
            return false;
        };
        if metrics
            .neighbors
            .iter()
            .any(|n| n.status == "failed" || n.breaker == "open")
        {
            return false;
        }
    }
    true
}

/// The status `leader` reports for its peer `peer` ("" when it does not answer).
async fn peer_status(leader: &str, peer: &str) -> String {
    fetch(leader)
        .await
        .ok()
        .and_then(|m| m.neighbors.into_iter().find(|n| n.id == peer))
        .map(|n| n.status)
        .unwrap_or_default()
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(mut probe: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A checked run (`harness run`) of the two-host config on virtual hosts: replication 2 under
/// aggregate load, a worker killed and restarted inside its namespace.
fn netns_workload(dir: &Path, seconds: u32) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("workloads/failover.toml"))
        .expect("shipped failover workload");
    let head = shipped.split("[[fault]]").next().expect("head");
    let config = format!("config = \"{}\"", two_hosts().display());
    let text = head
        .replace("config = \"configs/one_host_config.json\"", &config)
        .replace(
            "ports = \"free\"",
            "ports = \"config\"\nnetwork = \"netns\"",
        )
        .replace("duration_s = 30", &format!("duration_s = {seconds}"))
        .replace("warmup_s = 2", "warmup_s = 0.5")
        .replace("concurrency = [16]", "concurrency = [4]")
        + "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"\nduration_s = 1\n";
    let path = dir.join("netns_run.toml");
    std::fs::write(&path, text).expect("write workload");
    path
}

#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn a_checked_run_on_virtual_hosts_passes_and_leaves_nothing_behind() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = netns_workload(dir.path(), 4);
    let log = dir.path().join("harness.log");
    let file = std::fs::File::create(&log).expect("log");
    let status = harness_run(dir.path(), &workload, file)
        .status()
        .expect("harness runs");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{text}");
    assert_eq!(
        overlay_harness::netns::sys::namespaces_with("ovl-"),
        Vec::<String>::new()
    );
    assert_eq!(nodes_running_in(dir.path()), 0);
}

#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn ctrl_c_during_a_run_on_virtual_hosts_removes_them() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = netns_workload(dir.path(), 60);
    let log = std::fs::File::create(dir.path().join("harness.log")).expect("log");
    let mut run = Reaped(
        harness_run(dir.path(), &workload, log)
            .spawn()
            .expect("harness runs"),
    );
    wait_for(|| (nodes_running_in(dir.path()) >= 6).then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: SIGINT to the harness this test started.
    unsafe { libc::kill(run.0.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.0.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "the run ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        overlay_harness::netns::sys::namespaces_with("ovl-"),
        Vec::<String>::new()
    );
    assert_eq!(nodes_running_in(dir.path()), 0);
}

/// A harness this test started, interrupted and reaped if the test fails before it exits.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: SIGINT to the harness this test started, so it removes its namespaces.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGINT) };
            let _ = self.0.wait();
        }
    }
}

/// The delay proxy on the real path: a connection from one virtual host to another goes
/// through the sender's proxy (each direction delayed by the link's latency), the receiver sees
/// the sender host's own address, and nothing is left once the hosts are dropped.
#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn a_shaped_link_delays_tcp_between_hosts_through_the_proxy() {
    use overlay_harness::netns::enter::in_namespace;
    use overlay_harness::netns::{LinkSettings, Mechanism, Shaping};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

    let _turn = one_at_a_time();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _inside = runtime.enter();
    let config = ClusterConfig::load(&two_hosts()).expect("config");
    let run = Layout::fresh_run_id();
    let mut hosts = VirtualHosts::create(&config, &run).expect("virtual hosts");
    let shaping = Shaping {
        default: LinkSettings {
            latency_ms: 100.0,
            ..Default::default()
        },
        pairs: Default::default(),
    };
    let links = hosts.shape(&shaping, false).expect("shaped").to_vec();
    assert_eq!(links.len(), 1);
    let by = links[0].latency_by;
    assert!(
        matches!(by, Some(Mechanism::Proxy | Mechanism::Netem)),
        "{by:?}"
    );
    let (near, far) = (&hosts.layout().hosts[0], &hosts.layout().hosts[1]);
    let far_address = far.address;
    let listener = in_namespace(&far.namespace, move || TcpListener::bind((far_address, 0)))
        .expect("listener in the far host");
    let port = listener.local_addr().expect("port").port();
    let echo = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().expect("accept");
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).expect("read");
        stream.write_all(&byte).expect("echo");
        peer
    });
    let target = SocketAddr::from((far_address, port));
    let mut client = in_namespace(&near.namespace, move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(5))
    })
    .expect("connect from the near host");
    let started = Instant::now();
    client.write_all(b"x").expect("send");
    let mut byte = [0u8; 1];
    client.read_exact(&mut byte).expect("answer");
    let round_trip = started.elapsed();
    let peer = echo.join().expect("echo thread");
    assert!(round_trip >= Duration::from_millis(190), "{round_trip:?}");
    assert_eq!(peer.ip(), std::net::IpAddr::V4(near.address));
    assert_ne!(peer.ip(), std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
    drop(client);
    drop(hosts);
    assert_eq!(leftovers(&run), Vec::<String>::new());
}

/// `harness run` of the shipped partitions workload, shortened to 9 s at concurrency 4 with a
/// 0.5 ms link, with `faults` (`[[fault]]` entries) instead of its own, in `dir`: asserts that
/// it passed (its correctness rules: zero wrong, zero silently partial) and left nothing
/// behind; returns its `results.json`.
fn faulted_run(dir: &Path, faults: &str) -> serde_json::Value {
    let shipped = std::fs::read_to_string(workspace_root().join("workloads/partitions.toml"))
        .expect("shipped partitions workload");
    let head = shipped.split("[[fault]]").next().expect("head");
    let config = format!(
        "config = \"{}\"",
        workspace_root()
            .join("configs/one_host_config.json")
            .display()
    );
    let text = head
        .replace("config = \"configs/one_host_config.json\"", &config)
        .replace("duration_s = 32", "duration_s = 9")
        .replace("warmup_s = 2", "warmup_s = 0.5")
        .replace("concurrency = [16]", "concurrency = [4]")
        .replace(
            "addresses = \"10.77.0.1/24\"",
            "addresses = \"10.77.0.1/24\"\nlatency_ms = 0.5",
        )
        + faults;
    let workload = dir.join("netns_faults.toml");
    std::fs::write(&workload, text).expect("write workload");
    let log = dir.join("harness.log");
    let file = std::fs::File::create(&log).expect("log");
    let status = harness_run(dir, &workload, file)
        .status()
        .expect("harness runs");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{text}");
    assert_eq!(
        overlay_harness::netns::sys::namespaces_with("ovl-"),
        Vec::<String>::new()
    );
    assert_eq!(nodes_running_in(dir), 0);
    let results = find_results(&dir.join("reports"));
    serde_json::from_str(&std::fs::read_to_string(results).expect("results.json"))
        .expect("results JSON")
}

/// The fired events of the run's first step, each asserted to have fired without error.
fn fired_cleanly(results: &serde_json::Value) -> Vec<serde_json::Value> {
    let fired = results["strategies"][0]["steps"][0]["faults"]["fired"]
        .as_array()
        .expect("fired")
        .clone();
    for event in &fired {
        assert!(event["error"].is_null(), "{event}");
    }
    fired
}

/// `harness run` with a shaped link and every network fault kind on six virtual hosts (one per
/// process): the run passes its correctness rules (zero wrong, zero silently partial), every
/// fault fired without error, the report names the link's mechanism, and nothing is left.
#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn a_checked_run_with_network_faults_passes_and_leaves_nothing_behind() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let results = faulted_run(
        dir.path(),
        &["[[fault]]\nat_s = 0.5\naction = \"net_partition\"\nfrom = [\"A\", \"B\", \"F\"]\nto = [\"rest\"]\nduration_s = 3\n",
        "[[fault]]\nat_s = 4\naction = \"link\"\ntarget = \"D\"\ndelay_ms = 100\nduration_s = 2\n",
        "[[fault]]\nat_s = 6.5\naction = \"link\"\ntarget = \"E\"\nloss_percent = 10\nduration_s = 2\n"].concat(),
    );
    let run = &results["strategies"][0];
    let links = run["links"].as_array().expect("links recorded");
    assert_eq!(links.len(), 15, "six hosts, fifteen pairs");
    assert!(links
        .iter()
        .all(|l| l["latency_by"] == "proxy" || l["latency_by"] == "netem"));
    assert_eq!(
        fired_cleanly(&results).len(),
        6,
        "three faults and their heals"
    );
}

/// Toxiproxy toxics on workers' links in a checked run: `reset_peer` resets every connection
/// touching D, `timeout` stops C's traffic and then closes its connections. Every answer is
/// still exact or declared partial (the run's correctness rules), answers were checked, both
/// faults fired and healed without error, no declaration is taken for a false alarm, and
/// nothing is left.
#[test]
#[ignore = "needs root and iproute2/nftables (CI runs it)"]
fn toxics_on_workers_links_leave_every_answer_exact_or_declared_partial() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let results = faulted_run(
        dir.path(),
        &["[[fault]]\nat_s = 1\naction = \"link\"\ntarget = \"D\"\nduration_s = 3\ntoxic = { type = \"reset_peer\", timeout_ms = 300 }\n",
        "[[fault]]\nat_s = 5\naction = \"link\"\ntarget = \"C\"\nduration_s = 2\ntoxic = { type = \"timeout\", timeout_ms = 800 }\n"].concat(),
    );
    let correctness = &results["strategies"][0]["steps"][0]["measure"]["correctness"];
    assert!(correctness["checked"].as_u64() > Some(0), "{correctness}");
    assert_eq!(correctness["wrong"], 0, "{correctness}");
    assert_eq!(correctness["partial_silent"], 0, "{correctness}");
    assert_eq!(
        fired_cleanly(&results).len(),
        4,
        "two faults and their heals"
    );
    // Both toxics cut their worker off, so the peers' declarations are detections of them,
    // not false alarms.
    let faults = &results["strategies"][0]["steps"][0]["faults"];
    assert_eq!(
        faults["detection"]["false_alarms"],
        serde_json::json!([]),
        "{faults}"
    );
}

/// The `results.json` under `dir` (one run).
fn find_results(dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "results.json") {
                return path;
            }
        }
    }
    panic!("no results.json under {}", dir.display());
}
