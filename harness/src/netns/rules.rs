//! Network faults between virtual hosts, as nftables rules inside the host namespaces: a
//! partition between two groups of processes (two-way or one-way; dropped packets, or refused
//! with a TCP reset) and packet loss on the links of some processes' hosts (nftables `numgen`).
//! Each applied fault is one table of its own (`ovl-<run>-f<n>`) in every namespace it touches,
//! so undoing it is deleting that table, and removing the run's namespaces removes it anyway.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use overlay::config::NodeId;

use super::layout::Layout;
use super::sys::{self, SysError};

pub use super::sys::NFT;

/// What happens to the packets a partition cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Dropped without a word: connections hang until a deadline or keepalive notices.
    Blackhole,
    /// Refused: TCP gets a reset at once.
    Reject,
}

/// A network fault between virtual hosts.
#[derive(Clone, Debug, PartialEq)]
pub enum NetFault {
    /// Packets from the hosts of `from` to those of `to` are cut (and back, unless `one_way`).
    Partition {
        /// One side's processes.
        from: Vec<NodeId>,
        /// The other side's.
        to: Vec<NodeId>,
        /// Only `from` → `to`.
        one_way: bool,
        /// Dropped or refused.
        cut: Cut,
    },
    /// This share of the packets in and out of the hosts of `on` is dropped.
    Loss {
        /// The processes whose hosts' links lose packets.
        on: Vec<NodeId>,
        /// Percent, in (0, 100].
        percent: f64,
    },
}

/// Why a network fault was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// A process the config does not have.
    #[error("{key}: unknown process '{id}' (known: {known})")]
    UnknownProcess {
        /// The key naming it.
        key: &'static str,
        /// The id.
        id: String,
        /// The config's processes.
        known: String,
    },
    /// Both groups hold processes on the same host, which a host's packets cannot separate.
    #[error("partition: the groups overlap on host {host} ({both}); processes sharing a host talk over its loopback, so a partition must put whole hosts on each side")]
    Overlap {
        /// The host both sides are on.
        host: Ipv4Addr,
        /// The processes of that host named on either side.
        both: String,
    },
    /// A bad number.
    #[error("{key} is {value}: {why}")]
    Value {
        /// The key.
        key: &'static str,
        /// As given.
        value: String,
        /// The allowed range.
        why: &'static str,
    },
    /// A group is empty.
    #[error("{key} names no process")]
    Empty {
        /// The key.
        key: &'static str,
    },
}

impl NetFault {
    /// The nftables rules of the fault, by host namespace: checked against the layout first.
    pub fn rules(&self, layout: &Layout) -> Result<Vec<(String, Vec<String>)>, RuleError> {
        match self {
            NetFault::Partition {
                from,
                to,
                one_way,
                cut,
            } => {
                let a = hosts_of(layout, "partition.from", from)?;
                let b = hosts_of(layout, "partition.to", to)?;
                if let Some(host) = a.intersection(&b).next() {
                    let both: Vec<&str> = from
                        .iter()
                        .chain(to)
                        .filter(|id| host_of(layout, id) == Some(*host))
                        .map(NodeId::as_str)
                        .collect();
                    return Err(RuleError::Overlap {
                        host: *host,
                        both: both.join(", "),
                    });
                }
                let mut rules = cut_rules(layout, &a, &b, *cut);
                if !one_way {
                    rules.extend(cut_rules(layout, &b, &a, *cut));
                }
                Ok(rules)
            }
            NetFault::Loss { on, percent } => {
                if !(percent.is_finite() && *percent > 0.0 && *percent <= 100.0) {
                    return Err(RuleError::Value {
                        key: "loss.percent",
                        value: percent.to_string(),
                        why: "a loss must lie in (0, 100] percent",
                    });
                }
                let hosts = hosts_of(layout, "loss.on", on)?;
                let per_10k = (percent * 100.0).round() as u32;
                let drop = format!("numgen random mod 10000 < {per_10k} drop");
                Ok(namespaces(layout, &hosts)
                    .into_iter()
                    .map(|ns| {
                        let rules = vec![
                            format!("chain lossout {{ type filter hook output priority 0; oifname \"eth0\" {drop}; }}"),
                            format!("chain lossin {{ type filter hook input priority 0; iifname \"eth0\" {drop}; }}"),
                        ];
                        (ns, rules)
                    })
                    .collect())
            }
        }
    }
}

/// The output rules on each host of `from` cutting its packets to the hosts of `to`.
fn cut_rules(
    layout: &Layout,
    from: &BTreeSet<Ipv4Addr>,
    to: &BTreeSet<Ipv4Addr>,
    cut: Cut,
) -> Vec<(String, Vec<String>)> {
    let set: Vec<String> = to.iter().map(Ipv4Addr::to_string).collect();
    let set = set.join(", ");
    let action = match cut {
        Cut::Blackhole => format!("ip daddr {{ {set} }} drop"),
        Cut::Reject => format!(
            "ip daddr {{ {set} }} meta l4proto tcp reject with tcp reset; ip daddr {{ {set} }} drop"
        ),
    };
    namespaces(layout, from)
        .into_iter()
        .map(|ns| {
            let chain = format!("chain cut {{ type filter hook output priority 0; {action}; }}");
            (ns, vec![chain])
        })
        .collect()
}

fn host_of(layout: &Layout, id: &NodeId) -> Option<Ipv4Addr> {
    layout
        .hosts
        .iter()
        .find(|h| h.processes.contains(id))
        .map(|h| h.address)
}

fn hosts_of(
    layout: &Layout,
    key: &'static str,
    ids: &[NodeId],
) -> Result<BTreeSet<Ipv4Addr>, RuleError> {
    if ids.is_empty() {
        return Err(RuleError::Empty { key });
    }
    ids.iter()
        .map(|id| {
            host_of(layout, id).ok_or_else(|| RuleError::UnknownProcess {
                key,
                id: id.0.clone(),
                known: layout
                    .hosts
                    .iter()
                    .flat_map(|h| h.processes.iter().map(NodeId::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })
        .collect()
}

fn namespaces(layout: &Layout, hosts: &BTreeSet<Ipv4Addr>) -> Vec<String> {
    layout
        .hosts
        .iter()
        .filter(|h| hosts.contains(&h.address))
        .map(|h| h.namespace.clone())
        .collect()
}

/// A fault in force: its table in each namespace it touches. [`Applied::undo`] removes it.
#[derive(Debug)]
#[must_use = "a fault stays in force until undone"]
pub struct Applied {
    table: String,
    namespaces: Vec<String>,
}

impl Applied {
    /// Writes the rules of a fault as table `table` in each of their namespaces (one `nft -f`
    /// per namespace, so a namespace gets all of its rules or none); on failure, removes what
    /// it wrote.
    pub fn write(table: String, rules: Vec<(String, Vec<String>)>) -> Result<Applied, SysError> {
        if std::process::Command::new(NFT)
            .arg("--version")
            .output()
            .is_err()
        {
            return Err(SysError::Missing(
                "the `nft` command: install nftables (apt-get install nftables)".to_string(),
            ));
        }
        let mut applied = Applied {
            table,
            namespaces: Vec::new(),
        };
        let mut by_ns: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (ns, chains) in rules {
            by_ns.entry(ns).or_default().extend(chains);
        }
        for (ns, chains) in by_ns {
            let script = format!("table inet {} {{ {}; }}", applied.table, chains.join("; "));
            sys::ip(&["netns", "exec", &ns, NFT, &script]).inspect_err(|_| applied.undo())?;
            applied.namespaces.push(ns);
        }
        Ok(applied)
    }

    /// The namespaces holding the fault's table.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Removes the fault's table everywhere it was written.
    pub fn undo(&mut self) {
        for ns in self.namespaces.drain(..) {
            let _ = sys::ip(&[
                "netns",
                "exec",
                &ns,
                NFT,
                "delete",
                "table",
                "inet",
                &self.table,
            ]);
        }
    }
}

impl Drop for Applied {
    fn drop(&mut self) {
        self.undo();
    }
}

#[cfg(test)]
mod tests;
