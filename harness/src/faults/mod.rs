//! The fault schedule of a workload: which node to break, how, and when in each step.
//!
//! - [`plan`] — `[[fault]]` entries checked and resolved into a [`FaultPlan`].
//! - [`simulate`] — each node's state replayed over the plan, refusing contradictions.
//! - [`windows`] — the faults that actually fired as [`FaultWindow`]s.
//! - [`phases`] — queries counted before, during and after the fault windows.
//! - [`execute`] — firing the events during a step (signals or control service), restoring after.
//! - [`step`] — one measured step with its schedule: load and events side by side, then figures.
//! - [`poll`] — the cluster's metrics watched during a step: work per query, remote detections.
//! - [`detect`] — detection and recovery times and false alarms, from the nodes' event logs.

use serde::{Deserialize, Serialize};

pub mod detect;
pub mod execute;
pub mod phases;
pub mod plan;
pub mod poll;
pub mod simulate;
pub mod step;
pub mod windows;

pub use phases::{classify_time, phase_durations, Phase, PhaseCounts, PhaseTotals};
pub use plan::{resolve, FaultContext};
pub use windows::{FaultWindow, FiredEvent};

/// What a fault event does to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// SIGKILL: the process dies at once.
    Kill,
    /// Graceful stop: SIGTERM locally, the control service remotely.
    Stop,
    /// SIGSTOP: the process hangs, its connections stay open.
    Pause,
    /// SIGCONT: a paused process carries on.
    Resume,
    /// Starts a killed or stopped node again with its original arguments.
    Restart,
    /// Control service: added latency on the node's answers.
    Delay,
    /// Control service: a fraction of the node's answers fail.
    Drop,
    /// Control service: the target and its peer refuse each other (the fault lives on the
    /// target, which refuses the peer's calls and its own calls to the peer).
    Partition,
    /// Control service: removes every delay, drop and partition of the node, and lifts the
    /// partitions other nodes hold against it.
    Clear,
}

impl FaultAction {
    /// Every action, in the order the documentation lists them.
    pub const ALL: [FaultAction; 9] = [
        FaultAction::Kill,
        FaultAction::Stop,
        FaultAction::Pause,
        FaultAction::Resume,
        FaultAction::Restart,
        FaultAction::Delay,
        FaultAction::Drop,
        FaultAction::Partition,
        FaultAction::Clear,
    ];

    /// The name used in workload files.
    pub fn name(self) -> &'static str {
        match self {
            FaultAction::Kill => "kill",
            FaultAction::Stop => "stop",
            FaultAction::Pause => "pause",
            FaultAction::Resume => "resume",
            FaultAction::Restart => "restart",
            FaultAction::Delay => "delay",
            FaultAction::Drop => "drop",
            FaultAction::Partition => "partition",
            FaultAction::Clear => "clear",
        }
    }

    /// The action called `name` in workload files.
    pub fn from_name(name: &str) -> Option<FaultAction> {
        FaultAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Only the node's control service can do it (in both modes).
    pub fn needs_control_service(self) -> bool {
        matches!(
            self,
            FaultAction::Delay | FaultAction::Drop | FaultAction::Partition | FaultAction::Clear
        )
    }

    /// Only signals to a process the harness started can do it (local mode).
    pub fn is_signal_only(self) -> bool {
        matches!(
            self,
            FaultAction::Kill | FaultAction::Pause | FaultAction::Resume | FaultAction::Restart
        )
    }

    /// The action that undoes this one after `duration_s`, if any.
    pub fn undo(self) -> Option<FaultAction> {
        match self {
            FaultAction::Kill | FaultAction::Stop => Some(FaultAction::Restart),
            FaultAction::Pause => Some(FaultAction::Resume),
            FaultAction::Delay | FaultAction::Drop | FaultAction::Partition => {
                Some(FaultAction::Clear)
            }
            FaultAction::Resume | FaultAction::Restart | FaultAction::Clear => None,
        }
    }
}

/// When an event fires, counted from the start of the step's measured part.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// This many seconds after the measured part started.
    AtSeconds(f64),
    /// Once this many measured queries have completed.
    AfterRequests(u64),
}

impl Trigger {
    /// "at 5 s" or "after 500 requests", for messages.
    pub fn describe(self) -> String {
        match self {
            Trigger::AtSeconds(s) => format!("at {s} s"),
            Trigger::AfterRequests(n) => format!("after {n} requests"),
        }
    }
}

/// One event of a resolved schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Position of the `[[fault]]` entry in the file, from 0 (an automatic undo carries the
    /// index of the event it undoes).
    pub index: usize,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: FaultAction,
    /// The process id it acts on.
    pub target: String,
    /// `partition`: the other node; `delay` / `drop`: whose traffic (an id or `client`; `None`
    /// for all); the automatic `clear` of a partition: the partition's other node (the clear
    /// acts on the target, where the partition lives).
    pub peer: Option<String>,
    /// `delay`: added latency, ms.
    pub delay_ms: Option<u64>,
    /// `drop`: fraction of responses failed, in (0, 1].
    pub probability: Option<f64>,
    /// Inserted for the `duration_s` of event `index`, not written in the file.
    pub auto_undo: bool,
}

/// The checked schedule: time-triggered events first, in time order, then request-triggered
/// ones in count order; ties keep file order, an automatic undo right after its own event's
/// position. Empty when the file has no `[[fault]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The events.
    pub events: Vec<FaultEvent>,
}

impl FaultPlan {
    /// No faults scheduled.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Some event needs the nodes' control service whatever the mode (`delay`, `drop`,
    /// `partition`, `clear`); in remote mode every event does.
    pub fn uses_control_service(&self) -> bool {
        self.events.iter().any(|e| e.action.needs_control_service())
    }

    /// The event written at `index` in the file (not an automatic undo).
    pub fn event(&self, index: usize) -> Option<&FaultEvent> {
        self.events
            .iter()
            .find(|e| e.index == index && !e.auto_undo)
    }
}
