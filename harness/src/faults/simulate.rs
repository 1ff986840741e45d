//! Replays each node's state over a [`FaultPlan`] and refuses contradictory sequences before
//! anything starts.
//!
//! A node is up, down or paused: up → kill/stop → down → restart → up; up → pause → paused →
//! resume → up; paused → kill → down. `delay`, `drop`, `partition` and `clear` need the
//! node's control service, so its node must be up (and a partition's peer too: there is
//! nothing to cut off from a node already gone). A partition lives on its target, which
//! refuses the peer both ways. A `clear` removes every control fault of its node and lifts
//! its partitions, whichever side of them it is on; one that would cut short a fault still
//! timed to end later (or an automatic clear that would remove a fault other than its own)
//! is refused. A kill or stop ends the control faults the node holds, its partitions
//! included (they lived in the process), but not a partition another node holds against it.
//!
//! Time-triggered and request-triggered events cannot be ordered against each other (how
//! many queries complete by a given second depends on the cluster), so each kind is replayed
//! on its own, every node starting up.

use std::collections::BTreeMap;

use super::{FaultAction, FaultEvent, FaultPlan, Trigger};
use crate::input::{Checker, WorkloadError};

/// What a node is doing at a point of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Down,
    Paused,
}

/// A control fault in force on a node: the event that set it, the node holding it (a
/// partition is listed on both sides, held by its target) and when its own undo ends it.
#[derive(Clone, Copy, Debug)]
struct Active<'p> {
    index: usize,
    action: FaultAction,
    holder: &'p str,
    until_s: Option<f64>,
}

/// One node while the plan is replayed.
struct Node<'p> {
    state: State,
    /// The event that put it in `state` (none for the initial up).
    since: Option<&'p FaultEvent>,
    faults: Vec<Active<'p>>,
}

/// Refuses the first event that contradicts the state its node is in.
pub(crate) fn check(c: &Checker<'_>, plan: &FaultPlan) -> Result<(), WorkloadError> {
    for timed in [true, false] {
        let mut nodes: BTreeMap<&str, Node<'_>> = BTreeMap::new();
        let kind = plan
            .events
            .iter()
            .filter(|e| matches!(e.trigger, Trigger::AtSeconds(_)) == timed);
        for event in kind {
            apply(plan, &mut nodes, event).or_else(|message| fail(c, event, message))?;
        }
    }
    Ok(())
}

/// The error of `event`: its `action` key, or its `duration_s` for an automatic undo.
fn fail(c: &Checker<'_>, event: &FaultEvent, message: String) -> Result<(), WorkloadError> {
    let (key, what) = if event.auto_undo {
        (
            "duration_s",
            format!("the automatic {}", event.action.name()),
        )
    } else {
        ("action", event.action.name().to_string())
    };
    c.fail(
        &format!("fault[{}].{key}", event.index),
        format!(
            "{what} of {} {}: {message}",
            event.target,
            event.trigger.describe()
        ),
    )
}

fn node<'n, 'p>(nodes: &'n mut BTreeMap<&'p str, Node<'p>>, id: &'p str) -> &'n mut Node<'p> {
    nodes.entry(id).or_insert(Node {
        state: State::Up,
        since: None,
        faults: Vec::new(),
    })
}

/// "down since fault[0] (kill at 2 s)".
fn describe(id: &str, n: &Node<'_>) -> String {
    let state = match n.state {
        State::Up => "up",
        State::Down => "down",
        State::Paused => "paused",
    };
    match n.since {
        Some(e) => format!(
            "{id} is {state} since fault[{}] ({} {})",
            e.index,
            e.action.name(),
            e.trigger.describe()
        ),
        None => format!("{id} is {state}"),
    }
}

/// Applies `event`, or says why it contradicts the schedule so far.
fn apply<'p>(
    plan: &'p FaultPlan,
    nodes: &mut BTreeMap<&'p str, Node<'p>>,
    event: &'p FaultEvent,
) -> Result<(), String> {
    use FaultAction as A;
    if event.action.needs_control_service() {
        reachable(nodes, event)?;
    }
    let n = node(nodes, &event.target);
    let next = transition(event, n)?;
    if next != n.state {
        n.state = next;
        n.since = Some(event);
    }
    if matches!(event.action, A::Kill | A::Stop) {
        end_held_faults(nodes, event);
    }
    match event.action {
        A::Delay | A::Drop | A::Partition => {
            let active = Active {
                index: event.index,
                action: event.action,
                holder: &event.target,
                until_s: undo_time(plan, event.index),
            };
            node(nodes, &event.target).faults.push(active);
            if let (A::Partition, Some(peer)) = (event.action, &event.peer) {
                node(nodes, peer).faults.push(active);
            }
        }
        A::Clear => clear(nodes, event)?,
        _ => {}
    }
    Ok(())
}

/// A control-service event needs its target up (and a partition's peer too).
fn reachable<'p>(
    nodes: &mut BTreeMap<&'p str, Node<'p>>,
    event: &'p FaultEvent,
) -> Result<(), String> {
    let peer = event
        .peer
        .as_deref()
        .filter(|_| event.action == FaultAction::Partition);
    for id in std::iter::once(event.target.as_str()).chain(peer) {
        let n = node(nodes, id);
        let fix = match n.state {
            State::Up => continue,
            State::Down => "restart it first",
            State::Paused => "resume it first",
        };
        let why = if id == event.target {
            "so its control service cannot answer"
        } else {
            "so there is nothing to partition the target from"
        };
        return Err(format!("{}, {why}; {fix}", describe(id, n)));
    }
    Ok(())
}

/// The state `event` moves its target to, or why it cannot from the state it is in.
fn transition(event: &FaultEvent, n: &Node<'_>) -> Result<State, String> {
    use FaultAction as A;
    let now = || describe(&event.target, n);
    match (event.action, n.state) {
        (A::Kill | A::Stop | A::Pause, State::Down) => {
            Err(format!("{} already; restart it first", now()))
        }
        (A::Pause, State::Paused) => Err(now()),
        (A::Stop, State::Paused) => Err(format!(
            "{} and cannot stop gracefully; resume it first, or kill it",
            now()
        )),
        (A::Resume, State::Up | State::Down) => {
            Err(format!("{}, not paused; resume follows a pause", now()))
        }
        (A::Restart, State::Up | State::Paused) => Err(format!(
            "restart needs the node down: kill or stop it first ({})",
            now()
        )),
        (A::Kill | A::Stop, _) => Ok(State::Down),
        (A::Pause, State::Up) => Ok(State::Paused),
        (A::Resume, State::Paused) | (A::Restart, State::Down) => Ok(State::Up),
        (A::Delay | A::Stall | A::Drop | A::Partition | A::Clear, state) => Ok(state),
        // Network faults act on links, whatever state the processes are in.
        (A::NetPartition | A::Link | A::Bandwidth | A::Heal, state) => Ok(state),
    }
}

/// A kill or stop ends the control faults its target held: they lived in the process. A
/// partition another node holds against it stays.
fn end_held_faults<'p>(nodes: &mut BTreeMap<&'p str, Node<'p>>, event: &'p FaultEvent) {
    let ended: Vec<usize> = node(nodes, &event.target)
        .faults
        .iter()
        .filter(|f| f.holder == event.target)
        .map(|f| f.index)
        .collect();
    for other in nodes.values_mut() {
        other.faults.retain(|f| !ended.contains(&f.index));
    }
}

/// When the automatic undo of event `index` fires, if it has one.
fn undo_time(plan: &FaultPlan, index: usize) -> Option<f64> {
    plan.events.iter().find_map(|e| match e.trigger {
        Trigger::AtSeconds(t) if e.auto_undo && e.index == index => Some(t),
        _ => None,
    })
}

/// Removes the control faults a `clear` ends, refusing to cut one short.
fn clear<'p>(nodes: &mut BTreeMap<&'p str, Node<'p>>, event: &'p FaultEvent) -> Result<(), String> {
    let now = match event.trigger {
        Trigger::AtSeconds(t) => t,
        Trigger::AfterRequests(_) => f64::NEG_INFINITY,
    };
    let n = node(nodes, &event.target);
    let early = n.faults.iter().find(|f| {
        let timed_later = f.until_s.is_some_and(|u| u > now);
        f.index != event.index && (event.auto_undo || timed_later)
    });
    if let Some(f) = early {
        let until = f
            .until_s
            .map_or(String::new(), |u| format!(", timed to end at {u} s"));
        return Err(format!(
            "it would also remove fault[{}] ({}{until}); a clear ends every control fault of its node, so end one before the other starts",
            f.index,
            f.action.name()
        ));
    }
    // A partition is lifted whichever side is cleared (the harness ends it on its target).
    let lifted: Vec<usize> = n
        .faults
        .drain(..)
        .filter(|f| f.action == FaultAction::Partition)
        .map(|f| f.index)
        .collect();
    for other in nodes.values_mut() {
        other.faults.retain(|f| !lifted.contains(&f.index));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
