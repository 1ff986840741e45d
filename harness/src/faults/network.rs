//! Network faults between virtual hosts (`net_partition`, `link`, `bandwidth`): what a checked
//! event does, and carrying it out on the run's [`VirtualHosts`]: nftables tables for
//! partitions and loss, the delay proxies for latency and Toxiproxy toxics, `tbf` for a rate. Each fault in force is
//! held until its `heal` (or the end of the step: dropping the held faults undoes them).

use std::collections::BTreeMap;

use overlay::config::NodeId;
use serde::{Deserialize, Serialize};

use super::execute::FiredRecord;
use super::{FaultAction, FaultEvent, FaultPlan};
use crate::netns::proxy::Toxic;
use crate::netns::{Cut, LinkHeld, Mechanism, NetFault, VirtualHosts};

/// What a network event does, resolved to process ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetEvent {
    /// `net_partition`: one side; `link` / `bandwidth`: the processes whose hosts' links.
    pub from: Vec<String>,
    /// `net_partition`: the other side.
    #[serde(default)]
    pub to: Vec<String>,
    /// `net_partition`: only `from` → `to` is cut.
    #[serde(default)]
    pub one_way: bool,
    /// `net_partition`: refused with a reset rather than dropped.
    #[serde(default)]
    pub reject: bool,
    /// `link`: added one-way latency, ms.
    #[serde(default)]
    pub latency_ms: f64,
    /// `link`: ± spread, ms.
    #[serde(default)]
    pub jitter_ms: f64,
    /// `link`: packets lost, percent.
    #[serde(default)]
    pub loss_percent: f64,
    /// `bandwidth`: rate, Mbit/s.
    #[serde(default)]
    pub rate_mbit: Option<f64>,
    /// `link`: a Toxiproxy toxic on every TCP connection touching the hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toxic: Option<Toxic>,
}

impl NetEvent {
    /// Whether the fault leaves its target unreachable over its links (every packet lost, or
    /// a toxic that breaks every connection): its peers are then right to declare it failed.
    pub fn cuts_off(&self) -> bool {
        self.loss_percent >= 100.0 || self.toxic.is_some_and(|t| t.breaks_connections())
    }

    /// "A,B,F|C,D,E", "A,B,F→C" (one way), for labels.
    pub fn sides(&self) -> String {
        let arrow = if self.one_way { "→" } else { "|" };
        format!("{}{arrow}{}", self.from.join(","), self.to.join(","))
    }

    /// A report label: "net_partition A|C blackhole", "link C +200 ms ± 0", "link D reset_peer
    /// 500 ms by delay proxy (TCP)", "bandwidth C 1 Mbit/s".
    pub fn label(&self, action: FaultAction) -> String {
        match action {
            FaultAction::NetPartition => {
                let cut = if self.reject { "reject" } else { "blackhole" };
                format!("net_partition {} {cut}", self.sides())
            }
            FaultAction::Link => {
                let mut parts = Vec::new();
                if self.latency_ms > 0.0 {
                    parts.push(format!("+{} ms ± {}", self.latency_ms, self.jitter_ms));
                }
                if self.loss_percent > 0.0 {
                    parts.push(format!("{} % loss", self.loss_percent));
                }
                if let Some(toxic) = self.toxic {
                    parts.push(format!(
                        "{} by {}",
                        toxic.describe(),
                        Mechanism::Proxy.name()
                    ));
                }
                format!("link {} {}", self.from.join(","), parts.join(", "))
            }
            _ => format!(
                "{} {} {} Mbit/s",
                action.name(),
                self.from.join(","),
                self.rate_mbit.unwrap_or(0.0)
            ),
        }
    }
}

/// The network faults in force during a step, by event index.
#[derive(Debug, Default)]
pub struct HeldNetFaults(BTreeMap<usize, Held>);

#[derive(Debug)]
enum Held {
    Rules(#[allow(dead_code)] crate::netns::Applied),
    Link(#[allow(dead_code)] LinkHeld),
}

impl HeldNetFaults {
    /// Carries out `event` (a network action) on `hosts`.
    pub fn apply(
        &mut self,
        event: &FaultEvent,
        hosts: Option<&VirtualHosts>,
    ) -> Result<(), String> {
        if event.action == FaultAction::Heal {
            self.0.remove(&event.index);
            return Ok(());
        }
        let hosts =
            hosts.ok_or("network faults need virtual hosts (cluster.network = \"netns\")")?;
        let net = event
            .net
            .as_ref()
            .ok_or("a network fault without its settings")?;
        let ids = |names: &[String]| names.iter().map(|n| NodeId(n.clone())).collect::<Vec<_>>();
        let held = match event.action {
            FaultAction::NetPartition => {
                let fault = NetFault::Partition {
                    from: ids(&net.from),
                    to: ids(&net.to),
                    one_way: net.one_way,
                    cut: if net.reject {
                        Cut::Reject
                    } else {
                        Cut::Blackhole
                    },
                };
                Held::Rules(hosts.apply(&fault).map_err(|e| e.to_string())?)
            }
            FaultAction::Link | FaultAction::Bandwidth => {
                let link = crate::netns::LinkFault {
                    on: ids(&net.from),
                    latency_ms: net.latency_ms,
                    jitter_ms: net.jitter_ms,
                    loss_percent: net.loss_percent,
                    rate_mbit: net.rate_mbit,
                    toxic: net.toxic,
                };
                Held::Link(hosts.apply_link(&link).map_err(|e| e.to_string())?)
            }
            other => return Err(format!("{} is not a network fault", other.name())),
        };
        self.0.insert(event.index, held);
        Ok(())
    }
}

/// The fired events as detection reads them: a `net_partition` (and its heal) stands for one
/// fault per process it cuts off — those of `to`, and of `from` too when it cuts both ways —
/// so each observer's detection and recovery of each of them is measured.
pub fn per_process(fired: &[FiredRecord], plan: &FaultPlan) -> Vec<FiredRecord> {
    let mut out = Vec::with_capacity(fired.len());
    for record in fired {
        let net = plan
            .event(record.fired.index)
            .filter(|e| e.action == FaultAction::NetPartition)
            .and_then(|e| e.net.as_ref());
        let Some(net) = net else {
            out.push(record.clone());
            continue;
        };
        let cut_off = net
            .to
            .iter()
            .chain(net.from.iter().filter(|_| !net.one_way));
        for id in cut_off {
            let mut each = record.clone();
            each.fired.target = id.clone();
            out.push(each);
        }
    }
    out
}
