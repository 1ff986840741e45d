//! What the node binary tests share: a config for one node, a node process that is reaped
//! even when a test fails, free ports, and running the binary to its exit.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use overlay::proto::overlay_node_client::OverlayNodeClient;

pub const NODE: &str = env!("CARGO_BIN_EXE_overlay-node");

pub fn single_node_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("single.json");
    let config = format!(
        r#"{{"processes": {{"A": {{"id": "A", "role": "leader", "team": "green", "host": "127.0.0.1", "port": {port}, "neighbors": []}}}}}}"#
    );
    std::fs::write(&path, config).expect("write config");
    path
}

/// A node process this test started, killed and reaped when dropped, so a failing assertion
/// never leaves it running.
pub struct NodeProcess(pub std::process::Child);

impl std::ops::Deref for NodeProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for NodeProcess {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Runs the node to its exit (killed, and the test failed, if it runs past 30 s); its exit
/// code and stderr.
pub fn exit_of(args: &[&str]) -> (Option<i32>, String) {
    let log = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = NodeProcess(
        Command::new(NODE)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.reopen().expect("temp file")))
            .spawn()
            .expect("node runs"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("node status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "node {args:?} did not exit within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
    (status.code(), stderr)
}

/// Starts a node of `config` and waits until it answers.
pub async fn start_node(
    config: &Path,
    data: &Path,
    port: u16,
    extra: &[&str],
    stderr: Stdio,
) -> (NodeProcess, OverlayNodeClient<tonic::transport::Channel>) {
    let mut child = NodeProcess(
        Command::new(NODE)
            .arg(config)
            .arg("A")
            .arg("--dataset-root")
            .arg(data)
            .args(extra)
            .stderr(stderr)
            .spawn()
            .expect("node starts"),
    );
    let address = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        match OverlayNodeClient::connect(address.clone()).await {
            Ok(client) => return (child, client),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(err) => {
                let _ = child.kill();
                panic!("node never answered: {err}");
            }
        }
    }
}
