//! The keys of the network faults (`net_partition`, `link`, `bandwidth`): groups resolved to
//! process ids (by id, team, host address, or `rest`), sides that do not overlap and do not
//! split a host, numbers in range, a `link`'s toxic (see [`super::toxic`]), and virtual hosts
//! to apply them on. Other actions refuse these keys.

use std::collections::BTreeSet;

use overlay::fault::MAX_DELAY_MS;

use super::{FaultContext, FaultSpec};
use crate::faults::network::NetEvent;
use crate::faults::FaultAction;
use crate::input::{Checker, WorkloadError};
use crate::netns::shape::MAX_RATE_MBIT;

/// The network keys of entry `index`: its [`NetEvent`] for a network action, `None` otherwise.
pub(super) fn check(
    c: &Checker<'_>,
    index: usize,
    action: FaultAction,
    spec: &FaultSpec,
    ctx: &FaultContext<'_>,
) -> Result<Option<NetEvent>, WorkloadError> {
    let key = |field: &str| format!("fault[{index}].{field}");
    if !action.is_network() {
        let given = [
            ("from", spec.from.is_some()),
            ("to", spec.to.is_some()),
            ("one_way", spec.one_way.is_some()),
            ("cut", spec.cut.is_some()),
            ("jitter_ms", spec.jitter_ms.is_some()),
            ("loss_percent", spec.loss_percent.is_some()),
            ("rate_mbit", spec.rate_mbit.is_some()),
            ("toxic", spec.toxic.is_some()),
        ];
        if let Some((field, _)) = given.iter().find(|(_, set)| *set) {
            return c.fail(
                &key(field),
                "applies to the network faults (net_partition, link, bandwidth) only; remove it",
            );
        }
        return Ok(None);
    }
    if !ctx.netns {
        return c.fail(
            &key("action"),
            format!("'{}' acts on the links between virtual hosts: it needs cluster.network = \"netns\"", action.name()),
        );
    }
    let net = match action {
        FaultAction::NetPartition => partition(c, index, spec, ctx)?,
        FaultAction::Link => link(c, index, spec)?,
        _ => bandwidth(c, index, spec)?,
    };
    let not_for = |field: &str, set: bool, what: &str| {
        if set {
            c.fail(
                &key(field),
                format!("does not apply to action = \"{}\"; {what}", action.name()),
            )
        } else {
            Ok(())
        }
    };
    let partition = action == FaultAction::NetPartition;
    not_for(
        "target",
        partition && !spec.target.is_empty(),
        "name the sides with from and to",
    )?;
    not_for(
        "from",
        !partition && spec.from.is_some(),
        "name the process with target",
    )?;
    not_for(
        "to",
        !partition && spec.to.is_some(),
        "name the process with target",
    )?;
    let link = action == FaultAction::Link;
    not_for("delay_ms", !link && spec.delay_ms.is_some(), "remove it")?;
    not_for("jitter_ms", !link && spec.jitter_ms.is_some(), "remove it")?;
    not_for(
        "loss_percent",
        !link && spec.loss_percent.is_some(),
        "remove it",
    )?;
    not_for(
        "rate_mbit",
        action != FaultAction::Bandwidth && spec.rate_mbit.is_some(),
        "remove it",
    )?;
    not_for("toxic", !link && spec.toxic.is_some(), "remove it")?;
    Ok(Some(net))
}

fn partition(
    c: &Checker<'_>,
    index: usize,
    spec: &FaultSpec,
    ctx: &FaultContext<'_>,
) -> Result<NetEvent, WorkloadError> {
    let key = |field: &str| format!("fault[{index}].{field}");
    let (Some(from), Some(to)) = (&spec.from, &spec.to) else {
        return c.fail(
            &key(if spec.from.is_none() { "from" } else { "to" }),
            "net_partition needs both sides: from and to, each a list of process ids, teams, host addresses, or [\"rest\"]",
        );
    };
    let rest = |names: &[String]| names.iter().any(|n| n == "rest");
    if rest(from) && rest(to) {
        return c.fail(&key("to"), "only one side may be \"rest\"");
    }
    let named_from = group(c, &key("from"), from, ctx)?;
    let named_to = group(c, &key("to"), to, ctx)?;
    let everyone: BTreeSet<String> = ctx.ids.iter().map(|s| s.to_string()).collect();
    let (from_ids, to_ids): (BTreeSet<String>, BTreeSet<String>) = match (rest(from), rest(to)) {
        (true, _) => (everyone.difference(&named_to).cloned().collect(), named_to),
        (_, true) => (
            named_from.clone(),
            everyone.difference(&named_from).cloned().collect(),
        ),
        _ => (named_from, named_to),
    };
    if let Some(both) = from_ids.intersection(&to_ids).next() {
        return c.fail(
            &key("to"),
            format!("overlaps from: '{both}' is on both sides"),
        );
    }
    for (side, ids) in [("from", &from_ids), ("to", &to_ids)] {
        if ids.is_empty() {
            return c.fail(&key(side), "names no process");
        }
    }
    whole_hosts(c, index, &from_ids, &to_ids, ctx)?;
    let cut = spec.cut.as_deref().unwrap_or("blackhole");
    c.one_of(&key("cut"), cut, &["blackhole", "reject"])?;
    Ok(NetEvent {
        from: from_ids.into_iter().collect(),
        to: to_ids.into_iter().collect(),
        one_way: spec.one_way.unwrap_or(false),
        reject: cut == "reject",
        latency_ms: 0.0,
        jitter_ms: 0.0,
        loss_percent: 0.0,
        rate_mbit: None,
        toxic: None,
    })
}

/// The processes a side names: ids, teams, host addresses (`rest` names none by itself).
fn group(
    c: &Checker<'_>,
    key: &str,
    names: &[String],
    ctx: &FaultContext<'_>,
) -> Result<BTreeSet<String>, WorkloadError> {
    let mut ids = BTreeSet::new();
    for name in names.iter().filter(|n| *n != "rest") {
        let matched: Vec<String> = ctx
            .ids
            .iter()
            .filter(|id| {
                **id == name.as_str()
                    || ctx.teams.get(**id) == Some(name)
                    || ctx.hosts.get(**id) == Some(name)
            })
            .map(|id| id.to_string())
            .collect();
        if matched.is_empty() {
            let teams: BTreeSet<&String> = ctx.teams.values().collect();
            let hosts: BTreeSet<&String> = ctx.hosts.values().collect();
            return c.fail(
                key,
                format!(
                    "'{name}' is not a process ({}), team ({}) or host ({}) of the config",
                    ctx.ids.join(", "),
                    teams.into_iter().cloned().collect::<Vec<_>>().join(", "),
                    hosts.into_iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        ids.extend(matched);
    }
    Ok(ids)
}

/// Packets are cut between hosts: each side must hold whole hosts.
fn whole_hosts(
    c: &Checker<'_>,
    index: usize,
    from: &BTreeSet<String>,
    to: &BTreeSet<String>,
    ctx: &FaultContext<'_>,
) -> Result<(), WorkloadError> {
    for (side, ids) in [("from", from), ("to", to)] {
        for id in ids {
            let host = ctx.hosts.get(id);
            let left_out: Vec<&str> = ctx
                .ids
                .iter()
                .filter(|other| ctx.hosts.get(**other) == host && !ids.contains(**other))
                .copied()
                .collect();
            if !left_out.is_empty() {
                return c.fail(
                    &format!("fault[{index}].{side}"),
                    format!(
                        "'{id}' shares host {} with {}, which this side leaves out: packets are cut between hosts, so a side holds whole hosts (spread the processes with [network] hosts = \"per_process\" to cut between single processes)",
                        host.map_or("?", String::as_str),
                        left_out.join(", ")
                    ),
                );
            }
        }
    }
    Ok(())
}

fn link(c: &Checker<'_>, index: usize, spec: &FaultSpec) -> Result<NetEvent, WorkloadError> {
    let key = |field: &str| format!("fault[{index}].{field}");
    let latency_ms = spec.delay_ms.unwrap_or(0);
    if !(0..=MAX_DELAY_MS).contains(&latency_ms) {
        return c.fail(
            &key("delay_ms"),
            format!("is {latency_ms}; it must be ms from 0 to {MAX_DELAY_MS}"),
        );
    }
    let jitter_ms = spec.jitter_ms.unwrap_or(0.0);
    if !(jitter_ms.is_finite() && (0.0..=MAX_DELAY_MS as f64).contains(&jitter_ms)) {
        return c.fail(
            &key("jitter_ms"),
            format!("is {jitter_ms}; it must be ms from 0 to {MAX_DELAY_MS}"),
        );
    }
    if jitter_ms > 0.0 && latency_ms == 0 {
        return c.fail(&key("jitter_ms"), "needs a delay_ms to spread around");
    }
    let loss_percent = spec.loss_percent.unwrap_or(0.0);
    if !(loss_percent.is_finite() && (0.0..=100.0).contains(&loss_percent)) {
        return c.fail(
            &key("loss_percent"),
            format!("is {loss_percent}; it must lie in [0, 100]"),
        );
    }
    let toxic = match &spec.toxic {
        Some(toxic) => Some(super::toxic::check(c, index, toxic)?),
        None => None,
    };
    if latency_ms == 0 && loss_percent == 0.0 && toxic.is_none() {
        return c.fail(
            &key("delay_ms"),
            "a link fault needs a delay_ms, a loss_percent, a toxic, or several of them",
        );
    }
    Ok(NetEvent {
        from: vec![spec.target.clone()],
        to: Vec::new(),
        one_way: false,
        reject: false,
        latency_ms: latency_ms as f64,
        jitter_ms,
        loss_percent,
        rate_mbit: None,
        toxic,
    })
}

fn bandwidth(c: &Checker<'_>, index: usize, spec: &FaultSpec) -> Result<NetEvent, WorkloadError> {
    let key = format!("fault[{index}].rate_mbit");
    let Some(rate) = spec.rate_mbit else {
        return c.fail(&key, "bandwidth needs the rate limit in Mbit/s");
    };
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE_MBIT) {
        return c.fail(
            &key,
            format!("is {rate}; it must be Mbit/s above 0 and up to {MAX_RATE_MBIT}"),
        );
    }
    Ok(NetEvent {
        from: vec![spec.target.clone()],
        to: Vec::new(),
        one_way: false,
        reject: false,
        latency_ms: 0.0,
        jitter_ms: 0.0,
        loss_percent: 0.0,
        rate_mbit: Some(rate),
        toxic: None,
    })
}
