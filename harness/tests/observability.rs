//! What standard tools read from the harness and a cluster: logs without colour escapes when
//! they go to a pipe, JSON log lines with `--log-format json`.

use std::process::Command;

/// Runs `harness ARGS metrics --node <closed port>` with debug logs; its stderr (a pipe).
fn harness_log(args: &[&str]) -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .args(["metrics", "--node", &closed.to_string()])
        .env("RUST_LOG", "debug")
        .output()
        .expect("harness runs");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn harness_logs_to_a_pipe_carry_no_colour_and_json_lines_parse() {
    let text = harness_log(&[]);
    assert!(text.contains("DEBUG"), "{text}");
    assert!(
        !text.contains("\x1b["),
        "colour escapes in a pipe: {text:?}"
    );
    let json = harness_log(&["--log-format", "json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    assert!(lines.iter().any(|line| line["level"] == "DEBUG"), "{json}");
    assert!(!json.contains("\x1b["), "{json:?}");
}

mod common;

use std::time::{Duration, Instant};

use overlay::proto::RecordFormat;
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use overlay_harness::cluster::prometheus::{scrape_config, ScrapeTarget};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// A process this test started, killed and reaped when dropped.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET http://{address}{path}` over plain HTTP/1.1; the body.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("HTTP port answers");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("headers end");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    body.to_string()
}

/// One PromQL instant query through Prometheus's HTTP API; the first sample's value.
fn promql(address: &str, query: &str) -> Option<f64> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = http_get(address, &format!("/api/v1/query?query={encoded}"));
    let json: serde_json::Value = serde_json::from_str(&body).expect("API answers JSON");
    assert_eq!(json["status"], "success", "{body}");
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn free_address() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .to_string()
}

/// Closed-loop load on `leader` for `seconds` from `lanes` tasks; every latency in seconds.
async fn load(leader: &str, seconds: f64, lanes: usize) -> Vec<f64> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..lanes)
        .map(|_| {
            let leader = leader.to_string();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let outcome = common::ask(
                        &leader,
                        "filter",
                        r#"{"parameter":"PM2.5","limit":50}"#,
                        RecordFormat::Typed,
                    )
                    .await;
                    assert_eq!(outcome.status, "ready");
                    latencies.push(started.elapsed().as_secs_f64());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("lane ends"));
    }
    all
}

#[tokio::test]
#[ignore = "needs the prometheus package (apt-get install prometheus)"]
async fn prometheus_scrapes_the_cluster_and_agrees_with_the_harness() {
    if !std::path::Path::new(PROMETHEUS).exists() {
        assert!(std::env::var("CI").is_err(), "CI must install prometheus");
        println!("skipped: {PROMETHEUS} is not installed (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped =
        std::fs::read_to_string(common::workspace_root().join("configs/one_host_config.json"))
            .expect("config");
    let config_path = dir.path().join("cluster.json");
    std::fs::write(
        &config_path,
        common::free_port_config(&shipped, Default::default()),
    )
    .expect("config written");
    let cluster = LocalCluster::start(LaunchOptions {
        config_path,
        dataset_root: common::small_dataset().to_path_buf(),
        node_dataset_roots: Default::default(),
        node_binary: node_binary(false).expect("overlay-node is built by cargo test"),
        log_dir: dir.path().join("logs"),
        settings: NodeSettings {
            metrics: true,
            ..NodeSettings::default()
        },
        extra_args: Vec::new(),
        ready_timeout: Duration::from_secs(90),
    })
    .await
    .expect("cluster starts");
    let leader_id = cluster
        .config
        .processes
        .values()
        .find(|p| cluster.leader_address() == p.address())
        .map(|p| p.id.0.clone())
        .expect("leader");
    let targets: Vec<ScrapeTarget> = cluster
        .metrics_addresses
        .iter()
        .map(|(id, address)| ScrapeTarget {
            node: id.0.clone(),
            team: cluster
                .config
                .process(id)
                .map(|p| p.team.clone())
                .unwrap_or_default(),
            address: address.clone(),
        })
        .collect();
    assert_eq!(targets.len(), 6);
    let yaml = dir.path().join("prometheus.yml");
    std::fs::write(&yaml, scrape_config(&targets, 1)).expect("scrape config written");
    let web = free_address();
    let _prometheus = Reaped(
        std::process::Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", yaml.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).expect("log"))
            .spawn()
            .expect("prometheus starts"),
    );
    // Prometheus up and scraping every node.
    let started = Instant::now();
    loop {
        let up = std::net::TcpStream::connect(&web)
            .ok()
            .and_then(|_| promql(&web, "sum(up)"));
        if up == Some(6.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "targets not up: {up:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let load_s = 8.0;
    let mut latencies = load(&cluster.leader_address(), load_s, 4).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    latencies.sort_by(f64::total_cmp);
    let sent = latencies.len() as f64;
    let p99 = latencies[((sent * 0.99) as usize).min(latencies.len() - 1)];
    let admitted = promql(
        &web,
        &format!("sum(overlay_team_admitted_total{{node='{leader_id}'}})"),
    )
    .expect("admitted counter");
    assert!(
        admitted >= sent && admitted <= sent + 10.0,
        "admitted {admitted}, sent {sent}"
    );
    let rate = promql(
        &web,
        &format!(
            "sum by (team) (rate(overlay_team_admitted_total{{node='{leader_id}'}}[{}s]))",
            load_s as u32 + 2
        ),
    )
    .expect("admission rate");
    let measured_rate = sent / load_s;
    assert!(
        rate > measured_rate * 0.4 && rate < measured_rate * 2.0,
        "Prometheus rate {rate}/s, harness {measured_rate}/s"
    );
    let prom_p99 = promql(
        &web,
        &format!("histogram_quantile(0.99, sum by (le) (rate(rpc_server_duration_seconds_bucket{{node='{leader_id}',rpc_method='Query'}}[{}s])))", load_s as u32 + 2),
    )
    .expect("p99");
    assert!(
        prom_p99 > 0.0 && prom_p99 <= p99 * 2.5 + 0.01,
        "Prometheus p99 {prom_p99} s, harness {p99} s"
    );
    println!("admitted {admitted} (sent {sent}); rate {rate:.1}/s vs {measured_rate:.1}/s; p99 {prom_p99:.4} s vs {p99:.4} s");
    let page = http_get(
        &cluster
            .metrics_addresses
            .values()
            .next()
            .expect("a node")
            .clone(),
        "/metrics",
    );
    let mut promtool = std::process::Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    std::io::Write::write_all(&mut promtool.stdin.take().expect("stdin"), page.as_bytes())
        .expect("page piped");
    let checked = promtool.wait_with_output().expect("promtool ends");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool: {} {}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
