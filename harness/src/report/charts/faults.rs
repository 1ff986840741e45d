//! What the fault schedule adds to the charts: fault windows as bands and the cluster's
//! failure-handling events as markers on the timelines, and the time each observer took to
//! declare a faulted node failed, as bars.

use std::path::{Path, PathBuf};

use overlay::event::EventKind;

use super::bars::{bar_chart, Bars};
use super::lines::{Band, Mark};
use crate::faults::detect::Detection;
use crate::faults::step::StepFaults;

/// Fault windows as shaded bands, and the cluster's failure-handling events as markers
/// (`B: failed C`, `A: circuit open E`, `C: recovered C`, ...).
pub(super) fn fault_overlay(f: &StepFaults, step_end_s: f64) -> (Vec<Band>, Vec<Mark>) {
    // A window nothing closed lasted until the step ended.
    let bands = f
        .windows
        .iter()
        .map(|w| {
            (
                w.start_s,
                w.end_s.unwrap_or(step_end_s.max(w.start_s)),
                w.label.clone(),
            )
        })
        .collect();
    (bands, event_marks(&f.detection.events))
}

/// Seconds within which the same event about the same subject, logged by several nodes, is
/// one marker.
const COLLAPSE_S: f64 = 1.0;

/// The cluster's failure-handling events as markers, repeats collapsed: the same event about
/// the same subject within [`COLLAPSE_S`] of the first is one marker naming every node that
/// logged it (`A, B, E: routed around C`).
fn event_marks(events: &[crate::faults::detect::ClusterEvent]) -> Vec<Mark> {
    // (first at_s, what, subject, nodes)
    let mut groups: Vec<(f64, &str, String, Vec<String>)> = Vec::new();
    let mut sorted: Vec<_> = events.iter().collect();
    sorted.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    for e in sorted {
        let what = match e.event {
            EventKind::NeighborSuspected => "suspected",
            EventKind::NeighborFailed => "declared failed",
            EventKind::NeighborRecovered => "recovered",
            EventKind::CircuitOpened => "circuit open",
            EventKind::CircuitClosed => "circuit closed",
            EventKind::Failover => "routed around",
            EventKind::StateChanged => "state",
            _ => continue,
        };
        let group = groups.iter_mut().find(|(at, w, subject, _)| {
            *w == what && *subject == e.subject && e.at_s - *at <= COLLAPSE_S
        });
        match group {
            Some((_, _, _, nodes)) => {
                if !nodes.contains(&e.node) {
                    nodes.push(e.node.clone());
                }
            }
            None => groups.push((e.at_s, what, e.subject.clone(), vec![e.node.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(at, what, subject, mut nodes)| {
            nodes.sort();
            (at, format!("{}: {what} {subject}", nodes.join(", ")))
        })
        .collect()
}

/// Detection times per fault (groups) and observer (bars): time to declare the faulted node
/// failed, ms.
pub(super) fn detection_bars(stem: &Path, faults: &StepFaults) -> anyhow::Result<Vec<PathBuf>> {
    let d = &faults.detection.detections;
    if d.is_empty() {
        return Ok(Vec::new());
    }
    let (groups, members, values) = detection_groups(d);
    bar_chart(
        stem,
        &Bars {
            title: "time to declare the faulted node failed, per observer".into(),
            y: "ms".into(),
            groups,
            members,
            values,
            colors: Vec::new(),
            errors: Vec::new(),
        },
    )
}

/// One group per fault (by its index, in the order they come, labelled "kill C" or, when two
/// faults would read the same, "kill C (#2)"), one member per observer, and each observer's
/// time to declare the node failed (0 when it did not).
fn detection_groups(d: &[Detection]) -> (Vec<String>, Vec<String>, Vec<Vec<f64>>) {
    let label = |x: &Detection| format!("{} {}", x.action.name(), x.target);
    let mut faults: Vec<(usize, String)> = Vec::new();
    for x in d {
        if !faults.iter().any(|(index, _)| *index == x.index) {
            faults.push((x.index, label(x)));
        }
    }
    let repeated = |name: &str| faults.iter().filter(|(_, l)| l == name).count() > 1;
    let groups = faults
        .iter()
        .map(|(index, name)| {
            if repeated(name) {
                format!("{name} (#{index})")
            } else {
                name.clone()
            }
        })
        .collect();
    let mut members: Vec<String> = d.iter().map(|x| x.observer.clone()).collect();
    members.sort();
    members.dedup();
    let values = faults
        .iter()
        .map(|(index, _)| {
            members
                .iter()
                .map(|m| {
                    d.iter()
                        .find(|x| x.index == *index && &x.observer == m)
                        .and_then(|x| x.detected_ms)
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .collect();
    (groups, members, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultAction, FaultWindow};

    fn detection(index: usize, observer: &str, detected_ms: f64) -> Detection {
        Detection {
            index,
            action: FaultAction::Kill,
            target: "C".to_string(),
            observer: observer.to_string(),
            suspected_ms: None,
            detected_ms: Some(detected_ms),
            recovered_ms: None,
        }
    }

    #[test]
    fn an_open_window_is_drawn_to_the_end_of_the_step() {
        let window = |start_s: f64, end_s: Option<f64>| FaultWindow {
            label: "kill C".to_string(),
            action: FaultAction::Kill,
            target: "C".to_string(),
            peer: None,
            start_s,
            end_s,
        };
        let faults = StepFaults {
            windows: vec![window(1.0, Some(2.5)), window(3.0, None)],
            ..Default::default()
        };
        let (bands, _) = fault_overlay(&faults, 10.0);
        let spans: Vec<(f64, f64)> = bands.iter().map(|b| (b.0, b.1)).collect();
        assert_eq!(spans, [(1.0, 2.5), (3.0, 10.0)]);
    }

    #[test]
    fn repeated_events_collapse_into_one_marker_naming_every_node() {
        let event = |at_s: f64, node: &str, event: EventKind, subject: &str| {
            crate::faults::detect::ClusterEvent {
                at_s,
                node: node.to_string(),
                event,
                subject: subject.to_string(),
            }
        };
        let events = [
            event(2.3, "E", EventKind::Failover, "C"),
            event(2.0, "B", EventKind::Failover, "C"),
            event(2.1, "A", EventKind::Failover, "C"),
            event(2.2, "A", EventKind::Failover, "C"),
            event(2.1, "A", EventKind::NeighborFailed, "C"),
            event(6.0, "A", EventKind::Failover, "C"),
        ];
        let marks = event_marks(&events);
        assert_eq!(
            marks,
            [
                (2.0, "A, B, E: routed around C".to_string()),
                (2.1, "A: declared failed C".to_string()),
                (6.0, "A: routed around C".to_string()),
            ]
        );
    }

    #[test]
    fn faults_that_read_the_same_stay_apart() {
        let d = [
            detection(0, "A", 300.0),
            detection(0, "B", 400.0),
            detection(2, "A", 350.0),
        ];
        let (groups, members, values) = detection_groups(&d);
        assert_eq!(groups, ["kill C (#0)", "kill C (#2)"]);
        assert_eq!(members, ["A", "B"]);
        assert_eq!(values, [vec![300.0, 400.0], vec![350.0, 0.0]]);
        let (groups, _, _) = detection_groups(&d[..2]);
        assert_eq!(groups, ["kill C"]);
    }
}
