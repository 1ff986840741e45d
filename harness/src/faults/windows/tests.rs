//! Fault windows from the events that fired: what opens and closes them, their labels, and
//! windows still open when the step ended.

use super::*;
use crate::faults::plan::tests::plan_of;

fn fired(index: usize, action: FaultAction, target: &str, at_s: f64) -> FiredEvent {
    FiredEvent {
        index,
        action,
        target: target.to_string(),
        at_s,
        auto_undo: false,
        cuts_off: false,
    }
}

fn undo(index: usize, action: FaultAction, target: &str, at_s: f64) -> FiredEvent {
    FiredEvent {
        auto_undo: true,
        ..fired(index, action, target, at_s)
    }
}

fn spans(windows: &[FaultWindow]) -> Vec<(&str, f64, Option<f64>)> {
    windows
        .iter()
        .map(|w| (w.label.as_str(), w.start_s, w.end_s))
        .collect()
}

#[test]
fn a_kill_opens_a_window_its_restart_closes() {
    let plan = plan_of("[[fault]]\nat_s = 2\naction = \"kill\"\ntarget = \"C\"\nduration_s = 3");
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Kill, "C", 2.0),
            undo(0, FaultAction::Restart, "C", 5.0),
        ],
        10.0,
    );
    assert_eq!(spans(&windows), [("kill C", 2.0, Some(5.0))]);
    assert_eq!(windows[0].action, FaultAction::Kill);
}

#[test]
fn windows_nothing_closes_last_until_the_step_ended() {
    let plan = plan_of("[[fault]]\nat_s = 2\naction = \"pause\"\ntarget = \"E\"\nduration_s = 7");
    // The resume fired after the measured part ended: ignored.
    let windows = plan.windows(
        &[
            undo(0, FaultAction::Resume, "E", 9.0),
            fired(0, FaultAction::Pause, "E", 2.0),
        ],
        8.5,
    );
    assert_eq!(spans(&windows), [("pause E", 2.0, None)]);
}

#[test]
fn labels_name_the_fault_and_its_traffic() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 1
action = "delay"
target = "B"
peer = "client"
delay_ms = 200
[[fault]]
at_s = 2
action = "drop"
target = "B"
probability = 0.5
[[fault]]
at_s = 3
action = "partition"
target = "B"
peer = "C"
[[fault]]
at_s = 4
action = "drop"
target = "D"
peer = "A"
"#,
    );
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Delay, "B", 1.0),
            fired(1, FaultAction::Drop, "B", 2.0),
            fired(2, FaultAction::Partition, "B", 3.0),
            fired(3, FaultAction::Drop, "D", 4.0),
        ],
        10.0,
    );
    let labels: Vec<&str> = windows.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "delay B→client 200 ms",
            "drop B 50 %",
            "partition B|C",
            "drop D→A"
        ]
    );
    assert_eq!(windows[2].peer.as_deref(), Some("C"));
}

#[test]
fn a_clear_closes_every_control_fault_of_its_node_and_partitions_from_either_side() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 1
action = "delay"
target = "B"
delay_ms = 20
[[fault]]
at_s = 2
action = "drop"
target = "B"
[[fault]]
at_s = 3
action = "partition"
target = "D"
peer = "C"
[[fault]]
at_s = 4
action = "clear"
target = "B"
[[fault]]
at_s = 5
action = "clear"
target = "C"
"#,
    );
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Delay, "B", 1.0),
            fired(1, FaultAction::Drop, "B", 2.0),
            fired(2, FaultAction::Partition, "D", 3.0),
            fired(3, FaultAction::Clear, "B", 4.0),
            fired(4, FaultAction::Clear, "C", 5.0),
        ],
        10.0,
    );
    assert_eq!(
        spans(&windows),
        [
            ("delay B 20 ms", 1.0, Some(4.0)),
            ("drop B", 2.0, Some(4.0)),
            ("partition D|C", 3.0, Some(5.0)),
        ]
    );
}

#[test]
fn a_kill_ends_the_pause_and_control_faults_of_its_node() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 1
action = "delay"
target = "C"
delay_ms = 20
[[fault]]
at_s = 2
action = "pause"
target = "C"
[[fault]]
at_s = 3
action = "kill"
target = "C"
[[fault]]
at_s = 6
action = "restart"
target = "C"
"#,
    );
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Delay, "C", 1.0),
            fired(1, FaultAction::Pause, "C", 2.0),
            fired(2, FaultAction::Kill, "C", 3.0),
            fired(3, FaultAction::Restart, "C", 6.5),
        ],
        10.0,
    );
    assert_eq!(
        spans(&windows),
        [
            ("delay C 20 ms", 1.0, Some(3.0)),
            ("pause C", 2.0, Some(3.0)),
            ("kill C", 3.0, Some(6.5)),
        ]
    );
}

#[test]
fn a_new_delay_of_the_same_traffic_replaces_the_old_one() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 1
action = "delay"
target = "B"
delay_ms = 20
[[fault]]
at_s = 2
action = "delay"
target = "B"
delay_ms = 80
"#,
    );
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Delay, "B", 1.0),
            fired(1, FaultAction::Delay, "B", 2.0),
        ],
        10.0,
    );
    assert_eq!(
        spans(&windows),
        [
            ("delay B 20 ms", 1.0, Some(2.0)),
            ("delay B 80 ms", 2.0, None)
        ]
    );
}

#[test]
fn a_kill_ends_the_partitions_its_node_holds_not_those_against_it() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 1
action = "partition"
target = "B"
peer = "C"
[[fault]]
at_s = 2
action = "kill"
target = "C"
[[fault]]
at_s = 3
action = "restart"
target = "C"
[[fault]]
at_s = 4
action = "kill"
target = "B"
"#,
    );
    let windows = plan.windows(
        &[
            fired(0, FaultAction::Partition, "B", 1.0),
            fired(1, FaultAction::Kill, "C", 2.0),
            fired(2, FaultAction::Restart, "C", 3.0),
            fired(3, FaultAction::Kill, "B", 4.0),
        ],
        10.0,
    );
    assert_eq!(
        spans(&windows),
        [
            ("partition B|C", 1.0, Some(4.0)),
            ("kill C", 2.0, Some(3.0)),
            ("kill B", 4.0, None),
        ]
    );
}
