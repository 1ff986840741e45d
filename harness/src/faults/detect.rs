//! How the cluster saw the faults: from the nodes' event logs (`--events-file`, JSON lines),
//! the time each observer took to suspect and declare a faulted node failed, the time it took
//! to see it recover, and every failure declaration no injected fault explains (a false alarm).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use overlay::event::{Event, EventKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::execute::FiredRecord;
use super::{FaultAction, FiredEvent};

/// After a fault is undone, declarations about its node still count as caused by it this long
/// (a node that just restarted may still be seen failed by a slow observer).
const GRACE_MS: u64 = 5_000;

/// Every event of every `*.jsonl` file in `dir` (the nodes' `--events-file`), oldest first (unreadable lines, and events
/// of kinds this version does not know, skipped).
pub fn read_events(dir: &Path) -> Vec<Event> {
    let mut events: Vec<Event> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str::<Event>(line).ok())
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
    pub event: EventKind,
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

/// Faults that take a node away from its peers (their observers are expected to notice):
/// process and partition faults, and a link fault that cuts its node off.
fn takes_node_away(fired: &FiredEvent) -> bool {
    fired.cuts_off
        || matches!(
            fired.action,
            FaultAction::Kill
                | FaultAction::Stop
                | FaultAction::Pause
                | FaultAction::Partition
                | FaultAction::NetPartition
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

/// When one fault's effects are looked for.
struct FaultSpan<'f> {
    /// The fault.
    fault: &'f FiredRecord,
    /// What undid it, if anything did.
    undo: Option<&'f FiredRecord>,
    /// Declarations about the target until then are explained by the fault (the undo plus
    /// [`GRACE_MS`]).
    until: u64,
    /// When the next fault on the same target fired: what observers log about the target
    /// from then on is about that fault.
    next_fault: u64,
}

impl<'f> FaultSpan<'f> {
    /// The span of `fired[position]`.
    fn of(fired: &'f [FiredRecord], position: usize) -> Self {
        let fault = &fired[position];
        let undo = fired.iter().find(|e| undoes(e, fault));
        let next_fault = fired[position + 1..]
            .iter()
            .find(|f| f.fired.target == fault.fired.target && takes_node_away(&f.fired))
            .map_or(u64::MAX, |f| f.unix_ms);
        Self {
            fault,
            undo,
            until: undo.map_or(u64::MAX, |u| u.unix_ms.saturating_add(GRACE_MS)),
            next_fault,
        }
    }

    fn target(&self) -> &'f str {
        self.fault.fired.target.as_str()
    }
}

/// A span of time in which declarations about `target` are explained by a fault on it.
struct Explained<'f> {
    target: &'f str,
    from_ms: u64,
    until_ms: u64,
}

/// Reads what the nodes logged between `from_ms` and `to_ms` against what was fired;
/// `measured_start_ms` is time zero of the step.
pub fn analyse(
    events: &[Event],
    fired: &[FiredRecord],
    from_ms: u64,
    to_ms: u64,
    measured_start_ms: u64,
) -> DetectionReport {
    let events: Vec<&Event> = events
        .iter()
        .filter(|e| e.unix_ms >= from_ms && e.unix_ms <= to_ms)
        .collect();
    let mut detections = Vec::new();
    let mut explained = Vec::new();
    for (position, record) in fired.iter().enumerate() {
        if !takes_node_away(&record.fired) {
            continue;
        }
        let span = FaultSpan::of(fired, position);
        explained.push(Explained {
            target: span.target(),
            from_ms: record.unix_ms,
            until_ms: span.until,
        });
        detections.extend(observations(&events, fired, &span));
    }
    DetectionReport {
        detections,
        false_alarms: false_alarms(&events, &explained, measured_start_ms),
        events: timeline(&events, measured_start_ms),
    }
}

/// How each observer saw the fault of `span`: suspicion, declaration and recovery times.
fn observations(events: &[&Event], fired: &[FiredRecord], span: &FaultSpan<'_>) -> Vec<Detection> {
    let (fault, target) = (span.fault, span.target());
    let first = |kind, since, before| first_seen(events, kind, target, since, before);
    let noticed_before = span.until.min(span.next_fault);
    let suspected = first(EventKind::NeighborSuspected, fault.unix_ms, noticed_before);
    let detected = first(EventKind::NeighborFailed, fault.unix_ms, noticed_before);
    // A restart is stamped once the node is ready, and quick observers may have seen it
    // back by then: recoveries count from the fault on, timed from the undo (0 when seen
    // before the undo was stamped).
    let recovered = span.undo.map(|u| {
        let mut from_fault = first(EventKind::NeighborRecovered, fault.unix_ms, span.next_fault);
        for ms in from_fault.values_mut() {
            *ms = (*ms - (u.unix_ms - fault.unix_ms) as f64).max(0.0);
        }
        from_fault
    });
    let away = away_when(fired, fault);
    let observers: BTreeSet<&str> = suspected.keys().chain(detected.keys()).copied().collect();
    observers
        .into_iter()
        .filter(|o| !away.contains(o))
        .map(|observer| Detection {
            index: fault.fired.index,
            action: fault.fired.action,
            target: target.to_string(),
            observer: observer.to_string(),
            suspected_ms: suspected.get(observer).copied(),
            detected_ms: detected.get(observer).copied(),
            recovered_ms: recovered.as_ref().and_then(|r| r.get(observer).copied()),
        })
        .collect()
}

/// Per observer, ms from `since` to its first `kind` event about `target` before `before`.
fn first_seen<'e>(
    events: &[&'e Event],
    kind: EventKind,
    target: &str,
    since: u64,
    before: u64,
) -> BTreeMap<&'e str, f64> {
    let mut seen = BTreeMap::new();
    for e in events.iter().filter(|e| {
        e.kind == kind && e.neighbor() == Some(target) && e.unix_ms >= since && e.unix_ms < before
    }) {
        seen.entry(e.node.as_str())
            .or_insert((e.unix_ms - since) as f64);
    }
    seen
}

/// The other nodes that were themselves down when `fault` began: one notices the fault only
/// once it is back, which is not a detection time. Nodes cut off by the same fault (the other
/// processes of a partition) are not away: each side is the other's observers.
fn away_when<'f>(fired: &'f [FiredRecord], fault: &FiredRecord) -> Vec<&'f str> {
    fired
        .iter()
        .filter(|other| other.fired.index != fault.fired.index)
        .filter(|other| takes_node_away(&other.fired) && other.unix_ms <= fault.unix_ms)
        .filter(|other| {
            !fired
                .iter()
                .any(|u| undoes(u, other) && u.unix_ms <= fault.unix_ms)
        })
        .map(|other| other.fired.target.as_str())
        .filter(|t| *t != fault.fired.target)
        .collect()
}

/// Seconds from time zero of the step.
fn at_s(ms: u64, measured_start_ms: u64) -> f64 {
    (ms as f64 - measured_start_ms as f64) / 1000.0
}

/// Failure declarations no fault explains: about, or by, a node with no fault on it then.
fn false_alarms(
    events: &[&Event],
    explained: &[Explained<'_>],
    measured_start_ms: u64,
) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::NeighborFailed)
        .filter(|e| {
            let about = e.neighbor().unwrap_or_default();
            !explained.iter().any(|x| {
                (x.target == about || x.target == e.node)
                    && e.unix_ms >= x.from_ms
                    && e.unix_ms <= x.until_ms
            })
        })
        .map(|e| {
            format!(
                "{} declared {} failed at {:.2} s with no fault injected on it",
                e.node,
                e.neighbor().unwrap_or("?"),
                at_s(e.unix_ms, measured_start_ms)
            )
        })
        .collect()
}

/// The events on the step's time axis, each with whom it is about (or the new state).
fn timeline(events: &[&Event], measured_start_ms: u64) -> Vec<ClusterEvent> {
    events
        .iter()
        .map(|e| ClusterEvent {
            at_s: at_s(e.unix_ms, measured_start_ms),
            node: e.node.clone(),
            event: e.kind,
            subject: e
                .neighbor()
                .or_else(|| e.detail.get("to").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
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
                cuts_off: false,
            },
            unix_ms,
            error: None,
        }
    }

    fn event(kind: EventKind, node: &str, neighbor: &str, unix_ms: u64) -> Event {
        let line = format!(
            r#"{{"event":"{kind}","node":"{node}","unix_ms":{unix_ms},"detail":{{"neighbor":"{neighbor}"}}}}"#
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
            event(EventKind::NeighborSuspected, "B", "C", 2_100),
            event(EventKind::NeighborFailed, "B", "C", 2_300),
            event(EventKind::NeighborFailed, "A", "C", 2_400),
            event(EventKind::NeighborRecovered, "A", "C", 6_200),
            event(EventKind::NeighborRecovered, "B", "C", 6_150),
            event(EventKind::NeighborFailed, "E", "F", 7_000),
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
    fn a_link_fault_that_cuts_its_node_off_explains_declarations_and_a_slow_link_does_not() {
        let mut cut = fired(0, FaultAction::Link, "C", 2_000);
        cut.fired.cuts_off = true;
        let plan = [
            cut,
            fired(0, FaultAction::Heal, "C", 5_000),
            fired(1, FaultAction::Link, "D", 6_000),
            fired(1, FaultAction::Heal, "D", 9_000),
        ];
        let log = [
            event(EventKind::NeighborFailed, "B", "C", 2_600),
            event(EventKind::NeighborFailed, "E", "D", 6_600),
        ];
        let report = analyse(&log, &plan, 1_000, 12_000, 1_000);
        let seen: Vec<(&str, &str, Option<f64>)> = report
            .detections
            .iter()
            .map(|d| (d.target.as_str(), d.observer.as_str(), d.detected_ms))
            .collect();
        assert_eq!(seen, [("C", "B", Some(600.0))]);
        assert_eq!(report.false_alarms.len(), 1, "{:?}", report.false_alarms);
        assert!(report.false_alarms[0].starts_with("E declared D failed"));
    }

    #[test]
    fn each_side_of_a_partition_observes_the_other() {
        // One partition, A | C both ways, as detection reads it: one fault per process.
        let plan = [
            fired(0, FaultAction::NetPartition, "C", 2_000),
            fired(0, FaultAction::NetPartition, "A", 2_000),
            fired(0, FaultAction::Heal, "C", 7_000),
            fired(0, FaultAction::Heal, "A", 7_000),
        ];
        let log = [
            event(EventKind::NeighborFailed, "A", "C", 3_800),
            event(EventKind::NeighborFailed, "C", "A", 3_900),
            event(EventKind::NeighborRecovered, "A", "C", 7_400),
            event(EventKind::NeighborRecovered, "C", "A", 7_600),
        ];
        let report = analyse(&log, &plan, 1_000, 12_000, 1_000);
        let seen: Vec<(&str, &str, Option<f64>, Option<f64>)> = report
            .detections
            .iter()
            .map(|d| {
                let (target, observer) = (d.target.as_str(), d.observer.as_str());
                (target, observer, d.detected_ms, d.recovered_ms)
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("C", "A", Some(1_800.0), Some(400.0)),
                ("A", "C", Some(1_900.0), Some(600.0))
            ]
        );
        assert!(report.false_alarms.is_empty(), "{:?}", report.false_alarms);
    }

    #[test]
    fn an_observer_down_at_the_time_is_not_a_detector() {
        let plan = [
            fired(0, FaultAction::Kill, "C", 2_000),
            fired(1, FaultAction::Kill, "F", 2_500),
            fired(0, FaultAction::Restart, "C", 9_000),
        ];
        let log = [
            event(EventKind::NeighborFailed, "E", "F", 2_800),
            event(EventKind::NeighborFailed, "C", "F", 9_500),
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
        let log = [event(EventKind::NeighborFailed, "B", "C", 8_300)];
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
            event(EventKind::NeighborFailed, "B", "C", 2_300),
            event(EventKind::NeighborRecovered, "B", "C", 10_100),
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
            event(EventKind::NeighborFailed, "A", "C", 2_300),
            event(EventKind::NeighborRecovered, "A", "C", 5_950),
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
            "{\"event\":\"state_changed\",\"node\":\"A\",\"unix_ms\":3,\"detail\":{\"to\":\"warning\"}}\n{\"event\":\"some_later_kind\",\"node\":\"A\",\"unix_ms\":4}\n",
        )
        .unwrap();
        let events = read_events(dir.path());
        assert_eq!(events.iter().map(|e| e.unix_ms).collect::<Vec<_>>(), [3, 5]);
    }
}
