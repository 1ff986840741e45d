//! A fault on the links of some hosts (`link`, `bandwidth` in a workload): latency added in the
//! delay proxies on both ends of every connection touching those hosts, a Toxiproxy toxic (see
//! [`super::proxy::toxic`]) in the same proxies, loss as an nftables `numgen` table on their
//! links (in and out), a rate as `tbf` on both ends of their links (the host's `eth0` outwards,
//! its bridge port inwards). Held as a [`LinkHeld`], undone when dropped.

use std::net::Ipv4Addr;
use std::time::Duration;

use overlay::config::NodeId;

use super::proxy::{Delay, Delays, Proxy, Toxic, ToxicId, Toxics};
use super::rules::{Applied, NetFault, RuleError};
use super::sys::{self, SysError, TC};
use super::{NetnsError, VirtualHosts};

/// What a link fault does to the links of the hosts of `on`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkFault {
    /// The processes whose hosts' links are affected.
    pub on: Vec<NodeId>,
    /// Added one-way latency, ms (0: none).
    pub latency_ms: f64,
    /// ± spread of it, ms.
    pub jitter_ms: f64,
    /// Packets lost in each direction, percent (0: none).
    pub loss_percent: f64,
    /// Rate limit in each direction, Mbit/s.
    pub rate_mbit: Option<f64>,
    /// A toxic on every TCP connection touching those hosts.
    pub toxic: Option<Toxic>,
}

/// A link fault in force; dropping it restores the links.
#[derive(Debug, Default)]
pub struct LinkHeld {
    loss: Option<Applied>,
    /// Each proxy delay changed, with the value to put back.
    delays: Vec<(Delays, Ipv4Addr, Delay)>,
    /// Each toxic added, to remove.
    toxics: Vec<(Toxics, Ipv4Addr, ToxicId)>,
    /// Root qdiscs added: (namespace, device).
    qdiscs: Vec<(String, String)>,
}

impl Drop for LinkHeld {
    fn drop(&mut self) {
        drop(self.loss.take());
        for (delays, to, before) in self.delays.drain(..).rev() {
            delays.set(to, before);
        }
        for (toxics, to, id) in self.toxics.drain(..) {
            toxics.remove(to, id);
        }
        for (ns, dev) in self.qdiscs.drain(..) {
            let _ = sys::ip(&[
                "netns", "exec", &ns, TC, "qdisc", "del", "dev", &dev, "root",
            ]);
        }
    }
}

impl VirtualHosts {
    /// Puts a link fault in force (checked against the config first).
    pub fn apply_link(&self, fault: &LinkFault) -> Result<LinkHeld, NetnsError> {
        let layout = self.layout();
        let mut hosts = Vec::new();
        for id in &fault.on {
            let index = layout
                .hosts
                .iter()
                .position(|h| h.processes.contains(id))
                .ok_or_else(|| RuleError::UnknownProcess {
                    key: "link.target",
                    id: id.0.clone(),
                    known: layout
                        .namespaces()
                        .keys()
                        .map(|k| k.0.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if !hosts.contains(&index) {
                hosts.push(index);
            }
        }
        let mut held = LinkHeld::default();
        if fault.loss_percent > 0.0 {
            let loss = NetFault::Loss {
                on: fault.on.clone(),
                percent: fault.loss_percent,
            };
            held.loss = Some(self.apply(&loss)?);
        }
        if fault.latency_ms > 0.0 {
            let added = Delay {
                latency: Duration::from_secs_f64(fault.latency_ms / 1000.0),
                jitter: Duration::from_secs_f64(fault.jitter_ms / 1000.0),
            };
            for &index in &hosts {
                self.add_delay(index, added, &mut held)?;
            }
        }
        if let Some(toxic) = fault.toxic {
            for &index in &hosts {
                self.add_toxic(index, toxic, &mut held)?;
            }
        }
        if let Some(mbit) = fault.rate_mbit {
            let kbit = (mbit * 1000.0).round() as u64;
            for &index in &hosts {
                let host = &layout.hosts[index];
                let bridge_port = (layout.network_namespace(), format!("h{index}"));
                tbf(&bridge_port.0, &bridge_port.1, kbit)?;
                held.qdiscs.push(bridge_port);
                // The host's own side may already carry the run's shaping (an htb tree): then
                // only the inward direction is limited, which the report's label says.
                if tbf(&host.namespace, "eth0", kbit).is_ok() {
                    held.qdiscs
                        .push((host.namespace.clone(), "eth0".to_string()));
                }
            }
        }
        Ok(held)
    }

    /// Every proxy direction carrying the connections touching host `index` (`what` names the
    /// change for the error): its own proxy towards every other host, and the others' proxies
    /// towards it.
    fn proxies_of(&self, index: usize, what: &str) -> Result<Vec<(&Proxy, Ipv4Addr)>, SysError> {
        let layout = self.layout();
        let host = &layout.hosts[index];
        let proxies = &self.shaped().proxies;
        let missing = || SysError::Failed {
            command: format!("adding {what} on {}'s link", host.address),
            output: "no delay proxy on the path (the run was started without one)".to_string(),
        };
        let own = proxies.get(&host.address).ok_or_else(missing)?;
        let mut directions = Vec::new();
        for other in layout.hosts.iter().filter(|h| h.address != host.address) {
            let theirs = proxies.get(&other.address).ok_or_else(missing)?;
            directions.push((own, other.address));
            directions.push((theirs, host.address));
        }
        Ok(directions)
    }

    /// Puts `toxic` on every connection touching host `index`.
    fn add_toxic(&self, index: usize, toxic: Toxic, held: &mut LinkHeld) -> Result<(), NetnsError> {
        for (proxy, to) in self.proxies_of(index, toxic.name())? {
            let id = proxy.toxics().add(to, toxic);
            held.toxics.push((proxy.toxics().clone(), to, id));
        }
        Ok(())
    }

    /// Adds `added` to every connection touching host `index`.
    fn add_delay(&self, index: usize, added: Delay, held: &mut LinkHeld) -> Result<(), NetnsError> {
        for (proxy, to) in self.proxies_of(index, "latency")? {
            let delays = proxy.delays();
            let before = delays.get(to);
            delays.set(
                to,
                Delay {
                    latency: before.latency + added.latency,
                    jitter: before.jitter.max(added.jitter),
                },
            );
            held.delays.push((delays.clone(), to, before));
        }
        Ok(())
    }
}

/// A `tbf` root qdisc limiting `dev` in `ns` to `kbit` kbit/s (a burst of 10 ms of it, at
/// least 32 kbit).
fn tbf(ns: &str, dev: &str, kbit: u64) -> Result<String, SysError> {
    let rate = format!("{kbit}kbit");
    let burst = format!("{}kbit", (kbit / 100).max(32));
    sys::ip(&[
        "netns", "exec", ns, TC, "qdisc", "add", "dev", dev, "root", "tbf", "rate", &rate, "burst",
        &burst, "latency", "400ms",
    ])
}
