//! The fault schedule of a workload: which node to break, how, and when in each step.
//!
//! - [`plan`] — `[[fault]]` entries checked and resolved into a [`FaultPlan`].
//! - [`simulate`] — each node's state replayed over the plan, refusing contradictions.
//! - [`windows`] — the faults that actually fired as [`FaultWindow`]s.
//! - [`phases`] — queries counted before, during and after the fault windows.
//! - [`execute`] — firing the events during a step (signals or control service), restoring after.
//! - [`network`] — network faults between virtual hosts (partitions, link latency/loss, rate).
//! - [`step`] — one measured step with its schedule: load and events side by side, then figures.
//! - [`poll`] — the cluster's metrics watched during a step: work per query, remote detections.
//! - [`detect`] — detection and recovery times and false alarms, from the nodes' event logs.

use serde::{Deserialize, Serialize};

pub mod detect;
pub mod execute;
pub mod network;
pub mod phases;
pub mod plan;
pub mod poll;
pub mod simulate;
pub mod step;
pub mod windows;

pub use overlay::fault::FaultAction;
pub use phases::{classify_time, phase_durations, Phase, PhaseCounts, PhaseTotals};
pub use plan::{resolve, FaultContext};
pub use windows::{FaultWindow, FiredEvent};

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
    /// `net_partition`, `link`, `bandwidth`: what the network fault does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<network::NetEvent>,
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

    /// Some `link` fault adds latency or a toxic: the virtual hosts need delay proxies on
    /// their paths from the start (a connection is redirected through one when it opens).
    pub fn delays_links(&self) -> bool {
        self.events.iter().any(|e| {
            e.net
                .as_ref()
                .is_some_and(|n| n.latency_ms > 0.0 || n.toxic.is_some())
        })
    }

    /// The event written at `index` in the file (not an automatic undo).
    pub fn event(&self, index: usize) -> Option<&FaultEvent> {
        self.events
            .iter()
            .find(|e| e.index == index && !e.auto_undo)
    }
}
