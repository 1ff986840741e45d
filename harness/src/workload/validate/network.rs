//! `[network]`: how a config's processes become virtual hosts (`hosts`, `addresses`) and what
//! the links between them do (a default and `[[network.link]]` pairs), resolved into a
//! [`Shaping`] keyed by host addresses.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use overlay::config::ClusterConfig;

use super::super::spec::{NetworkSpec, WorkloadSpec};
use crate::input::{Checker, WorkloadError};
use crate::netns::layout::per_process_addresses;
use crate::netns::{LinkSettings, Shaping};

/// `[network]` resolved.
#[derive(Debug, Default)]
pub(super) struct Network {
    /// The links.
    pub(super) shaping: Shaping,
    /// `hosts = "per_process"`: each process's address.
    pub(super) addresses: BTreeMap<String, String>,
}

/// Checks `[network]` against the cluster (`network = "netns"` needed for any of it).
pub(super) fn check(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    cluster: &ClusterConfig,
) -> Result<Network, WorkloadError> {
    let Some(network) = &spec.network else {
        return Ok(Network::default());
    };
    if spec.cluster.network != "netns" {
        return c.fail(
            "network",
            "shapes the links between virtual hosts: it needs cluster.network = \"netns\"",
        );
    }
    let addresses = check_hosts(c, network, cluster)?;
    let written = [
        network.latency_ms,
        network.jitter_ms,
        network.loss_percent,
        network.rate_mbit,
    ];
    let default = settings(c, "network", LinkSettings::default(), written)?;
    let mut pairs = BTreeMap::new();
    for (i, pair) in network.links.iter().enumerate() {
        let key = format!("network.link[{i}]");
        let hosts: Vec<Option<Ipv4Addr>> = pair
            .between
            .iter()
            .map(|n| host_of(n, &addresses, cluster))
            .collect();
        let (a, b) = match hosts[..] {
            [Some(a), Some(b)] if a != b => (a, b),
            [Some(_), Some(_)] => {
                return c.fail(
                    &format!("{key}.between"),
                    "names one host twice; a link joins two different hosts",
                )
            }
            [_, _] => {
                let unknown: Vec<&str> = pair
                    .between
                    .iter()
                    .zip(&hosts)
                    .filter(|(_, h)| h.is_none())
                    .map(|(n, _)| n.as_str())
                    .collect();
                return c.fail(
                    &format!("{key}.between"),
                    format!(
                        "'{}' is neither a host address nor a process of the config",
                        unknown.join("', '")
                    ),
                );
            }
            _ => {
                return c.fail(
                    &format!("{key}.between"),
                    "must name two hosts (by address or by one of their processes)",
                )
            }
        };
        let written = [
            pair.latency_ms,
            pair.jitter_ms,
            pair.loss_percent,
            pair.rate_mbit,
        ];
        let set = settings(c, &key, default, written)?;
        if pairs.insert(Shaping::pair_key(a, b), set).is_some() {
            return c.fail(
                &format!("{key}.between"),
                format!("the link {a} – {b} is already set by an earlier entry"),
            );
        }
    }
    Ok(Network {
        shaping: Shaping { default, pairs },
        addresses,
    })
}

/// The host a `between` name means: a host address of the run, or a process's host.
fn host_of(
    name: &str,
    addresses: &BTreeMap<String, String>,
    cluster: &ClusterConfig,
) -> Option<Ipv4Addr> {
    let address = addresses
        .get(name)
        .cloned()
        .or_else(|| {
            cluster
                .processes
                .values()
                .find(|p| p.id.as_str() == name)
                .map(|p| p.host.clone())
        })
        .unwrap_or_else(|| name.to_string());
    let address: Ipv4Addr = address.parse().ok()?;
    let known = if addresses.is_empty() {
        cluster
            .processes
            .values()
            .any(|p| p.host == address.to_string())
    } else {
        addresses.values().any(|a| *a == address.to_string())
    };
    known.then_some(address)
}

/// `hosts` and `addresses`: the per-process addresses, or none.
fn check_hosts(
    c: &Checker<'_>,
    network: &NetworkSpec,
    cluster: &ClusterConfig,
) -> Result<BTreeMap<String, String>, WorkloadError> {
    let hosts = network.hosts.as_deref().unwrap_or("config");
    c.one_of("network.hosts", hosts, &["config", "per_process"])?;
    match (hosts, &network.addresses) {
        ("config", None) => Ok(BTreeMap::new()),
        ("config", Some(_)) => c.fail("network.addresses", "applies to hosts = \"per_process\" only; remove it"),
        (_, None) => c.fail("network.addresses", "hosts = \"per_process\" needs the range the hosts get, e.g. addresses = \"10.77.0.1/24\""),
        (_, Some(range)) => {
            let ids: Vec<String> = cluster.processes.keys().map(|id| id.0.clone()).collect();
            match per_process_addresses(range, &ids) {
                Ok(addresses) => Ok(addresses.into_iter().map(|(id, a)| (id, a.to_string())).collect()),
                Err(why) => c.fail("network.addresses", format!("is '{range}': {why}")),
            }
        }
    }
}

/// The keys as `written` (latency, jitter, loss, rate) over `base`, checked, naming
/// `key.<field>`.
fn settings(
    c: &Checker<'_>,
    key: &str,
    base: LinkSettings,
    written: [Option<f64>; 4],
) -> Result<LinkSettings, WorkloadError> {
    let [latency, jitter, loss, rate] = written;
    let set = LinkSettings {
        latency_ms: latency.unwrap_or(base.latency_ms),
        jitter_ms: jitter.unwrap_or(base.jitter_ms),
        loss_percent: loss.unwrap_or(base.loss_percent),
        rate_mbit: rate.or(base.rate_mbit),
    };
    set.check(key).or_else(|(key, why)| c.fail(&key, why))?;
    Ok(set)
}
