//! Shared helper of the integration tests: a real cluster of `overlay-node` processes on free
//! loopback ports, stopped when the sandbox is dropped (also when a test fails).

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use overlay::config::NodeId;
use overlay::proto::RecordFormat;
use overlay_harness::client::{connect, run_query, QueryOutcome, QuerySpec};
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::cluster::config::{derive, ConfigSettings};
use overlay_harness::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use overlay_harness::data::generate::{generate, GenerateOptions};
use overlay_harness::run::RunOptions;
use serde_json::{Map, Value};
use tempfile::TempDir;

/// What `harness run` is asked by a test: `workload` into `out`, serving `data`, the node
/// binary already built, no progress bars, nothing overridden.
pub fn run_options(workload: PathBuf, out: PathBuf, data: PathBuf) -> RunOptions {
    RunOptions {
        workload,
        out,
        strategies: None,
        concurrency: None,
        data_path: Some(data),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    }
}

/// The workspace root (the harness crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness has a parent")
        .to_path_buf()
}

/// A synthetic dataset generated once per test binary (scale 0.02 ≈ 23,000 rows).
pub fn small_dataset() -> &'static Path {
    static DATA: OnceLock<TempDir> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        generate(
            &GenerateOptions {
                root: dir.path().to_path_buf(),
                scale: 0.02,
                seed: 7,
            },
            |_, _| {},
        )
        .expect("generate");
        dir
    })
    .path()
}

/// A running cluster and the folder holding its config and logs.
pub struct Sandbox {
    pub cluster: LocalCluster,
    pub dir: TempDir,
}

impl Sandbox {
    /// Starts the shipped six-process config on free ports with extra `strategies` settings.
    pub async fn start(dataset_root: &Path, strategies: Value, extra_args: &[&str]) -> Sandbox {
        Sandbox::start_with_roots(dataset_root, &[], strategies, extra_args).await
    }

    /// As [`Sandbox::start`], with some nodes (`(id, root)`) reading another dataset root.
    pub async fn start_with_roots(
        dataset_root: &Path,
        node_roots: &[(&str, &Path)],
        strategies: Value,
        extra_args: &[&str],
    ) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let shipped =
            std::fs::read_to_string(workspace_root().join("configs/one_host_config.json"))
                .expect("config");
        let strategies: Map<String, Value> = strategies.as_object().cloned().unwrap_or_default();
        let config_path = dir.path().join("cluster.json");
        std::fs::write(&config_path, free_port_config(&shipped, strategies)).expect("write config");
        let cluster = LocalCluster::start(LaunchOptions {
            config_path,
            dataset_root: dataset_root.to_path_buf(),
            node_dataset_roots: node_roots
                .iter()
                .map(|(id, root)| (NodeId(id.to_string()), root.to_path_buf()))
                .collect(),
            node_binary: node_binary(false)
                .expect("overlay-node is built by cargo test --workspace"),
            log_dir: dir.path().join("logs"),
            settings: NodeSettings::default(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            ready_timeout: Duration::from_secs(60),
        })
        .await
        .expect("cluster starts");
        Sandbox { cluster, dir }
    }

    pub fn leader(&self) -> String {
        self.cluster.leader_address()
    }
}

/// The config `text` with `strategies` written into its `strategies` block (as a user editing
/// the file would) and every process on a free loopback port, as the nodes read it.
pub fn free_port_config(text: &str, strategies: Map<String, Value>) -> String {
    let mut file: Value = serde_json::from_str(text).expect("config is JSON");
    let block = file
        .as_object_mut()
        .expect("config is an object")
        .entry("strategies")
        .or_insert_with(|| Value::Object(Map::new()));
    block
        .as_object_mut()
        .expect("strategies is an object")
        .extend(strategies);
    let settings = ConfigSettings {
        free_ports: true,
        ..Default::default()
    };
    derive(&file.to_string(), &settings)
        .and_then(|derived| derived.text())
        .expect("derived config")
}

/// Runs one query against a node and drains it.
pub async fn ask(
    address: &str,
    query_type: &str,
    params: &str,
    format: RecordFormat,
) -> QueryOutcome {
    let mut client = connect(address).await.expect("connect");
    let spec = QuerySpec {
        query_type: query_type.to_string(),
        params: params.to_string(),
        format,
        chunk_size: 0,
        client_id: "test".to_string(),
    };
    run_query(&mut client, &spec).await.expect("query runs")
}

/// The shipped `failover.toml` cut down for a test: renamed `name`, `seconds` measured after
/// half a second of warm-up at `concurrency`, with `faults` (`[[fault]]` tables) instead of
/// the shipped schedule. Written into `dir`; returns the file.
pub fn short_failover_workload(
    dir: &Path,
    name: &str,
    seconds: u32,
    concurrency: u32,
    faults: &str,
) -> PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("workloads/failover.toml"))
        .expect("shipped failover workload");
    let head = shipped
        .split("[[fault]]")
        .next()
        .expect("text before the schedule");
    let text = head
        .replace("name = \"failover\"", &format!("name = \"{name}\""))
        .replace("duration_s = 30", &format!("duration_s = {seconds}"))
        .replace("warmup_s = 2", "warmup_s = 0.5")
        .replace(
            "concurrency = [16]",
            &format!("concurrency = [{concurrency}]"),
        )
        + faults;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write workload");
    path
}
