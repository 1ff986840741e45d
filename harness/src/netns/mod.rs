//! Virtual hosts: each distinct host of a config in its own Linux network namespace, joined by
//! a bridge in a namespace of the run, with the harness reaching them over one veth link from
//! the main namespace. Nodes bind their configured addresses there unchanged; nothing has a
//! default route, so nothing outside the machine is reached or reachable.
//!
//! - [`layout`]: which hosts a config needs and what everything is called.
//! - [`shape`]: link latency, jitter, loss and rate between hosts, by netem or the proxy,
//!   nftables and htb.
//! - [`proxy`]: the TCP delay proxy that carries latency where the kernel has no netem.
//! - [`link_fault`]: latency, loss or a rate on some hosts' links for a fault's window.
//! - [`enter`]: sockets opened inside a host namespace from the harness's process.
//! - [`rules`]: network faults (partitions, loss) as nftables rules in the host namespaces.
//! - [`sys`]: the privilege and tool check, and running `ip`.
//!
//! Everything a run creates carries its run id (`ovl-<id>-...` namespaces, the `ovl<id>`
//! link), so removal finds exactly that run's pieces. [`VirtualHosts`] removes them when
//! dropped (end of run, error, Ctrl-C unwinding the run); [`remove_run`] cleans a run whose
//! process died (`harness cluster down --netns`).

pub mod enter;
pub mod layout;
pub mod link_fault;
pub mod proxy;
pub mod rules;
pub mod shape;
pub mod sys;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use overlay::config::{ClusterConfig, NodeId};

pub use layout::{Host, Layout, LayoutError};
pub use link_fault::{LinkFault, LinkHeld};
pub use rules::{Applied, Cut, NetFault, RuleError};
pub use shape::{LinkInForce, LinkSettings, Mechanism, Shaping};
pub use sys::SysError;

use sys::ip;

/// Why virtual hosts could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The config does not fit.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A network fault that does not fit the config.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Privilege, tools, or a command failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A node address would not be reached through the run's own link.
    #[error("refusing to start: the route from the harness to {address} goes {route}, not through the run's link {link}; remove the route or network that covers it (ip route show) and try again")]
    Route {
        /// The node address.
        address: Ipv4Addr,
        /// What `ip route get` said.
        route: String,
        /// The run's link.
        link: String,
    },
}

/// The namespaces and links of one run; removed when dropped unless [`VirtualHosts::keep`]
/// was called.
#[derive(Debug)]
pub struct VirtualHosts {
    layout: Layout,
    keep: bool,
    faults: std::sync::atomic::AtomicU32,
    shaped: shape::Shaped,
}

impl VirtualHosts {
    /// Checks privilege and tools, then creates the run's network for `config`: the bridge
    /// namespace, one namespace per host with its address, and the harness's link. Checks
    /// that every host address is routed through that link before returning. On any failure,
    /// removes what it created.
    pub fn create(config: &ClusterConfig, run: &str) -> Result<VirtualHosts, NetnsError> {
        let layout = Layout::of(config, run)?;
        sys::preflight()?;
        let hosts = VirtualHosts {
            layout,
            keep: false,
            faults: Default::default(),
            shaped: Default::default(),
        };
        hosts.build()?;
        hosts.check_routes()?;
        Ok(hosts)
    }

    fn build(&self) -> Result<(), NetnsError> {
        let net = self.layout.network_namespace();
        ip(&["netns", "add", &net])?;
        ip(&["-n", &net, "link", "set", "lo", "up"])?;
        ip(&["-n", &net, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &net, "link", "set", "br0", "up"])?;
        let mut peers: Vec<Ipv4Addr> = self.layout.hosts.iter().map(|h| h.address).collect();
        peers.push(self.layout.harness_address);
        for (index, host) in self.layout.hosts.iter().enumerate() {
            self.add_host(index, host, &peers)?;
        }
        let link = self.layout.harness_link();
        let harness = self.layout.harness_address.to_string();
        ip(&[
            "link", "add", "name", &link, "type", "veth", "peer", "name", "hx", "netns", &net,
        ])?;
        ip(&["-n", &net, "link", "set", "hx", "master", "br0", "up"])?;
        ip(&["addr", "add", &format!("{harness}/32"), "dev", &link])?;
        ip(&["link", "set", &link, "up"])?;
        for host in &self.layout.hosts {
            let to = format!("{}/32", host.address);
            ip(&["route", "add", &to, "dev", &link, "src", &harness])?;
        }
        Ok(())
    }

    /// A host namespace: loopback, its address on `eth0` bridged to the others, and a route to
    /// each other host and the harness (no default route).
    fn add_host(&self, index: usize, host: &Host, peers: &[Ipv4Addr]) -> Result<(), NetnsError> {
        let net = self.layout.network_namespace();
        let ns = host.namespace.as_str();
        let port = format!("h{index}");
        ip(&["netns", "add", ns])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&[
            "link", "add", "name", "eth0", "netns", ns, "type", "veth", "peer", "name", &port,
            "netns", &net,
        ])?;
        ip(&["-n", &net, "link", "set", &port, "master", "br0", "up"])?;
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/32", host.address),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        for peer in peers.iter().filter(|p| **p != host.address) {
            ip(&[
                "-n",
                ns,
                "route",
                "add",
                &format!("{peer}/32"),
                "dev",
                "eth0",
            ])?;
        }
        Ok(())
    }

    /// Refuses unless the route from the main namespace to every host goes through the run's
    /// link (never the machine's default route or another network).
    fn check_routes(&self) -> Result<(), NetnsError> {
        let link = self.layout.harness_link();
        for host in &self.layout.hosts {
            let address = host.address.to_string();
            let route = ip(&["-o", "route", "get", &address])?;
            let through: Vec<&str> = route.split_whitespace().collect();
            let dev = through
                .windows(2)
                .find(|pair| pair[0] == "dev")
                .map(|pair| pair[1]);
            if dev != Some(link.as_str()) {
                return Err(NetnsError::Route {
                    address: host.address,
                    route: route.trim().to_string(),
                    link,
                });
            }
        }
        Ok(())
    }

    /// Shapes the links between the hosts (see [`shape`]); with `proxies`, every host gets a
    /// delay proxy on its path even where no latency is set (link faults add one later).
    /// Needs a tokio runtime. Returns the links as set up.
    pub fn shape(
        &mut self,
        shaping: &Shaping,
        proxies: bool,
    ) -> Result<&[LinkInForce], NetnsError> {
        let netem = (!shaping.is_plain() || proxies)
            && shape::netem_available(&self.layout.network_namespace());
        self.shaped = shape::apply(&self.layout, shaping, netem, proxies)?;
        Ok(&self.shaped.links)
    }

    /// The shaping in force (its proxies, for link faults).
    fn shaped(&self) -> &shape::Shaped {
        &self.shaped
    }

    /// The links as set up by [`VirtualHosts::shape`] (empty before).
    pub fn links(&self) -> &[LinkInForce] {
        &self.shaped.links
    }

    /// Puts a network fault in force (checked against the config first); it lasts until the
    /// returned [`Applied`] is undone or dropped, or the run's namespaces are removed.
    pub fn apply(&self, fault: &NetFault) -> Result<Applied, NetnsError> {
        let rules = fault.rules(&self.layout)?;
        let n = self
            .faults
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let table = format!("{}f{n}", self.layout.namespace_prefix());
        Ok(Applied::write(table, rules)?)
    }

    /// The layout in force.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Each process's namespace (for `ip netns exec`).
    pub fn namespaces(&self) -> BTreeMap<NodeId, String> {
        self.layout.namespaces()
    }

    /// Leaves the namespaces in place when dropped (`harness cluster up`: `cluster down
    /// --netns` removes them).
    pub fn keep(mut self) -> String {
        self.keep = true;
        self.layout.run.clone()
    }
}

impl Drop for VirtualHosts {
    fn drop(&mut self) {
        // The proxies' sockets live in the namespaces: closed first.
        self.shaped = Default::default();
        if !self.keep {
            if let Err(err) = remove_run(&self.layout.run) {
                tracing::warn!("{err}");
            }
        }
    }
}

/// Removes every namespace and link of run `run` (whatever of them exists), killing any node
/// still inside; the routes and rules inside go with them. Fails naming what is still there afterwards.
pub fn remove_run(run: &str) -> Result<(), SysError> {
    for link in sys::links_with(&format!("{}{run}", layout::LINK_PREFIX)) {
        let _ = ip(&["link", "del", &link]);
    }
    for ns in sys::namespaces_with(&format!("{}{run}-", layout::NAMESPACE_PREFIX)) {
        stop_nodes_in(&ns);
        let _ = ip(&["netns", "del", &ns]);
    }
    let left = leftovers(run);
    if left.is_empty() {
        Ok(())
    } else {
        Err(SysError::Failed {
            command: format!("removing run {run}"),
            output: format!("still there: {}", left.join(", ")),
        })
    }
}

/// Kills the `overlay-node` processes still running in namespace `ns` (a run that died left
/// them there; a namespace outlives its removal while a process is inside).
fn stop_nodes_in(ns: &str) {
    for pid in ip(&["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
    {
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("overlay-node") {
            // SAFETY: kill(2) on a pid just verified to run overlay-node in this run's namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// What a run left behind: its namespaces and main-namespace links (empty when clean).
pub fn leftovers(run: &str) -> Vec<String> {
    sys::namespaces_with(&format!("{}{run}-", layout::NAMESPACE_PREFIX))
        .into_iter()
        .chain(sys::links_with(&format!("{}{run}", layout::LINK_PREFIX)))
        .collect()
}
