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
