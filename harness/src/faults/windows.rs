//! The faults that actually fired in a step, as windows of time.
//!
//! A window opens at `kill`, `stop`, `pause`, `delay`, `drop` or `partition` and closes at the
//! event that ends it on the same target: `restart` (after kill or stop), `resume` (after
//! pause), `clear` (every control fault of its node, and a partition from either side). A
//! kill or stop also closes its node's pause, delay and drop windows and the partitions its
//! node holds as their target (they lived in the process; a partition lives on its target
//! only, which refuses the peer both ways), and a new delay or drop of the same traffic, or a
//! partition of the same pair, replaces the old one. A window nothing closes lasts until the
//! step ended. A network fault (`net_partition`, `link`, `bandwidth`) closes at its `heal`.

use serde::{Deserialize, Serialize};

use super::{FaultAction, FaultEvent, FaultPlan};

/// An event as it actually fired during a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FiredEvent {
    /// [`FaultEvent::index`] of the event.
    pub index: usize,
    /// What it did.
    pub action: FaultAction,
    /// The node it acted on.
    pub target: String,
    /// When it fired, seconds since the measured part started.
    pub at_s: f64,
    /// It was the automatic undo of a `duration_s`.
    pub auto_undo: bool,
    /// A network fault that leaves its target unreachable ([`super::network::NetEvent::cuts_off`]).
    #[serde(default)]
    pub cuts_off: bool,
}

/// A stretch of a step during which one fault was in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// For reports: "kill C", "pause E", "delay B→client 200 ms", "partition B|C".
    pub label: String,
    /// The action that opened it.
    pub action: FaultAction,
    /// The node it acted on.
    pub target: String,
    /// Its peer (`partition`, `delay`, `drop`), if any.
    pub peer: Option<String>,
    /// When it opened, seconds since the measured part started.
    pub start_s: f64,
    /// When it closed; `None` when it lasted until the step ended.
    pub end_s: Option<f64>,
}

impl FaultWindow {
    /// `t_s` lies in [start, end) (an open window never ends).
    pub fn contains(&self, t_s: f64) -> bool {
        self.start_s <= t_s && self.end_s.is_none_or(|end| t_s < end)
    }

    /// Whether `fired` ends this window (see the module doc).
    fn closed_by(&self, fired: &FiredEvent, peer: Option<&str>) -> bool {
        use FaultAction as A;
        let same = self.target == fired.target;
        match fired.action {
            A::Kill | A::Stop => {
                same && matches!(
                    self.action,
                    A::Kill | A::Stop | A::Pause | A::Delay | A::Stall | A::Drop | A::Partition
                )
            }
            A::Pause | A::Resume => same && self.action == A::Pause,
            A::Restart => same && matches!(self.action, A::Kill | A::Stop | A::Pause),
            A::Delay | A::Stall | A::Drop => {
                same && self.action == fired.action && self.peer.as_deref() == peer
            }
            A::Partition => self.action == A::Partition && self.pair_is(&fired.target, peer),
            A::NetPartition | A::Link | A::Bandwidth => false,
            A::Heal => same && self.action.is_network(),
            A::Clear => {
                (same && self.action.needs_control_service())
                    || (self.action == A::Partition
                        && self.peer.as_deref() == Some(fired.target.as_str()))
            }
        }
    }

    fn pair_is(&self, a: &str, b: Option<&str>) -> bool {
        let mine = (self.target.as_str(), self.peer.as_deref());
        mine == (a, b) || b.is_some_and(|b| mine == (b, Some(a)))
    }
}

/// Whether an action starts a fault (rather than ending one).
fn opens(action: FaultAction) -> bool {
    action.undo().is_some()
}

/// "delay B→client 200 ms", from the planned event when there is one.
fn label(action: FaultAction, target: &str, planned: Option<&FaultEvent>) -> String {
    let peer = planned.and_then(|e| e.peer.as_deref());
    let towards = peer.map_or(String::new(), |p| format!("→{p}"));
    if let Some(net) = planned.and_then(|e| e.net.as_ref()) {
        return net.label(action);
    }
    match (action, planned) {
        (FaultAction::Partition, _) => format!("partition {target}|{}", peer.unwrap_or("?")),
        (
            FaultAction::Delay | FaultAction::Stall,
            Some(FaultEvent {
                delay_ms: Some(ms), ..
            }),
        ) => {
            format!("{} {target}{towards} {ms} ms", action.name())
        }
        (
            FaultAction::Drop,
            Some(FaultEvent {
                probability: Some(p),
                ..
            }),
        ) if *p < 1.0 => {
            format!("drop {target}{towards} {} %", (p * 1000.0).round() / 10.0)
        }
        (FaultAction::Delay | FaultAction::Stall | FaultAction::Drop, _) => {
            format!("{} {target}{towards}", action.name())
        }
        _ => format!("{} {target}", action.name()),
    }
}

impl FaultPlan {
    /// The windows of the events that fired in a step whose measured part lasted
    /// `step_end_s` seconds, in the order they opened. Events fired at or after the step's
    /// end are ignored.
    pub fn windows(&self, fired: &[FiredEvent], step_end_s: f64) -> Vec<FaultWindow> {
        let mut order: Vec<&FiredEvent> = fired.iter().filter(|f| f.at_s < step_end_s).collect();
        order.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        let mut windows: Vec<FaultWindow> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for f in order {
            let planned = self.event(f.index);
            let peer = planned.and_then(|e| e.peer.as_deref());
            open.retain(|&i| {
                let closes = windows[i].closed_by(f, peer);
                if closes {
                    windows[i].end_s = Some(f.at_s);
                }
                !closes
            });
            if opens(f.action) {
                open.push(windows.len());
                windows.push(FaultWindow {
                    label: label(f.action, &f.target, planned),
                    action: f.action,
                    target: f.target.clone(),
                    peer: peer.map(str::to_string),
                    start_s: f.at_s,
                    end_s: None,
                });
            }
        }
        windows
    }
}

#[cfg(test)]
mod tests;
