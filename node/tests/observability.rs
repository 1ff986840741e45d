//! What standard tools read from a node: logs without colour escapes when they go to a file,
//! JSON log lines with `--log-format json`, gRPC server reflection.

use std::process::Stdio;
use std::time::Duration;

use overlay::proto::MetricsRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

mod common;
use common::*;

/// Starts a node logging to a file with `extra` flags, asks it once, stops it; its stderr.
async fn log_of_a_short_run(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data folder");
    let port = free_port();
    let config = single_node_config(dir.path(), port);
    let log = dir.path().join("stderr.log");
    let stderr = Stdio::from(std::fs::File::create(&log).expect("log file"));
    let (mut child, mut client) =
        start_node(&config, &dir.path().join("data"), port, extra, stderr).await;
    client
        .get_metrics(MetricsRequest {})
        .await
        .expect("metrics answer");
    // SAFETY: SIGTERM to the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    for _ in 0..500 {
        if child.try_wait().expect("node status").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::read_to_string(&log).expect("log readable")
}

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_escapes() {
    let log = log_of_a_short_run(&[]).await;
    assert!(log.lines().count() >= 2, "{log}");
    assert!(log.contains(" INFO "), "{log}");
    assert!(!log.contains("\x1b["), "colour escapes in a file: {log:?}");
}

#[tokio::test]
async fn json_log_lines_parse_with_level_and_message() {
    let log = log_of_a_short_run(&["--log-format", "json"]).await;
    assert!(log.lines().count() >= 2, "{log}");
    for line in log.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["timestamp"].is_string(), "{line}");
        assert!(value["message"].is_string(), "{line}");
    }
    assert!(!log.contains("\x1b["), "{log:?}");
    let (code, stderr) = exit_of(&["x.json", "A", "--log-format", "yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown log format 'yaml'"), "{stderr}");
}

/// One reflection request on a fresh stream; its answer.
async fn reflect(address: &str, request: MessageRequest) -> MessageResponse {
    let channel = tonic::transport::Endpoint::from_shared(address.to_string())
        .expect("an address")
        .connect()
        .await
        .expect("reflection connects");
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    answers
        .message()
        .await
        .expect("an answer")
        .expect("one message")
        .message_response
        .expect("a response")
}

#[tokio::test]
async fn reflection_lists_every_service_and_describes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data folder");
    let port = free_port();
    let config = single_node_config(dir.path(), port);
    let (_child, _client) =
        start_node(&config, &dir.path().join("data"), port, &[], Stdio::null()).await;
    let address = format!("http://127.0.0.1:{port}");
    let MessageResponse::ListServicesResponse(list) =
        reflect(&address, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "OverlayControl",
            "OverlayNode",
            "OverlayPeer",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection"
        ]
    );
    for symbol in ["OverlayNode", "MetricsResponse", "grpc.health.v1.Health"] {
        let MessageResponse::FileDescriptorResponse(files) = reflect(
            &address,
            MessageRequest::FileContainingSymbol(symbol.to_string()),
        )
        .await
        else {
            panic!("{symbol}: not a file descriptor");
        };
        assert!(!files.file_descriptor_proto.is_empty(), "{symbol}");
    }
}

/// `GET path` on `address` over plain HTTP/1.1; the status line and the body.
fn http_get(address: &str, path: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("metrics port answers");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("headers end");
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

#[tokio::test]
async fn metrics_page_counts_rpcs_teams_and_the_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data folder");
    let port = free_port();
    let metrics = format!("127.0.0.1:{}", free_port());
    let config = single_node_config(dir.path(), port);
    let (_child, mut client) = start_node(
        &config,
        &dir.path().join("data"),
        port,
        &["--metrics-addr", &metrics],
        Stdio::null(),
    )
    .await;
    for _ in 0..3 {
        client
            .get_metrics(MetricsRequest {})
            .await
            .expect("metrics answer");
    }
    let (status, page) = http_get(&metrics, "/metrics");
    assert!(status.contains("200"), "{status}");
    for expected in [
        r#"rpc_server_duration_seconds_count{rpc_system="grpc",rpc_service="OverlayNode",rpc_method="GetMetrics",rpc_grpc_status_code="0"} 3"#,
        r#"overlay_node_state{state="healthy"} 1"#,
        "# TYPE overlay_routing_peer_calls_total counter",
        "overlay_result_cache_entries ",
        "overlay_rows_loaded 0",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_cpu_seconds_total ",
    ] {
        assert!(page.contains(expected), "{expected} missing:\n{page}");
    }
    assert!(http_get(&metrics, "/other").0.contains("404"));
}

#[test]
fn a_metrics_address_that_cannot_be_bound_stops_the_node_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data folder");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken = taken.local_addr().expect("address").to_string();
    let config = single_node_config(dir.path(), free_port());
    let data = dir.path().join("data");
    let (code, stderr) = exit_of(&[
        config.to_str().expect("path"),
        "A",
        "--dataset-root",
        data.to_str().expect("path"),
        "--metrics-addr",
        &taken,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot serve metrics on --metrics-addr {taken}")),
        "{stderr}"
    );
}
