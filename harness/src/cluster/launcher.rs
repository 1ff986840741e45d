//! Starting the processes of a config on this machine, waiting until they answer, and
//! stopping them — also when the caller fails or panics (the cluster is stopped on drop).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use overlay::config::{ClusterConfig, NodeId};

pub use super::settings::{write_fresh_token, NodeSettings, TOKEN_FILE};
use crate::client::{fetch_with, ClientTls};
use crate::netns::VirtualHosts;

/// Lines of a node's log shown when it fails to start.
const LOG_TAIL_LINES: usize = 15;

/// Nodes whose logs are shown when several fail to answer at start-up.
const LOGS_SHOWN: usize = 3;

/// How long a node may take to exit after SIGTERM before it is killed.
pub const TERMINATE_GRACE: Duration = Duration::from_secs(5);

/// What to launch.
#[derive(Clone, Debug)]
pub struct LaunchOptions {
    /// The cluster config file.
    pub config_path: PathBuf,
    /// The dataset root every node reads, unless `node_dataset_roots` names another for it.
    pub dataset_root: PathBuf,
    /// Per-node dataset roots that replace `dataset_root` for those nodes (tests of nodes
    /// whose data differ).
    pub node_dataset_roots: BTreeMap<NodeId, PathBuf>,
    /// The `overlay-node` executable.
    pub node_binary: PathBuf,
    /// Where each node's log goes (`<id>.log`).
    pub log_dir: PathBuf,
    /// Settings every node gets, turned into its flags here.
    pub settings: NodeSettings,
    /// Further arguments for every node, passed as given (after those of `settings`).
    pub extra_args: Vec<String>,
    /// How long every node may take to answer.
    pub ready_timeout: Duration,
}

/// A node process this harness started.
#[derive(Debug)]
pub struct NodeProcess {
    /// Its id.
    pub id: NodeId,
    /// `host:port`.
    pub address: String,
    /// The child process, while it runs.
    pub child: Option<Child>,
    /// Its log file.
    pub log_path: PathBuf,
}

/// The processes of one config, started here. Dropping it kills whatever still runs.
#[derive(Debug)]
pub struct LocalCluster {
    /// The validated config.
    pub config: ClusterConfig,
    /// The processes by id.
    pub nodes: BTreeMap<NodeId, NodeProcess>,
    /// Where each node serves `/metrics` (`host:port`), when the settings ask for it.
    pub metrics_addresses: BTreeMap<NodeId, String>,
    options: LaunchOptions,
    /// How the launcher itself connects to the nodes (TLS when the launch asks for it).
    client_tls: Option<ClientTls>,
    /// The network namespace each process runs in (virtual hosts); none: this one.
    namespaces: BTreeMap<NodeId, String>,
    /// The virtual hosts the processes run on, removed after the processes are killed.
    hosts: Option<VirtualHosts>,
}

impl LocalCluster {
    /// Starts every process of the config and waits until each answers `GetMetrics`.
    /// On failure, stops what it started and names the nodes at fault with their log tails.
    pub async fn start(options: LaunchOptions) -> anyhow::Result<LocalCluster> {
        LocalCluster::start_in(options, BTreeMap::new()).await
    }

    /// As [`LocalCluster::start`], with the processes named in `namespaces` started inside
    /// those network namespaces (`ip netns exec`, see `netns`); the launcher then reaches them
    /// over the namespaces' network.
    pub async fn start_in(
        options: LaunchOptions,
        namespaces: BTreeMap<NodeId, String>,
    ) -> anyhow::Result<LocalCluster> {
        let config = ClusterConfig::load(&options.config_path)?;
        std::fs::create_dir_all(&options.log_dir)
            .with_context(|| format!("cannot create log folder {}", options.log_dir.display()))?;
        for process in config.processes.values() {
            let elsewhere = namespaces.contains_key(&process.id);
            if !elsewhere && std::net::TcpListener::bind(process.address()).is_err() {
                bail!("port {} for process {} is already in use (or the host is not this machine); stop what uses it or change the config", process.address(), process.id);
            }
        }
        let mut options = options;
        if !options
            .extra_args
            .iter()
            .any(|arg| arg.starts_with("--cluster-token-file"))
        {
            let token_file = write_fresh_token(&options.log_dir)?;
            options.extra_args.extend([
                "--cluster-token-file".to_string(),
                token_file.display().to_string(),
            ]);
        }
        let metrics_addresses = if options.settings.metrics {
            super::prometheus::metrics_addresses(&config)?
        } else {
            BTreeMap::new()
        };
        let mut cluster = LocalCluster {
            config: config.clone(),
            nodes: BTreeMap::new(),
            metrics_addresses,
            client_tls: ClientTls::load(&options.settings.tls)?,
            options,
            namespaces,
            hosts: None,
        };
        for process in config.processes.values() {
            let node = cluster.spawn(&process.id)?;
            cluster.nodes.insert(process.id.clone(), node);
        }
        let ids: Vec<NodeId> = cluster.nodes.keys().cloned().collect();
        cluster.wait_ready(&ids, true).await?;
        Ok(cluster)
    }

    /// Hands the cluster the virtual hosts its processes run on, so they are removed when
    /// it stops or is dropped, after its processes.
    pub fn with_hosts(mut self, hosts: Option<VirtualHosts>) -> Self {
        self.hosts = hosts;
        self
    }

    /// The virtual hosts the processes run on, if any.
    pub fn hosts(&self) -> Option<&VirtualHosts> {
        self.hosts.as_ref()
    }

    /// The file holding this cluster's secret (see [`write_fresh_token`]).
    pub fn token_file(&self) -> PathBuf {
        self.options.log_dir.join(TOKEN_FILE)
    }

    fn spawn(&self, id: &NodeId) -> anyhow::Result<NodeProcess> {
        let process = self.config.process(id).context("unknown node")?;
        let log_path = self.options.log_dir.join(format!("{id}.log"));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut command = match self.namespaces.get(id) {
            Some(namespace) => {
                let mut command = Command::new("ip");
                command
                    .args(["netns", "exec", namespace])
                    .arg(&self.options.node_binary);
                command
            }
            None => Command::new(&self.options.node_binary),
        };
        let child = command
            .arg(&self.options.config_path)
            .arg(id.as_str())
            .arg("--dataset-root")
            .arg(
                self.options
                    .node_dataset_roots
                    .get(id)
                    .unwrap_or(&self.options.dataset_root),
            )
            .arg("--worker-threads")
            .arg(self.worker_threads().to_string())
            .args(self.options.settings.args())
            .args(
                self.metrics_addresses
                    .get(id)
                    .map(|address| ["--metrics-addr".to_string(), address.clone()])
                    .into_iter()
                    .flatten(),
            )
            .args(&self.options.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} for process {id}",
                    self.options.node_binary.display()
                )
            })?;
        Ok(NodeProcess {
            id: id.clone(),
            address: process.address(),
            child: Some(child),
            log_path,
        })
    }

    /// Worker threads per node: the machine's cores divided among the local nodes (at least
    /// one), so co-located nodes do not each run a thread per core and thrash the scheduler.
    fn worker_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.config.processes.len().max(1)).max(1)
    }

    /// Waits until the given nodes answer, or fails naming those that exited or never answered.
    /// With `settled`, a node counts as ready only once its membership view holds every process
    /// of the config alive and it sees no peer as failed: a node does not declare a peer it has
    /// never heard from (still starting), so until then it would not notice that peer dying.
    pub async fn wait_ready(&mut self, ids: &[NodeId], settled: bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.options.ready_timeout;
        let mut waiting: Vec<NodeId> = ids.to_vec();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for id in waiting {
                if let Some(exit) = self.exited(&id) {
                    let tail = log_tail(&self.nodes[&id].log_path);
                    self.kill_all();
                    bail!("node {id} exited during start-up ({exit}); last log lines:\n{tail}");
                }
                let address = &self.nodes[&id].address;
                if !answers(address, self.client_tls.as_ref(), settled).await {
                    still.push(id);
                }
            }
            waiting = still;
            if !waiting.is_empty() && Instant::now() > deadline {
                let names: Vec<&str> = waiting.iter().map(NodeId::as_str).collect();
                let tails = some_logs(
                    &waiting,
                    |id| log_tail(&self.nodes[id].log_path),
                    &self.options.log_dir,
                );
                self.kill_all();
                bail!(
                    "nodes {} did not answer within {:?}; their logs end with:\n{}",
                    names.join(", "),
                    self.options.ready_timeout,
                    tails
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn exited(&mut self, id: &NodeId) -> Option<String> {
        let child = self.nodes.get_mut(id)?.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The address of a node.
    pub fn address(&self, id: &str) -> Option<&str> {
        self.nodes
            .get(&NodeId(id.to_string()))
            .map(|n| n.address.as_str())
    }

    /// The leader's address.
    pub fn leader_address(&self) -> String {
        self.config.leader().address()
    }

    /// Sends a signal to a running node (SIGKILL, SIGSTOP, SIGCONT, SIGTERM). After SIGKILL
    /// the process is reaped at once (it cannot linger); SIGTERM is only sent: the node takes
    /// its shutdown grace to exit, so [`LocalCluster::terminate`] is the graceful stop.
    pub fn signal(&mut self, id: &NodeId, signal: i32) -> anyhow::Result<()> {
        let child = self
            .nodes
            .get_mut(id)
            .and_then(|n| n.child.as_mut())
            .with_context(|| format!("node {id} is not running"))?;
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        let result = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        if result != 0 {
            bail!(
                "cannot signal node {id}: {}",
                std::io::Error::last_os_error()
            );
        }
        if signal == libc::SIGKILL {
            let _ = child.wait();
            if let Some(node) = self.nodes.get_mut(id) {
                node.child = None;
            }
        }
        Ok(())
    }

    /// Stops a running node gracefully: SIGTERM, then waits for it to exit without blocking
    /// the runtime, and kills it if it is still there after [`TERMINATE_GRACE`].
    pub async fn terminate(&mut self, id: &NodeId) -> anyhow::Result<()> {
        self.signal(id, libc::SIGTERM)?;
        let deadline = Instant::now() + TERMINATE_GRACE;
        loop {
            let child = self
                .nodes
                .get_mut(id)
                .and_then(|n| n.child.as_mut())
                .with_context(|| format!("node {id} is not running"))?;
            let exited = child
                .try_wait()
                .with_context(|| format!("cannot wait for node {id} to exit"))?
                .is_some();
            if exited {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "node {id} still runs {TERMINATE_GRACE:?} after SIGTERM; killing it"
                );
                return self.signal(id, libc::SIGKILL);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.child = None;
        }
        Ok(())
    }

    /// Starts a stopped node again and waits until it answers.
    pub async fn restart(&mut self, id: &NodeId) -> anyhow::Result<()> {
        if self.nodes.get(id).is_some_and(|n| n.child.is_some()) {
            self.signal(id, libc::SIGKILL)?;
        }
        let node = self.spawn(id)?;
        self.nodes.insert(id.clone(), node);
        self.wait_ready(std::slice::from_ref(id), false).await
    }

    /// Whether the harness's process for `id` is running (not killed or stopped by it).
    pub fn is_running(&self, id: &NodeId) -> bool {
        self.nodes.get(id).is_some_and(|n| n.child.is_some())
    }

    /// Process ids of the running nodes.
    pub fn pids(&self) -> BTreeMap<String, u32> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.child.as_ref().map(|c| (id.0.clone(), c.id())))
            .collect()
    }

    /// Asks every node to stop (SIGTERM), waits briefly, then kills what remains.
    pub fn stop(mut self) {
        self.stop_all(Duration::from_secs(5));
    }

    /// Leaves the processes running and forgets them (for `cluster up`).
    pub fn detach(mut self) -> BTreeMap<String, u32> {
        if let Some(hosts) = self.hosts.take() {
            hosts.keep();
        }
        let pids = self.pids();
        for node in self.nodes.values_mut() {
            node.child = None;
        }
        pids
    }

    fn stop_all(&mut self, grace: Duration) {
        for node in self.nodes.values_mut() {
            if let Some(child) = node.child.as_mut() {
                if matches!(child.try_wait(), Ok(None)) {
                    // SAFETY: SIGCONT then SIGTERM to a child we started (a paused node must
                    // run again to handle SIGTERM).
                    unsafe {
                        libc::kill(child.id() as libc::pid_t, libc::SIGCONT);
                        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                    }
                }
            }
        }
        let deadline = Instant::now() + grace;
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    fn kill_all(&mut self) {
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Whether the node answers (and, when `settled`, holds every process alive in its membership
/// view and sees no peer as failed).
async fn answers(address: &str, tls: Option<&ClientTls>, settled: bool) -> bool {
    match fetch_with(address, tls).await {
        Ok(metrics) => {
            let everyone = metrics.neighbors.len() + 1;
            !settled
                || (metrics
                    .membership
                    .as_ref()
                    .is_some_and(|m| usize::try_from(m.members_alive) == Ok(everyone))
                    && metrics.neighbors.iter().all(|n| n.status != "failed"))
        }
        Err(_) => false,
    }
}

/// The log tails of the first few of `nodes` (`tail` reads one), and the folder of the
/// rest: a large cluster's logs would bury the message under thousands of lines.
fn some_logs(nodes: &[NodeId], tail: impl Fn(&NodeId) -> String, log_dir: &Path) -> String {
    let mut parts: Vec<String> = nodes
        .iter()
        .take(LOGS_SHOWN)
        .map(|id| format!("--- {id}:\n{}", tail(id)))
        .collect();
    if nodes.len() > LOGS_SHOWN {
        parts.push(format!(
            "--- and {} more nodes; every log is in {}",
            nodes.len() - LOGS_SHOWN,
            log_dir.display()
        ));
    }
    parts.join("\n")
}

/// The last lines of a log file (or a note that it cannot be read).
pub fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_logs_are_shown_and_the_rest_are_named_by_folder() {
        let ids = |n: usize| -> Vec<NodeId> { (0..n).map(|i| NodeId(format!("N{i}"))).collect() };
        let tail = |id: &NodeId| format!("log of {id}");
        let few = some_logs(&ids(2), tail, Path::new("logs"));
        assert_eq!(few, "--- N0:\nlog of N0\n--- N1:\nlog of N1");
        let many = some_logs(&ids(40), tail, Path::new("logs"));
        assert_eq!(many.matches("log of").count(), LOGS_SHOWN);
        assert!(
            many.ends_with("--- and 37 more nodes; every log is in logs"),
            "{many}"
        );
    }
}
