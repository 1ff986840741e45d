//! Link shaping between virtual hosts: latency, jitter, loss and rate for every pair of hosts
//! (a default, overridable per pair), each applied by the mechanism this kernel offers:
//!
//! - latency and jitter: `tc netem` when the kernel has `sch_netem` (detected by adding one in
//!   the run's network namespace), otherwise the TCP delay proxy of [`super::proxy`], put on the
//!   path by an nftables `redirect` of each host's outgoing TCP connections to the others;
//! - loss: an nftables `numgen` rule dropping that share of the packets a host sends to the
//!   other (each direction loses it once);
//! - rate: an `htb` class per destination host on the host's link, with a `u32` filter on the
//!   destination address (netem, when used, hangs under the same class).
//!
//! Everything is applied at the sender: the link A → B is shaped on A's side, B → A on B's.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::layout::{Host, Layout};
use super::proxy::{Delay, Delays, Proxy, BYPASS_MARK};
use super::rules::Applied;
use super::sys::{self, SysError, TC};

/// Most latency or jitter a link may add, ms (a minute, as a `delay` fault).
pub const MAX_LATENCY_MS: f64 = 60_000.0;

/// Highest rate a link may be limited to, Mbit/s (100 Gbit/s: beyond, nothing is limited).
pub const MAX_RATE_MBIT: f64 = 100_000.0;

/// What one direction of a link between two hosts does to the traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkSettings {
    /// Added one-way latency, ms.
    pub latency_ms: f64,
    /// Spread of the latency, ± ms.
    pub jitter_ms: f64,
    /// Share of packets lost, percent.
    pub loss_percent: f64,
    /// Rate limit, Mbit/s (none: the veth's speed).
    pub rate_mbit: Option<f64>,
}

impl LinkSettings {
    /// Nothing added.
    pub fn is_plain(&self) -> bool {
        self.latency_ms == 0.0
            && self.jitter_ms == 0.0
            && self.loss_percent == 0.0
            && self.rate_mbit.is_none()
    }

    /// The latency as the proxy applies it.
    pub fn delay(&self) -> Delay {
        Delay {
            latency: Duration::from_secs_f64(self.latency_ms / 1000.0),
            jitter: Duration::from_secs_f64(self.jitter_ms / 1000.0),
        }
    }

    /// Checks the numbers, naming `key.<field>` when one is out of range.
    pub fn check(&self, key: &str) -> Result<(), (String, String)> {
        let bad = |field: &str, why: String| Err((format!("{key}.{field}"), why));
        for (field, ms) in [
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
        ] {
            if !(ms.is_finite() && (0.0..=MAX_LATENCY_MS).contains(&ms)) {
                return bad(
                    field,
                    format!("is {ms}; it must be ms from 0 to {MAX_LATENCY_MS}"),
                );
            }
        }
        if self.jitter_ms > 0.0 && self.latency_ms == 0.0 {
            return bad(
                "jitter_ms",
                "needs a latency_ms to spread around; set latency_ms too".to_string(),
            );
        }
        let loss = self.loss_percent;
        if !(loss.is_finite() && (0.0..=100.0).contains(&loss)) {
            return bad(
                "loss_percent",
                format!("is {loss}; it must lie in [0, 100]"),
            );
        }
        if let Some(rate) = self.rate_mbit {
            if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE_MBIT) {
                return bad(
                    "rate_mbit",
                    format!("is {rate}; it must be Mbit/s above 0 and up to {MAX_RATE_MBIT} (remove it for no limit)"),
                );
            }
        }
        Ok(())
    }
}

/// The links of a run: one default for every pair of hosts, and the pairs set apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Shaping {
    /// Every pair not listed in `pairs`.
    pub default: LinkSettings,
    /// Pairs of host addresses (lower first) with settings of their own.
    pub pairs: BTreeMap<String, LinkSettings>,
}

impl Shaping {
    /// The key of a pair: both addresses, lower first.
    pub fn pair_key(a: Ipv4Addr, b: Ipv4Addr) -> String {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        format!("{low}-{high}")
    }

    /// The settings between hosts `a` and `b`.
    pub fn between(&self, a: Ipv4Addr, b: Ipv4Addr) -> LinkSettings {
        self.pairs
            .get(&Shaping::pair_key(a, b))
            .copied()
            .unwrap_or(self.default)
    }

    /// No pair shaped at all.
    pub fn is_plain(&self) -> bool {
        self.default.is_plain() && self.pairs.values().all(LinkSettings::is_plain)
    }
}

/// Which mechanism applied a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// `tc netem` on the sender's link.
    Netem,
    /// The harness's TCP delay proxy (TCP only; datagrams cross undelayed).
    Proxy,
    /// An nftables `numgen` drop rule on the sender.
    Nftables,
    /// An `htb` class on the sender's link.
    Htb,
}

impl Mechanism {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Netem => "tc netem",
            Mechanism::Proxy => "delay proxy (TCP)",
            Mechanism::Nftables => "nftables numgen",
            Mechanism::Htb => "tc htb",
        }
    }
}

/// One link as it was set up, for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkInForce {
    /// The two hosts' addresses.
    pub between: [String; 2],
    /// What each direction does.
    pub settings: LinkSettings,
    /// What applied the latency and jitter.
    pub latency_by: Option<Mechanism>,
    /// What applied the loss.
    pub loss_by: Option<Mechanism>,
    /// What applied the rate limit.
    pub rate_by: Option<Mechanism>,
}

impl LinkInForce {
    /// "192.168.1.10 ↔ 192.168.1.11: latency 0.5 ms ± 0.1 ms by delay proxy (TCP); loss none;
    /// rate unlimited", for reports.
    pub fn describe(&self) -> String {
        let s = &self.settings;
        let by = |m: Option<Mechanism>| m.map_or(String::new(), |m| format!(" by {}", m.name()));
        let latency = if s.latency_ms > 0.0 || s.jitter_ms > 0.0 {
            format!(
                "latency {} ms ± {} ms{}",
                s.latency_ms,
                s.jitter_ms,
                by(self.latency_by)
            )
        } else {
            "latency none added".to_string()
        };
        let loss = if s.loss_percent > 0.0 {
            format!("loss {} %{}", s.loss_percent, by(self.loss_by))
        } else {
            "loss none".to_string()
        };
        let rate = s.rate_mbit.map_or("rate unlimited".to_string(), |r| {
            format!("rate {r} Mbit/s{}", by(self.rate_by))
        });
        format!(
            "{} ↔ {}: {latency}; {loss}; {rate} (each direction)",
            self.between[0], self.between[1]
        )
    }
}

/// The shaping of a run in force: its rules, `tc` classes (gone with the namespaces) and proxies.
#[derive(Debug, Default)]
pub struct Shaped {
    /// The links, for the report.
    pub links: Vec<LinkInForce>,
    /// The delay proxy of each host that has one, by host address.
    pub proxies: BTreeMap<Ipv4Addr, Proxy>,
    /// The nftables rules (loss, redirects to the proxies).
    pub rules: Option<Applied>,
}

/// Whether this kernel has `sch_netem`: adds one on the loopback of `namespace` (a namespace of
/// the run) and removes it.
pub fn netem_available(namespace: &str) -> bool {
    let add = ["netns", "exec", namespace, TC, "qdisc", "add", "dev", "lo"];
    let ok = sys::ip(&[&add[..], &["root", "netem", "delay", "1ms"][..]].concat()).is_ok();
    if ok {
        let _ = sys::ip(&[
            "netns", "exec", namespace, TC, "qdisc", "del", "dev", "lo", "root",
        ]);
    }
    ok
}

/// Applies `shaping` to the hosts of `layout`. With `proxies` every host gets a delay proxy on
/// its path even where no latency is set yet (link faults may add one during the run). Needs a
/// tokio runtime (the proxies run on it).
pub fn apply(
    layout: &Layout,
    shaping: &Shaping,
    netem: bool,
    proxies: bool,
) -> Result<Shaped, SysError> {
    let mut shaped = Shaped::default();
    let mut rules = Vec::new();
    for host in &layout.hosts {
        let others: Vec<&Host> = layout.hosts.iter().filter(|h| *h != host).collect();
        let links: Vec<(usize, &Host, LinkSettings)> = layout
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| *h != host)
            .map(|(j, h)| (j, h, shaping.between(host.address, h.address)))
            .collect();
        shape_tc(host, &links, netem)?;
        let mut chains = loss_chain(&links);
        let wants_proxy = proxies || links.iter().any(|(_, _, s)| s.latency_ms > 0.0);
        // With netem the latency is the kernel's; a proxy is still put on the path when link
        // faults will add latency during the run.
        if (!netem || proxies) && wants_proxy && !others.is_empty() {
            let delays = Delays::default();
            for (_, other, settings) in links.iter().filter(|_| !netem) {
                delays.set(other.address, settings.delay());
            }
            let proxy =
                Proxy::start_in(&host.namespace, delays).map_err(|err| SysError::Failed {
                    command: format!("starting the delay proxy in {}", host.namespace),
                    output: err.to_string(),
                })?;
            chains.push(redirect_chain(&others, proxy.port()));
            shaped.proxies.insert(host.address, proxy);
        }
        if !chains.is_empty() {
            rules.push((host.namespace.clone(), chains));
        }
    }
    if !rules.is_empty() {
        shaped.rules = Some(Applied::write(
            format!("{}shape", layout.namespace_prefix()),
            rules,
        )?);
    }
    shaped.links = links_in_force(layout, shaping, netem);
    Ok(shaped)
}

/// The report's view of every pair.
fn links_in_force(layout: &Layout, shaping: &Shaping, netem: bool) -> Vec<LinkInForce> {
    let mut links = Vec::new();
    for (i, a) in layout.hosts.iter().enumerate() {
        for b in &layout.hosts[i + 1..] {
            let settings = shaping.between(a.address, b.address);
            let latency = settings.latency_ms > 0.0 || settings.jitter_ms > 0.0;
            links.push(LinkInForce {
                between: [a.address.to_string(), b.address.to_string()],
                settings,
                latency_by: latency.then_some(if netem {
                    Mechanism::Netem
                } else {
                    Mechanism::Proxy
                }),
                loss_by: (settings.loss_percent > 0.0).then_some(Mechanism::Nftables),
                rate_by: settings.rate_mbit.map(|_| Mechanism::Htb),
            });
        }
    }
    links
}

/// The host's `htb` tree on `eth0`: a class per destination that has a rate (or, with netem,
/// a latency), unclassified traffic unshaped.
fn shape_tc(
    host: &Host,
    links: &[(usize, &Host, LinkSettings)],
    netem: bool,
) -> Result<(), SysError> {
    let needs = |s: &LinkSettings| s.rate_mbit.is_some() || (netem && s.latency_ms > 0.0);
    if !links.iter().any(|(_, _, s)| needs(s)) {
        return Ok(());
    }
    let tc = |args: &[&str]| -> Result<String, SysError> {
        let command = [&["netns", "exec", host.namespace.as_str(), TC][..], args].concat();
        sys::ip(&command)
    };
    tc(&["qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb"])?;
    for (j, other, settings) in links.iter().filter(|(_, _, s)| needs(s)) {
        let class = format!("1:{}", j + 1);
        let rate = format!(
            "{}kbit",
            (settings.rate_mbit.unwrap_or(MAX_RATE_MBIT) * 1000.0).round()
        );
        tc(&[
            "class", "add", "dev", "eth0", "parent", "1:", "classid", &class, "htb", "rate", &rate,
            "ceil", &rate,
        ])?;
        if netem && settings.latency_ms > 0.0 {
            let handle = format!("{}:", j + 10);
            let us = |ms: f64| format!("{}us", (ms * 1000.0).round());
            let (latency, jitter) = (us(settings.latency_ms), us(settings.jitter_ms));
            tc(&[
                "qdisc", "add", "dev", "eth0", "parent", &class, "handle", &handle, "netem",
                "delay", &latency, &jitter,
            ])?;
        }
        let dst = format!("{}/32", other.address);
        tc(&[
            "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
            "match", "ip", "dst", &dst, "flowid", &class,
        ])?;
    }
    Ok(())
}

/// The host's loss rules: a share of what it sends to each lossy destination dropped.
fn loss_chain(links: &[(usize, &Host, LinkSettings)]) -> Vec<String> {
    let drops: Vec<String> = links
        .iter()
        .filter(|(_, _, s)| s.loss_percent > 0.0)
        .map(|(_, other, s)| {
            let per_10k = (s.loss_percent * 100.0).round() as u32;
            format!(
                "oifname \"eth0\" ip daddr {} numgen random mod 10000 < {per_10k} drop",
                other.address
            )
        })
        .collect();
    if drops.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "chain loss {{ type filter hook output priority 0; {}; }}",
        drops.join("; ")
    )]
}

/// The redirect of the host's new TCP connections to the other hosts into its proxy (whose own
/// connections carry the bypass mark).
fn redirect_chain(others: &[&Host], port: u16) -> String {
    let set: Vec<String> = others.iter().map(|h| h.address.to_string()).collect();
    format!(
        "chain proxy {{ type nat hook output priority -100; meta mark {BYPASS_MARK:#x} return; ip daddr {{ {} }} meta l4proto tcp redirect to :{port}; }}",
        set.join(", ")
    )
}

#[cfg(test)]
mod tests;
