//! Contradictory sequences on one node are refused, naming the event and the one that put
//! the node in its state; consistent ones pass.

use crate::faults::plan::tests::{plan_of, refused};

/// A `[[fault]]` entry at `at` seconds.
fn at(at_s: f64, action: &str, target: &str, extra: &str) -> String {
    format!("[[fault]]\nat_s = {at_s}\naction = \"{action}\"\ntarget = \"{target}\"\n{extra}\n")
}

/// A `[[fault]]` entry after `n` requests.
fn after(n: u64, action: &str, target: &str) -> String {
    format!("[[fault]]\nafter_requests = {n}\naction = \"{action}\"\ntarget = \"{target}\"\n")
}

#[test]
fn consistent_sequences_pass() {
    plan_of(
        &[
            at(1.0, "pause", "C", ""),
            at(2.0, "kill", "C", ""),
            at(3.0, "restart", "C", ""),
            at(4.0, "stop", "C", "duration_s = 1"),
            at(6.0, "delay", "C", "delay_ms = 50\nduration_s = 1"),
            at(8.0, "partition", "C", "peer = \"D\""),
            at(9.0, "clear", "D", ""),
        ]
        .concat(),
    );
}

#[test]
fn a_node_already_down_cannot_go_down_again() {
    let kill = at(2.0, "kill", "C", "");
    for action in ["kill", "stop", "pause"] {
        refused(
            &[kill.clone(), at(3.0, action, "C", "")].concat(),
            "fault[1].action",
            &[
                &format!("{action} of C at 3 s"),
                "C is down since fault[0] (kill at 2 s) already; restart it first",
            ],
        );
    }
}

#[test]
fn pause_resume_and_stop_follow_the_pause_state() {
    let pause = at(1.0, "pause", "E", "");
    refused(
        &[pause.clone(), at(2.0, "pause", "E", "")].concat(),
        "fault[1].action",
        &["E is paused since fault[0] (pause at 1 s)"],
    );
    refused(
        &[pause.clone(), at(2.0, "stop", "E", "")].concat(),
        "fault[1].action",
        &["cannot stop gracefully", "resume it first, or kill it"],
    );
    refused(
        &at(2.0, "resume", "E", ""),
        "fault[0].action",
        &["E is up, not paused", "resume follows a pause"],
    );
    refused(
        &[at(1.0, "kill", "E", ""), at(2.0, "resume", "E", "")].concat(),
        "fault[1].action",
        &["E is down since fault[0]", "not paused"],
    );
}

#[test]
fn restart_needs_the_node_down() {
    refused(
        &at(2.0, "restart", "C", ""),
        "fault[0].action",
        &[
            "restart needs the node down: kill or stop it first",
            "C is up",
        ],
    );
    refused(
        &[at(1.0, "pause", "C", ""), at(2.0, "restart", "C", "")].concat(),
        "fault[1].action",
        &["restart needs the node down", "C is paused since fault[0]"],
    );
}

#[test]
fn an_automatic_undo_is_refused_by_its_duration_key() {
    refused(
        &[
            at(2.0, "kill", "C", "duration_s = 5"),
            at(4.0, "restart", "C", ""),
        ]
        .concat(),
        "fault[0].duration_s",
        &[
            "the automatic restart of C at 7 s",
            "restart needs the node down",
        ],
    );
}

#[test]
fn the_control_service_of_a_down_or_paused_node_cannot_answer() {
    refused(
        &[
            at(1.0, "kill", "B", ""),
            at(2.0, "delay", "B", "delay_ms = 100"),
        ]
        .concat(),
        "fault[1].action",
        &[
            "B is down since fault[0]",
            "control service cannot answer",
            "restart it first",
        ],
    );
    refused(
        &[
            at(1.0, "pause", "C", ""),
            at(2.0, "partition", "B", "peer = \"C\""),
        ]
        .concat(),
        "fault[1].action",
        &["C is paused since fault[0]", "resume it first"],
    );
    refused(
        &[
            at(1.0, "delay", "B", "delay_ms = 100\nduration_s = 5"),
            at(2.0, "kill", "B", ""),
        ]
        .concat(),
        "fault[0].duration_s",
        &[
            "the automatic clear of B at 6 s",
            "B is down since fault[1]",
        ],
    );
}

#[test]
fn a_clear_may_not_cut_a_timed_fault_short() {
    refused(
        &[
            at(1.0, "delay", "B", "delay_ms = 100\nduration_s = 5"),
            at(2.0, "drop", "B", "duration_s = 7"),
        ]
        .concat(),
        "fault[0].duration_s",
        &["also remove fault[1] (drop, timed to end at 9 s)"],
    );
    refused(
        &[
            at(1.0, "partition", "B", "peer = \"C\"\nduration_s = 5"),
            at(2.0, "clear", "C", ""),
        ]
        .concat(),
        "fault[1].action",
        &["also remove fault[0] (partition, timed to end at 6 s)"],
    );
    // Untimed faults are what a clear is for; a kill ends the node's own faults.
    plan_of(
        &[
            at(1.0, "delay", "B", "delay_ms = 100"),
            at(2.0, "drop", "B", "peer = \"client\""),
            at(3.0, "clear", "B", ""),
            at(4.0, "drop", "B", "duration_s = 5"),
            at(5.0, "kill", "B", ""),
            at(6.0, "restart", "B", ""),
        ]
        .concat(),
    );
}

#[test]
fn time_and_request_triggers_are_replayed_apart() {
    plan_of(&[at(2.0, "kill", "C", ""), after(100, "kill", "C")].concat());
    refused(
        &[after(10, "kill", "C"), after(20, "kill", "C")].concat(),
        "fault[1].action",
        &[
            "kill of C after 20 requests",
            "since fault[0] (kill after 10 requests)",
        ],
    );
}

#[test]
fn a_partition_lives_on_its_target() {
    // Killing the peer leaves the partition in force: a clear from the peer's side would
    // still cut it short.
    refused(
        &[
            at(1.0, "partition", "B", "peer = \"C\"\nduration_s = 5"),
            at(2.0, "kill", "C", ""),
            at(3.0, "restart", "C", ""),
            at(4.0, "clear", "C", ""),
        ]
        .concat(),
        "fault[3].action",
        &["also remove fault[0] (partition, timed to end at 6 s)"],
    );
    // Killing the target ends it with the process.
    plan_of(
        &[
            at(1.0, "partition", "B", "peer = \"C\"\nduration_s = 8"),
            at(2.0, "kill", "B", ""),
            at(3.0, "restart", "B", ""),
            at(4.0, "clear", "C", ""),
        ]
        .concat(),
    );
}
