//! `harness run` whose output readers go away (piped into `head`, a terminal closed): the run
//! must not die of SIGPIPE with its nodes left running. It finishes, or at worst fails, through
//! its cleanup, and no node it started outlives it.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{small_dataset, workspace_root};
use overlay_harness::cluster::binary::node_binary;

/// Pids of live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| String::from_utf8_lossy(&raw).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_run_whose_output_pipes_close_leaves_no_node_running() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = workspace_root().join("configs/one_host_config.json");
    let workload = std::fs::read_to_string(workspace_root().join("workloads/smoke.toml"))
        .expect("smoke workload")
        .replace(
            "configs/one_host_config.json",
            &config.display().to_string(),
        )
        .replace("enabled = true", "enabled = false");
    let workload_path = tmp.path().join("w.toml");
    std::fs::write(&workload_path, workload).expect("write workload");
    let out = tmp.path().join("out");

    let mut harness = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("run")
        .arg(&workload_path)
        .arg("--out")
        .arg(&out)
        .arg("--data")
        .arg(small_dataset())
        .args(["--strategies", "strict", "--concurrency", "2"])
        .env(
            "OVERLAY_NODE_BIN",
            node_binary(false).expect("overlay-node"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start harness");
    // Close both readers at once: every line the harness writes now meets a broken pipe.
    drop(harness.stdout.take());
    drop(harness.stderr.take());

    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = harness.try_wait().expect("wait harness") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = harness.kill();
            let _ = harness.wait();
            panic!("harness run did not end within 180 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // The nodes' command lines name the run's folder (their config and cluster secret).
    let needle = out.display().to_string();
    let gone_by = Instant::now() + Duration::from_secs(15);
    let mut left = processes_mentioning(&needle);
    while !left.is_empty() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(200));
        left = processes_mentioning(&needle);
    }
    for pid in &left {
        // SAFETY: plain kill(2) on pids this test's harness started.
        unsafe {
            libc::kill(*pid as i32, libc::SIGKILL);
        }
    }
    assert_ne!(
        status.signal(),
        Some(libc::SIGPIPE),
        "the harness died of SIGPIPE (nodes it left: {left:?})"
    );
    assert!(left.is_empty(), "nodes left running: {left:?}");
    assert!(
        status.success(),
        "the run itself should complete with its output gone: {status}"
    );
    assert!(
        std::fs::read_dir(&out)
            .map(|d| d.count() > 0)
            .unwrap_or(false),
        "the run wrote its reports"
    );
}
