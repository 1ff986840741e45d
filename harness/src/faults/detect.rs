//! How the cluster saw the faults: from the nodes' event logs (`--events-file`, JSON lines),
//! the time each observer took to suspect and declare a faulted node failed, the time it took
//! to see it recover, and every failure declaration no injected fault explains (a false alarm).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::execute::FiredRecord;
use super::FaultAction;

/// After a fault is undone, declarations about its node still count as caused by it this long
/// (a node that just restarted may still be seen failed by a slow observer).
const GRACE_MS: u64 = 5_000;

/// One line of a node's event log.
#[derive(Clone, Debug, Deserialize)]
pub struct NodeEvent {
    /// The event name (`neighbor_failed`, ...).
    pub event: String,
    /// The node that logged it.
    pub node: String,
    /// When, ms since the Unix epoch.
    pub unix_ms: u64,
    /// Event details (`neighbor`, `from`, `to`, ...).
    #[serde(default)]
    pub detail: Map<String, Value>,
}

impl NodeEvent {
    fn neighbor(&self) -> Option<&str> {
        self.detail.get("neighbor").and_then(Value::as_str)
    }
}

/// Every event of every `*.jsonl` file in `dir`, oldest first (unreadable lines skipped).
pub fn read_events(dir: &Path) -> Vec<NodeEvent> {
    let mut events: Vec<NodeEvent> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str::<NodeEvent>(line).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    events.sort_by_key(|e| e.unix_ms);
    events
}

/// How one observer saw one fault.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    /// The fault's event index in the plan.
    pub index: usize,
    /// What was done (`kill`, `pause`, ...).
    pub action: FaultAction,
    /// The faulted node.
    pub target: String,
    /// The node that noticed.
    pub observer: String,
    /// From the fault to the observer's first suspicion, ms.
    pub suspected_ms: Option<f64>,
    /// From the fault to the observer declaring the node failed, ms.
    pub detected_ms: Option<f64>,
    /// From the fault's undo to the observer declaring the node recovered, ms (0 when the
    /// observer saw it back before the undo was stamped, e.g. before a restart was ready).
    pub recovered_ms: Option<f64>,
}

/// A node event placed on the step's time axis, for charts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterEvent {
    /// Seconds since the measured part began.
    pub at_s: f64,
    /// Who logged it.
    pub node: String,
    /// What (`neighbor_failed`, `circuit_opened`, `state_changed`, ...).
    pub event: String,
    /// About whom, or the new state.
    pub subject: String,
}

/// Detections, false alarms and the cluster's events of one step.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DetectionReport {
    /// Per fault and observer.
    pub detections: Vec<Detection>,
    /// Failure declarations no injected fault explains.
    pub false_alarms: Vec<String>,
    /// The nodes' events during the step.
    pub events: Vec<ClusterEvent>,
}

/// Faults that take a node away from its peers (their observers are expected to notice).
fn takes_node_away(action: FaultAction) -> bool {
    matches!(
        action,
        FaultAction::Kill
            | FaultAction::Stop
            | FaultAction::Pause
            | FaultAction::Partition
            | FaultAction::Drop
    )
}

/// Whether `event` undoes the fault `fault` started: its own undo, or a clear, of the same
/// node, later.
fn undoes(event: &FiredRecord, fault: &FiredRecord) -> bool {
    !std::ptr::eq(event, fault)
        && event.unix_ms >= fault.unix_ms
        && event.fired.target == fault.fired.target
        && (fault.fired.action.undo() == Some(event.fired.action)
            || event.fired.action == FaultAction::Clear)
}

/// Reads what the nodes logged between `from_ms` and `to_ms` against what was fired;
/// `measured_start_ms` is time zero of the step.
pub fn analyse(
    events: &[NodeEvent],
    fired: &[FiredRecord],
    from_ms: u64,
    to_ms: u64,
    measured_start_ms: u64,
) -> DetectionReport {
    let events: Vec<&NodeEvent> = events
        .iter()
        .filter(|e| e.unix_ms >= from_ms && e.unix_ms <= to_ms)
        .collect();
    let mut detections = Vec::new();
    let mut explained: Vec<(String, u64, u64)> = Vec::new();
    for (position, fault) in fired.iter().enumerate() {
        if !takes_node_away(fault.fired.action) {
            continue;
        }
        let target = fault.fired.target.as_str();
        let undo = fired.iter().find(|e| undoes(e, fault));
        let until = undo.map_or(u64::MAX, |u| u.unix_ms.saturating_add(GRACE_MS));
        explained.push((target.to_string(), fault.unix_ms, until));
        // What observers log about the target once the next fault on it has fired is about
        // that fault.
        let next_fault = fired[position + 1..]
            .iter()
            .find(|f| f.fired.target == target && takes_node_away(f.fired.action))
            .map_or(u64::MAX, |f| f.unix_ms);
        let first = |name: &str, since: u64, before: u64| -> BTreeMap<&str, f64> {
            let mut seen = BTreeMap::new();
            for e in events.iter().filter(|e| {
                e.event == name
                    && e.neighbor() == Some(target)
                    && e.unix_ms >= since
                    && e.unix_ms < before
            }) {
                seen.entry(e.node.as_str())
                    .or_insert((e.unix_ms - since) as f64);
            }
            seen
        };
        // A node that was itself down when this fault began notices it only once it is back:
        // that is not a detection time.
        let away: Vec<&str> = fired
            .iter()
            .filter(|other| takes_node_away(other.fired.action) && other.unix_ms <= fault.unix_ms)
            .filter(|other| {
                !fired
                    .iter()
                    .any(|u| undoes(u, other) && u.unix_ms <= fault.unix_ms)
            })
            .map(|other| other.fired.target.as_str())
            .filter(|t| *t != target)
            .collect();
        let noticed_before = until.min(next_fault);
        let suspected = first("neighbor_suspected", fault.unix_ms, noticed_before);
        let detected = first("neighbor_failed", fault.unix_ms, noticed_before);
        // A restart is stamped once the node is ready, and quick observers may have seen it
        // back by then: recoveries count from the fault on, timed from the undo (0 when seen
        // before the undo was stamped).
        let recovered = undo.map(|u| {
            let mut from_fault = first("neighbor_recovered", fault.unix_ms, next_fault);
            for ms in from_fault.values_mut() {
                *ms = (*ms - (u.unix_ms - fault.unix_ms) as f64).max(0.0);
            }
            from_fault
        });
        let observers: std::collections::BTreeSet<&str> =
            suspected.keys().chain(detected.keys()).copied().collect();
        for observer in observers.into_iter().filter(|o| !away.contains(o)) {
            detections.push(Detection {
                index: fault.fired.index,
                action: fault.fired.action,
                target: target.to_string(),
                observer: observer.to_string(),
                suspected_ms: suspected.get(observer).copied(),
                detected_ms: detected.get(observer).copied(),
                recovered_ms: recovered.as_ref().and_then(|r| r.get(observer).copied()),
            });
        }
    }
    let at_s = |ms: u64| (ms as f64 - measured_start_ms as f64) / 1000.0;
    let false_alarms = events
        .iter()
        .filter(|e| e.event == "neighbor_failed")
        .filter(|e| {
            let about = e.neighbor().unwrap_or_default();
            !explained.iter().any(|(target, start, end)| {
                (target == about || target == &e.node) && e.unix_ms >= *start && e.unix_ms <= *end
            })
        })
        .map(|e| {
            format!(
                "{} declared {} failed at {:.2} s with no fault injected on it",
                e.node,
                e.neighbor().unwrap_or("?"),
                at_s(e.unix_ms)
            )
        })
        .collect();
    let events = events
        .iter()
        .map(|e| ClusterEvent {
            at_s: at_s(e.unix_ms),
            node: e.node.clone(),
            event: e.event.clone(),
            subject: e
                .neighbor()
                .or_else(|| e.detail.get("to").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string(),
        })
        .collect();
    DetectionReport {
        detections,
        false_alarms,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FiredEvent;

    fn fired(index: usize, action: FaultAction, target: &str, unix_ms: u64) -> FiredRecord {
        FiredRecord {
            fired: FiredEvent {
                index,
                action,
                target: target.to_string(),
                at_s: (unix_ms - 1_000) as f64 / 1000.0,
                auto_undo: false,
            },
            unix_ms,
            error: None,
        }
    }

    fn event(name: &str, node: &str, neighbor: &str, unix_ms: u64) -> NodeEvent {
        let line = format!(
            r#"{{"event":"{name}","node":"{node}","unix_ms":{unix_ms},"detail":{{"neighbor":"{neighbor}"}}}}"#
        );
        serde_json::from_str(&line).unwrap()
    }

    #[test]
    fn detections_recoveries_and_false_alarms() {
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(0, FaultAction::Restart, "C", 6_000),
        ];
        let log = [
            event("neighbor_suspected", "B", "C", 2_100),
            event("neighbor_failed", "B", "C", 2_300),
            event("neighbor_failed", "A", "C", 2_400),
            event("neighbor_recovered", "A", "C", 6_200),
            event("neighbor_recovered", "B", "C", 6_150),
            event("neighbor_failed", "E", "F", 7_000),
        ];
        let report = analyse(&log, &plan, 1_000, 10_000, 1_000);
        let b = report
            .detections
            .iter()
            .find(|d| d.observer == "B")
            .unwrap();
        assert_eq!(
            (b.suspected_ms, b.detected_ms, b.recovered_ms),
            (Some(100.0), Some(300.0), Some(150.0))
        );
        let a = report
            .detections
            .iter()
            .find(|d| d.observer == "A")
            .unwrap();
        assert_eq!((a.suspected_ms, a.detected_ms), (None, Some(400.0)));
        assert_eq!(report.false_alarms.len(), 1);
        assert!(report.false_alarms[0].starts_with("E declared F failed at 6.00 s"));
        assert_eq!(report.events.len(), 6);
    }

    #[test]
    fn an_observer_down_at_the_time_is_not_a_detector() {
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(1, FaultAction::Kill, "F", 2_500),
            fired(0, FaultAction::Restart, "C", 9_000),
        ];
        let log = [
            event("neighbor_failed", "E", "F", 2_800),
            event("neighbor_failed", "C", "F", 9_500),
        ];
        let report = analyse(&log, &plan, 1_000, 12_000, 1_000);
        let observers: Vec<&str> = report
            .detections
            .iter()
            .filter(|d| d.target == "F")
            .map(|d| d.observer.as_str())
            .collect();
        assert_eq!(observers, ["E"]);
    }

    #[test]
    fn a_declaration_after_the_next_fault_belongs_to_that_fault() {
        // C killed at 2 s, restarted at 4 s (within the grace of the first kill), killed again
        // at 8 s; B declared it failed at 8.3 s only.
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(0, FaultAction::Restart, "C", 4_000),
            fired(1, FaultAction::Kill, "C", 8_000),
        ];
        let log = [event("neighbor_failed", "B", "C", 8_300)];
        let report = analyse(&log, &plan, 1_000, 12_000, 1_000);
        let first: Vec<&Detection> = report.detections.iter().filter(|d| d.index == 0).collect();
        assert!(first.is_empty(), "{first:?}");
        let second: Vec<(&str, Option<f64>)> = report
            .detections
            .iter()
            .filter(|d| d.index == 1)
            .map(|d| (d.observer.as_str(), d.detected_ms))
            .collect();
        assert_eq!(second, [("B", Some(300.0))]);
        assert!(report.false_alarms.is_empty(), "{:?}", report.false_alarms);
    }

    #[test]
    fn a_recovery_after_the_next_fault_is_not_the_first_ones() {
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(0, FaultAction::Restart, "C", 4_000),
            fired(1, FaultAction::Kill, "C", 8_000),
            fired(1, FaultAction::Restart, "C", 10_000),
        ];
        let log = [
            event("neighbor_failed", "B", "C", 2_300),
            event("neighbor_recovered", "B", "C", 10_100),
        ];
        let report = analyse(&log, &plan, 1_000, 12_000, 1_000);
        let b = report
            .detections
            .iter()
            .find(|d| d.index == 0 && d.observer == "B")
            .unwrap();
        assert_eq!((b.detected_ms, b.recovered_ms), (Some(300.0), None));
    }

    #[test]
    fn a_recovery_seen_before_the_restart_was_stamped_counts_as_immediate() {
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(0, FaultAction::Restart, "C", 6_000),
        ];
        let log = [
            event("neighbor_failed", "A", "C", 2_300),
            event("neighbor_recovered", "A", "C", 5_950),
        ];
        let report = analyse(&log, &plan, 1_000, 10_000, 1_000);
        assert_eq!(report.detections[0].recovered_ms, Some(0.0));
    }

    #[test]
    fn event_files_are_read_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("events-B.jsonl"),
            "{\"event\":\"neighbor_failed\",\"node\":\"B\",\"unix_ms\":5,\"detail\":{}}\nnot json\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("events-A.jsonl"),
            "{\"event\":\"state_changed\",\"node\":\"A\",\"unix_ms\":3,\"detail\":{\"to\":\"warning\"}}\n",
        )
        .unwrap();
        let events = read_events(dir.path());
        assert_eq!(events.iter().map(|e| e.unix_ms).collect::<Vec<_>>(), [3, 5]);
    }
}
