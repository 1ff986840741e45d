//! The `overlay-node` binary as a user meets it: helpful errors for bad configs, unknown ids and
//! missing data, and a single-node cluster that survives broken CSV rows and stops on SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use overlay::proto::{MetricsRequest, QueryRequest};

mod common;
use common::*;

fn run_to_error(args: &[&str]) -> String {
    let (code, stderr) = exit_of(args);
    assert_ne!(code, Some(0), "expected failure for {args:?}");
    stderr
}

#[test]
fn bad_start_up_input_is_named_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = single_node_config(dir.path(), free_port());
    let config = config.to_str().unwrap();
    let stderr = run_to_error(&[config, "Z", "--dataset-root", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains("process 'Z' is not in") && stderr.contains("known: A"),
        "{stderr}"
    );
    let stderr = run_to_error(&[config, "A", "--dataset-root", "/no/such/folder"]);
    assert!(
        stderr.contains("dataset root /no/such/folder does not exist")
            && stderr.contains("harness data generate"),
        "{stderr}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"processes": {"A": {"role": "boss", "team": "green", "host": "h", "port": 1}}}"#,
    )
    .unwrap();
    let stderr = run_to_error(&[broken.to_str().unwrap(), "A"]);
    assert!(
        stderr.contains("process A: field role: unknown role 'boss'")
            && stderr.contains("broken.json"),
        "{stderr}"
    );
    let stderr = run_to_error(&[config, "A", "--fairness-strategy", "fastest"]);
    assert!(
        stderr.contains("unknown fairness strategy 'fastest'"),
        "{stderr}"
    );
    let help = Command::new(NODE).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--dataset-root"));
}

#[tokio::test]
async fn no_default_hooks_registers_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = single_node_config(dir.path(), port);
    let (mut child, mut client) = start_node(
        &config,
        &dir.path().join("data"),
        port,
        &["--no-default-hooks"],
        Stdio::null(),
    )
    .await;
    let metrics = client.get_metrics(MetricsRequest {}).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metrics.unwrap().into_inner().hooks.unwrap().registered, 0);
}

#[tokio::test]
async fn broken_rows_are_skipped_and_sigterm_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("data/20200810");
    std::fs::create_dir_all(&day).unwrap();
    let good = r#""41.75613","-124.20347","2020-08-10T01:00","PM2.5","17.3","UG/M3","18.0","62","2","Rangely, CO","Agency","840060150007","840060150007""#;
    let impossible = [
        good.replace("41.75613", "999"),
        good.replace("T01:00", "T03:00"),
        good.replace("-124.20347", "-999"),
        good.replace("2020-08-10T01:00", "2020-08-32T01:00"),
        good.replace("\"62\"", "\"-7\""),
    ];
    let rows = format!(
        "{good}\n{}\n{good}\n\"1\",\"2\",\"3\"\n\"41.7\",\"-124.2\",\"2020-08-10T01:00\",\"PM2.5\",\"abc\"",
        impossible.join("\n")
    );
    std::fs::write(day.join("20200810-01.csv"), rows).unwrap();
    let port = free_port();
    let config = single_node_config(dir.path(), port);
    let log = dir.path().join("stderr.log");
    let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
    let data = dir.path().join("data");
    let (mut child, mut client) = start_node(&config, &data, port, &[], stderr).await;
    let metrics = client
        .get_metrics(MetricsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            metrics.rows_loaded,
            metrics.rows_skipped,
            metrics.data_files_loaded
        ),
        (2, 7, 1)
    );
    let csv = day.join("20200810-01.csv").display().to_string();
    let by_reason: Vec<(&str, i64, &str)> = metrics
        .skipped_rows
        .iter()
        .map(|rows| (rows.reason.as_str(), rows.count, rows.first.as_str()))
        .collect();
    let first = |line: usize, why: &str| format!("{csv}:{line}: {why}");
    assert_eq!(
        by_reason,
        [
            ("malformed", 2, first(8, "has 3 fields, expected 13").as_str()),
            ("coordinates", 2, first(2, "latitude 999 is outside [-90, 90]").as_str()),
            ("timestamp", 2, first(3, "timestamp '2020-08-10T03:00' is not a time of this file (expected 2020-08-10T01:MM)").as_str()),
            ("schema", 1, first(6, "aqi '-7' is impossible (allowed: 0 or more, or -999)").as_str()),
        ]
    );
    let filter = client
        .query(QueryRequest {
            query_type: "filter".into(),
            query_params: "{}".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((filter.status.as_str(), filter.total_records), ("ready", 2));
    // The original's default hooks are registered without any flag.
    assert_eq!(metrics.hooks.expect("hook stats").registered, 1);
    let answer = client
        .query(QueryRequest {
            query_type: "aggregate".into(),
            query_params: r#"{"op":"sum"}"#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((answer.status.as_str(), answer.total_records), ("ready", 1));
    // SAFETY: SIGTERM to the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("node ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "graceful exit, got {status}");
    let log = std::fs::read_to_string(&log).unwrap();
    for reason in ["malformed", "coordinates", "timestamp", "schema"] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(&format!("row(s) as {reason}; first at {csv}:")))
            .collect();
        assert_eq!(lines.len(), 1, "{reason}: {log}");
    }
    assert!(
        log.contains("A skipped 2 row(s) as coordinates; first at"),
        "{log}"
    );
}

#[test]
fn an_unresolvable_host_and_a_file_as_root_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nowhere.json");
    std::fs::write(
        &config,
        r#"{"processes": {"A": {"id": "A", "role": "leader", "team": "green", "host": "no-such-host.invalid", "port": 1, "neighbors": []}}}"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let started = Instant::now();
    let (code, stderr) = exit_of(&[config, "A", "--dataset-root", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("host 'no-such-host.invalid' does not resolve"),
        "{stderr}"
    );
    assert!(!stderr.contains("in use"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let config = single_node_config(dir.path(), free_port());
    let config = config.to_str().unwrap();
    let (code, stderr) = exit_of(&[config, "A", "--dataset-root", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "dataset root {} is a file, not a folder",
            file.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test]
async fn an_empty_root_and_an_unresolvable_peer_warn_once_and_the_node_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("empty");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let config = dir.path().join("peer.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"processes": {{
                "A": {{"id": "A", "role": "leader", "team": "green", "host": "127.0.0.1", "port": {port}, "neighbors": ["B"]}},
                "B": {{"id": "B", "role": "team_leader", "team": "green", "host": "no-such-host.invalid", "port": 1, "neighbors": []}}
            }}}}"#
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
    let (mut child, mut client) = start_node(&config, &data, port, &[], stderr).await;
    let metrics = client.get_metrics(MetricsRequest {}).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metrics.unwrap().into_inner().rows_loaded, 0);
    let log = std::fs::read_to_string(&log).unwrap();
    let empty: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("has no day folders"))
        .collect();
    assert_eq!(empty.len(), 1, "{log}");
    assert!(empty[0].contains("WARN") && empty[0].contains(&data.display().to_string()));
    assert!(!log.contains("missing or unreadable under"), "{log}");
    let peer: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("peer B at host 'no-such-host.invalid' does not resolve"))
        .collect();
    assert_eq!(peer.len(), 1, "{log}");
    assert!(peer[0].contains("WARN"), "{log}");
}

/// A config naming a host address this machine does not have (TEST-NET-1).
fn foreign_host_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("foreign.json");
    let config = format!(
        r#"{{"processes": {{"A": {{"id": "A", "role": "leader", "team": "green", "host": "192.0.2.1", "port": {port}, "neighbors": []}}}}}}"#
    );
    std::fs::write(&path, config).expect("write config");
    path
}

#[test]
fn a_bind_error_names_the_address_and_comes_before_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = foreign_host_config(dir.path(), port);
    // The dataset root does not exist either: the bind is tried first, so its error is the one.
    let (code, stderr) = exit_of(&[
        config.to_str().unwrap(),
        "A",
        "--dataset-root",
        "/no/such/folder",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 192.0.2.1:{port} (process A)"))
            && stderr.contains("192.0.2.1 is not an address of this machine"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("in use") && !stderr.contains("dataset root"),
        "{stderr}"
    );
    let stderr = run_to_error(&[config.to_str().unwrap(), "A", "--listen", "0.0.0.0:0"]);
    assert!(
        stderr.contains("--listen '0.0.0.0:0'") && stderr.contains("HOST:PORT"),
        "{stderr}"
    );
}

#[tokio::test]
async fn listen_binds_another_address_while_the_config_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let port = free_port();
    let config = foreign_host_config(dir.path(), port);
    let data = dir.path().join("data");
    // Host alone: the configured port is kept.
    let (mut child, mut client) = start_node(
        &config,
        &data,
        port,
        &["--listen", "127.0.0.1"],
        Stdio::null(),
    )
    .await;
    let metrics = client.get_metrics(MetricsRequest {}).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metrics.expect("metrics").into_inner().process_id, "A");
    // Host and port: both replaced.
    let other = free_port();
    let listen = format!("127.0.0.1:{other}");
    let (mut child, mut client) =
        start_node(&config, &data, other, &["--listen", &listen], Stdio::null()).await;
    let metrics = client.get_metrics(MetricsRequest {}).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metrics.expect("metrics").into_inner().process_id, "A");
}
