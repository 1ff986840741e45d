//! `[[fault]]` entries checked one by one (action, target, trigger, the keys each action
//! takes, the end of the step, what the cluster mode allows) and resolved into a sorted
//! [`FaultPlan`] with the automatic undo of every `duration_s`; then [`super::simulate`]
//! refuses contradictory sequences. Every error names `fault[i].<key>` and the fix.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use overlay::fault::{CLIENT_PEER, MAX_DELAY_MS};
use serde::{Deserialize, Serialize};

use super::{simulate, FaultAction, FaultEvent, FaultPlan, Trigger};
use crate::input::{within, Checker, ClusterMode, StepLength, WorkloadError};

/// `[[fault]]` as written in a workload file: one event of the fault schedule, checked by
/// [`resolve`].
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Seconds after the step's measured part starts (or give `after_requests`).
    #[serde(alias = "at")]
    pub at_s: Option<f64>,
    /// Measured queries completed before the event fires (or give `at_s`).
    pub after_requests: Option<i64>,
    /// `kill`, `stop`, `pause`, `resume`, `restart`, `delay`, `drop`, `partition` or `clear`.
    pub action: String,
    /// A process id of the cluster config (`net_partition` names `from` and `to` instead).
    #[serde(default)]
    pub target: String,
    /// Undo the event after this many seconds.
    pub duration_s: Option<f64>,
    /// `delay`: added latency, ms.
    pub delay_ms: Option<i64>,
    /// `partition`: the other node; `delay` / `drop`: whose traffic (an id or `client`).
    pub peer: Option<String>,
    /// `drop`: fraction of responses failed.
    pub probability: Option<f64>,
    /// `net_partition`: one side — process ids, team names, host addresses, or `rest`.
    pub from: Option<Vec<String>>,
    /// `net_partition`: the other side, named the same ways.
    pub to: Option<Vec<String>>,
    /// `net_partition`: only `from` → `to` is cut.
    pub one_way: Option<bool>,
    /// `net_partition`: `blackhole` (dropped, the default) or `reject` (reset).
    pub cut: Option<String>,
    /// `link`: ± spread of `delay_ms`, ms.
    pub jitter_ms: Option<f64>,
    /// `link`: packets lost per direction, percent.
    pub loss_percent: Option<f64>,
    /// `bandwidth`: the rate limit, Mbit/s.
    pub rate_mbit: Option<f64>,
    /// `link`: one of Toxiproxy's connection toxics on the target's link.
    pub toxic: Option<ToxicSpec>,
}

/// What the rest of the workload says about where the faults go.
#[derive(Clone, Debug)]
pub struct FaultContext<'a> {
    /// Process ids of the cluster config.
    pub ids: Vec<&'a str>,
    /// Local (signals and the control service) or remote (the control service only).
    pub mode: ClusterMode,
    /// When a step ends.
    pub length: StepLength,
    /// `cluster.control_service`: the nodes serve the control service.
    pub control_service: bool,
    /// `cluster.network = "netns"`: network faults can be applied.
    pub netns: bool,
    /// Each process's team.
    pub teams: BTreeMap<String, String>,
    /// Each process's host address (after `hosts = "per_process"`).
    pub hosts: BTreeMap<String, String>,
}

/// Checks the `[[fault]]` entries of `file` and resolves them into a [`FaultPlan`].
pub fn resolve(
    file: &Path,
    specs: &[FaultSpec],
    ctx: &FaultContext<'_>,
) -> Result<FaultPlan, WorkloadError> {
    let c = Checker { file };
    let mut events = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let (event, duration_s) = check_event(&c, index, spec, ctx)?;
        let undo = duration_s.and_then(|d| undo_of(&event, d));
        events.push(event);
        events.extend(undo);
    }
    // Stable: ties keep file order, each undo right after its own event's position.
    events.sort_by(|a, b| by_trigger(a.trigger, b.trigger));
    let plan = FaultPlan { events };
    simulate::check(&c, &plan)?;
    Ok(plan)
}

/// Time triggers before request triggers (the two cannot be ordered against each other),
/// each kind in its own order.
fn by_trigger(a: Trigger, b: Trigger) -> Ordering {
    match (a, b) {
        (Trigger::AtSeconds(x), Trigger::AtSeconds(y)) => x.total_cmp(&y),
        (Trigger::AfterRequests(x), Trigger::AfterRequests(y)) => x.cmp(&y),
        (Trigger::AtSeconds(_), Trigger::AfterRequests(_)) => Ordering::Less,
        (Trigger::AfterRequests(_), Trigger::AtSeconds(_)) => Ordering::Greater,
    }
}

/// The event that undoes `event` `duration_s` later (only time-triggered events have one).
fn undo_of(event: &FaultEvent, duration_s: f64) -> Option<FaultEvent> {
    let action = event.action.undo()?;
    let Trigger::AtSeconds(at) = event.trigger else {
        return None;
    };
    Some(FaultEvent {
        index: event.index,
        trigger: Trigger::AtSeconds(at + duration_s),
        action,
        target: event.target.clone(),
        peer: (event.action == FaultAction::Partition)
            .then(|| event.peer.clone())
            .flatten(),
        delay_ms: None,
        probability: None,
        auto_undo: true,
        net: None,
    })
}

/// One entry checked on its own; returns the event and its `duration_s`.
fn check_event(
    c: &Checker<'_>,
    index: usize,
    spec: &FaultSpec,
    ctx: &FaultContext<'_>,
) -> Result<(FaultEvent, Option<f64>), WorkloadError> {
    let key = |field: &str| format!("fault[{index}].{field}");
    let action = FaultAction::from_name(&spec.action).filter(|a| *a != FaultAction::Heal);
    let Some(action) = action else {
        let names: Vec<&str> = FaultAction::ALL
            .iter()
            .filter(|a| **a != FaultAction::Heal)
            .map(|a| a.name())
            .collect();
        return c.fail(
            &key("action"),
            format!("is '{}'; allowed: {}", spec.action, names.join(", ")),
        );
    };
    let net = network::check(c, index, action, spec, ctx)?;
    if action != FaultAction::NetPartition {
        c.one_of(&key("target"), &spec.target, &ctx.ids)?;
    }
    let trigger = check_trigger(c, index, spec)?;
    check_mode(c, index, action, spec.duration_s.is_some(), ctx)?;
    let duration_s = check_duration(c, index, action, trigger, spec.duration_s)?;
    check_end(c, index, trigger, duration_s, ctx.length)?;
    // A network fault's delay_ms is the link's latency, checked with its other keys.
    let delay_ms = if action.is_network() {
        None
    } else {
        check_delay(c, index, action, spec.delay_ms)?
    };
    let peer = check_peer(c, index, action, spec, ctx)?;
    let probability = match (action, spec.probability) {
        (FaultAction::Drop, p) => {
            let p = p.unwrap_or(1.0);
            if !within(p, 0.0, 1.0, false) {
                return c.fail(
                    &key("probability"),
                    format!("is {p}; it must lie in (0, 1]"),
                );
            }
            Some(p)
        }
        (_, None) => None,
        (_, Some(_)) => {
            return c.fail(
                &key("probability"),
                "applies to action = \"drop\" only; remove it",
            )
        }
    };
    let target = match &net {
        Some(net) if action == FaultAction::NetPartition => net.sides(),
        _ => spec.target.clone(),
    };
    let event = FaultEvent {
        index,
        trigger,
        action,
        target,
        peer,
        delay_ms,
        probability,
        auto_undo: false,
        net,
    };
    Ok((event, duration_s))
}

fn check_trigger(
    c: &Checker<'_>,
    index: usize,
    spec: &FaultSpec,
) -> Result<Trigger, WorkloadError> {
    match (spec.at_s, spec.after_requests) {
        (Some(_), Some(_)) => c.fail(
            &format!("fault[{index}]"),
            "give either at_s or after_requests, not both",
        ),
        (None, None) => c.fail(
            &format!("fault[{index}]"),
            "give at_s (seconds after the measured part starts) or after_requests (measured queries completed)",
        ),
        (Some(at), None) if !within(at, 0.0, f64::MAX, true) => c.fail(
            &format!("fault[{index}].at_s"),
            format!("is {at}; it must be seconds ≥ 0"),
        ),
        (None, Some(n)) if n < 0 => c.fail(
            &format!("fault[{index}].after_requests"),
            format!("is {n}; it must be a count ≥ 0"),
        ),
        (Some(at), None) => Ok(Trigger::AtSeconds(at)),
        (None, Some(n)) => Ok(Trigger::AfterRequests(n as u64)),
    }
}

/// Remote mode reaches the nodes through their control service only.
fn check_mode(
    c: &Checker<'_>,
    index: usize,
    action: FaultAction,
    has_duration: bool,
    ctx: &FaultContext<'_>,
) -> Result<(), WorkloadError> {
    let remote = ctx.mode == ClusterMode::Remote;
    if remote && action.is_signal_only() {
        return c.fail(
            &format!("fault[{index}].action"),
            format!("'{}' needs a process the harness started; remote mode can only use the control service: delay, stall, drop, partition, clear, stop", action.name()),
        );
    }
    if remote && action == FaultAction::Stop && has_duration {
        return c.fail(
            &format!("fault[{index}].duration_s"),
            "would restart the stopped node, which remote mode cannot (a restart needs cluster.mode = \"local\"); remove duration_s",
        );
    }
    if !ctx.control_service && (remote || action.needs_control_service()) {
        let how = if remote {
            "remote mode reaches the nodes through their control service"
        } else {
            "it is done by the node's control service"
        };
        return c.fail(
            &format!("fault[{index}].action"),
            format!("'{}': {how}, which cluster.control_service = false turns off; set it to true or remove the event", action.name()),
        );
    }
    Ok(())
}

fn check_duration(
    c: &Checker<'_>,
    index: usize,
    action: FaultAction,
    trigger: Trigger,
    duration_s: Option<f64>,
) -> Result<Option<f64>, WorkloadError> {
    let Some(d) = duration_s else {
        return Ok(None);
    };
    let key = format!("fault[{index}].duration_s");
    if action.undo().is_none() {
        return c.fail(
            &key,
            format!(
                "'{}' has nothing to undo; duration_s applies to kill, stop, pause, delay, drop and partition",
                action.name()
            ),
        );
    }
    if !within(d, 0.0, f64::MAX, false) {
        return c.fail(&key, format!("is {d}; it must be seconds > 0"));
    }
    if matches!(trigger, Trigger::AfterRequests(_)) {
        return c.fail(
            &key,
            "needs at_s (the undo is timed from the event); with after_requests, schedule the undo as its own event",
        );
    }
    Ok(Some(d))
}

/// An event the step never reaches would silently measure nothing.
fn check_end(
    c: &Checker<'_>,
    index: usize,
    trigger: Trigger,
    duration_s: Option<f64>,
    length: StepLength,
) -> Result<(), WorkloadError> {
    match (trigger, length) {
        (Trigger::AtSeconds(at), StepLength::Seconds(step)) => {
            if at >= step {
                return c.fail(
                    &format!("fault[{index}].at_s"),
                    format!("is {at}, past the end of the step (load.duration_s = {step}); use a time below {step}"),
                );
            }
            match duration_s {
                Some(d) if at + d > step => c.fail(
                    &format!("fault[{index}].duration_s"),
                    format!("the undo at {} s falls after the end of the step (load.duration_s = {step}); shorten it, or remove it to keep the fault until the step ends", at + d),
                ),
                _ => Ok(()),
            }
        }
        (Trigger::AfterRequests(n), StepLength::Requests(total)) if n >= total => c.fail(
            &format!("fault[{index}].after_requests"),
            format!("is {n}, past the end of the step (load.requests = {total}); use a count below {total}"),
        ),
        // The step's length is in the other unit: nothing to compare with.
        _ => Ok(()),
    }
}

fn check_delay(
    c: &Checker<'_>,
    index: usize,
    action: FaultAction,
    delay_ms: Option<i64>,
) -> Result<Option<u64>, WorkloadError> {
    let key = format!("fault[{index}].delay_ms");
    let latency = matches!(action, FaultAction::Delay | FaultAction::Stall);
    match (latency, delay_ms) {
        (true, None) => c.fail(
            &key,
            format!("action = \"{action}\" needs the added latency in ms (1 to {MAX_DELAY_MS})"),
        ),
        (true, Some(ms)) if !(1..=MAX_DELAY_MS).contains(&ms) => c.fail(
            &key,
            format!("is {ms}; it must be ms from 1 to {MAX_DELAY_MS}"),
        ),
        (true, Some(ms)) => Ok(Some(ms as u64)),
        (false, None) => Ok(None),
        (false, Some(_)) => c.fail(
            &key,
            "applies to action = \"delay\" or \"stall\" only; remove it",
        ),
    }
}

fn check_peer(
    c: &Checker<'_>,
    index: usize,
    action: FaultAction,
    spec: &FaultSpec,
    ctx: &FaultContext<'_>,
) -> Result<Option<String>, WorkloadError> {
    let key = format!("fault[{index}].peer");
    let Some(peer) = &spec.peer else {
        if action == FaultAction::Partition {
            return c.fail(
                &key,
                format!(
                    "action = \"partition\" needs the other node; one of: {}",
                    ctx.ids.join(", ")
                ),
            );
        }
        return Ok(None);
    };
    match action {
        FaultAction::Partition => c.one_of(&key, peer, &ctx.ids)?,
        FaultAction::Delay | FaultAction::Stall | FaultAction::Drop => {
            let mut allowed = ctx.ids.clone();
            allowed.push(CLIENT_PEER);
            c.one_of(&key, peer, &allowed)?;
        }
        _ => {
            return c.fail(
                &key,
                "applies to partition, delay, stall and drop only; remove it",
            )
        }
    }
    if *peer == spec.target {
        return c.fail(
            &key,
            format!("is the target '{peer}' itself; name another node"),
        );
    }
    Ok(Some(peer.clone()))
}

mod network;
mod toxic;

pub use toxic::ToxicSpec;
#[cfg(test)]
pub(super) mod tests;
