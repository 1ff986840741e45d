//! Which virtual hosts a config needs and what everything is called: one host per distinct
//! configured address, the run's namespace and link names (all carrying the run id, so cleanup
//! finds exactly this run's), and the harness's own address on the run's network.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use overlay::config::{ClusterConfig, NodeId};

/// Prefix of every namespace a run creates (`ovl-<run id>-...`).
pub const NAMESPACE_PREFIX: &str = "ovl-";

/// Prefix of the run's link in the main namespace (`ovl<run id>`).
pub const LINK_PREFIX: &str = "ovl";

/// A config's hosts as namespaces.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The run id (6 hex digits).
    pub run: String,
    /// The hosts, in address order.
    pub hosts: Vec<Host>,
    /// The harness's address on the run's network (link-local, never routed off the machine).
    pub harness_address: Ipv4Addr,
}

/// One virtual host.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Its configured address.
    pub address: Ipv4Addr,
    /// Its namespace.
    pub namespace: String,
    /// The processes it runs.
    pub processes: Vec<NodeId>,
}

/// Why a config cannot run on virtual hosts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayoutError {
    /// A host is a name, not an IPv4 address.
    #[error("processes.{id}.host is '{host}', not an IPv4 address: virtual hosts (network = \"netns\" / --netns) give each distinct host address its own namespace, so every host must be an address such as 192.168.1.10")]
    NotAnAddress {
        /// The process.
        id: String,
        /// Its host.
        host: String,
    },
    /// A host address no namespace can own.
    #[error("processes.{id}.host is {host}, a {what} address: a virtual host needs an ordinary unicast address (e.g. 192.168.1.10); spread a one-host config with hosts = \"per_process\"")]
    Unusable {
        /// The process.
        id: String,
        /// Its host.
        host: Ipv4Addr,
        /// loopback, link-local, ...
        what: &'static str,
    },
}

impl Layout {
    /// The layout of `config` for run `run`.
    pub fn of(config: &ClusterConfig, run: &str) -> Result<Layout, LayoutError> {
        let mut by_address: BTreeMap<Ipv4Addr, Vec<NodeId>> = BTreeMap::new();
        for process in config.processes.values() {
            let address = host_address(process.id.as_str(), &process.host)?;
            by_address
                .entry(address)
                .or_default()
                .push(process.id.clone());
        }
        let hosts = by_address
            .into_iter()
            .enumerate()
            .map(|(index, (address, processes))| Host {
                address,
                namespace: format!("{NAMESPACE_PREFIX}{run}-h{index}"),
                processes,
            })
            .collect();
        Ok(Layout {
            run: run.to_string(),
            hosts,
            harness_address: harness_address(run),
        })
    }

    /// A fresh run id: 6 random hex digits.
    pub fn fresh_run_id() -> String {
        format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
    }

    /// The namespace joining the hosts (it holds the bridge).
    pub fn network_namespace(&self) -> String {
        format!("{NAMESPACE_PREFIX}{}-net", self.run)
    }

    /// Prefix of every namespace of this run.
    pub fn namespace_prefix(&self) -> String {
        format!("{NAMESPACE_PREFIX}{}-", self.run)
    }

    /// The harness's link into the run's network (in the main namespace).
    pub fn harness_link(&self) -> String {
        format!("{LINK_PREFIX}{}", self.run)
    }

    /// Each process's namespace.
    pub fn namespaces(&self) -> BTreeMap<NodeId, String> {
        self.hosts
            .iter()
            .flat_map(|host| {
                host.processes
                    .iter()
                    .map(|id| (id.clone(), host.namespace.clone()))
            })
            .collect()
    }
}

/// The address of a process's host, if a virtual host can own it.
fn host_address(id: &str, host: &str) -> Result<Ipv4Addr, LayoutError> {
    let address: Ipv4Addr = host.parse().map_err(|_| LayoutError::NotAnAddress {
        id: id.to_string(),
        host: host.to_string(),
    })?;
    let what = if address.is_loopback() {
        "loopback"
    } else if address.is_link_local() {
        "link-local"
    } else if address.is_unspecified() {
        "unspecified"
    } else if address.is_multicast() || address.is_broadcast() {
        "multicast or broadcast"
    } else {
        return Ok(address);
    };
    Err(LayoutError::Unusable {
        id: id.to_string(),
        host: address,
        what,
    })
}

/// `hosts = "per_process"`: each of `ids` (in order) gets its own address from `range`
/// (`first/prefix`, e.g. `10.77.0.1/24`): the first address and those after it, all inside the
/// range's network, none its network or broadcast address, each usable by a virtual host.
pub fn per_process_addresses(
    range: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Ipv4Addr>, String> {
    let (first, prefix) = range
        .split_once('/')
        .ok_or("write the first address and the prefix length, e.g. 10.77.0.1/24")?;
    let first: Ipv4Addr = first
        .parse()
        .map_err(|_| format!("'{first}' is not an IPv4 address"))?;
    let prefix: u32 = prefix
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or("the prefix length must be a number from 8 to 30")?;
    let mask = u32::MAX << (32 - prefix);
    let network = u32::from(first) & mask;
    let broadcast = network | !mask;
    let start = u32::from(first).max(network + 1);
    let mut addresses = BTreeMap::new();
    for (offset, id) in ids.iter().enumerate() {
        let n = start + offset as u32;
        if n >= broadcast {
            return Err(format!(
                "holds {} host addresses from {first}, the config has {} processes",
                broadcast.saturating_sub(start),
                ids.len()
            ));
        }
        let address = Ipv4Addr::from(n);
        host_address(id, &address.to_string()).map_err(|err| err.to_string())?;
        addresses.insert(id.clone(), address);
    }
    Ok(addresses)
}

/// The harness's link-local address for a run (169.254.1.1 to 169.254.254.254, from the id).
fn harness_address(run: &str) -> Ipv4Addr {
    let n = u32::from_str_radix(run, 16).unwrap_or(0);
    Ipv4Addr::new(169, 254, (n % 254 + 1) as u8, ((n >> 8) % 254 + 1) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped two-host config (A, B, F on 192.168.1.10; C, D, E on 192.168.1.11) with
    /// its hosts replaced.
    fn config(first: &str, second: &str) -> ClusterConfig {
        let text = include_str!("../../../configs/two_hosts_config.json")
            .replace("192.168.1.10", first)
            .replace("192.168.1.11", second);
        ClusterConfig::from_json(&text).expect("config")
    }

    #[test]
    fn one_namespace_per_distinct_address_named_after_the_run() {
        let layout = Layout::of(&config("192.168.1.2", "192.168.1.1"), "0a1b2c").unwrap();
        let hosts: Vec<(String, &str, Vec<&str>)> = layout
            .hosts
            .iter()
            .map(|h| {
                (
                    h.address.to_string(),
                    h.namespace.as_str(),
                    h.processes.iter().map(NodeId::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            hosts,
            [
                (
                    "192.168.1.1".to_string(),
                    "ovl-0a1b2c-h0",
                    vec!["C", "D", "E"]
                ),
                (
                    "192.168.1.2".to_string(),
                    "ovl-0a1b2c-h1",
                    vec!["A", "B", "F"]
                ),
            ]
        );
        assert_eq!(layout.network_namespace(), "ovl-0a1b2c-net");
        assert_eq!(layout.harness_link(), "ovl0a1b2c");
        assert!(layout.harness_address.is_link_local());
        assert_eq!(layout.namespaces()[&NodeId("C".into())], "ovl-0a1b2c-h0");
    }

    #[test]
    fn names_and_loopback_hosts_are_refused_naming_the_key() {
        let err = Layout::of(&config("192.168.1.2", "node-b"), "000001");
        assert!(err
            .unwrap_err()
            .to_string()
            .starts_with("processes.C.host is 'node-b', not an IPv4 address"));
        let err = Layout::of(&config("127.0.0.1", "127.0.0.1"), "000001");
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("processes.A.host is 127.0.0.1, a loopback address"),
            "{err}"
        );
        assert!(err.contains("per_process"), "{err}");
        assert!(Layout::fresh_run_id().len() == 6);
    }

    #[test]
    fn per_process_addresses_come_from_the_range_in_order_and_must_fit() {
        let ids: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        let got = per_process_addresses("10.77.0.1/24", &ids).unwrap();
        assert_eq!(got["A"], Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(got["C"], Ipv4Addr::new(10, 77, 0, 3));
        // The network address itself is skipped.
        let got = per_process_addresses("10.77.0.0/24", &ids).unwrap();
        assert_eq!(got["A"], Ipv4Addr::new(10, 77, 0, 1));
        assert!(per_process_addresses("10.77.0.1/30", &ids)
            .unwrap_err()
            .contains("holds 2 host addresses"));
        assert!(per_process_addresses("10.77.0.1", &ids).is_err());
        assert!(per_process_addresses("127.0.0.1/24", &ids)
            .unwrap_err()
            .contains("loopback"));
        assert!(per_process_addresses("10.77.0.1/33", &ids).is_err());
    }
}
