//! `[[fault]]` parsing and checking: resolution, automatic undo and order, and every error
//! naming its key and the fix.

use std::path::Path;

use serde::Deserialize;

use super::*;

const IDS: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

#[derive(Deserialize)]
struct Faults {
    fault: Vec<FaultSpec>,
}

fn context(mode: ClusterMode, length: StepLength, control_service: bool) -> FaultContext<'static> {
    FaultContext {
        ids: IDS.to_vec(),
        mode,
        length,
        control_service,
        netns: false,
        teams: Default::default(),
        hosts: Default::default(),
    }
}

fn local() -> FaultContext<'static> {
    context(ClusterMode::Local, StepLength::Seconds(10.0), true)
}

pub(in crate::faults) fn resolve_in(
    text: &str,
    ctx: &FaultContext<'_>,
) -> Result<FaultPlan, WorkloadError> {
    let faults: Faults = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    resolve(Path::new("w.toml"), &faults.fault, ctx)
}

/// The plan of `text` in a local 10-second step.
pub(in crate::faults) fn plan_of(text: &str) -> FaultPlan {
    resolve_in(text, &local()).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that `text` is refused at `key` with a message holding every one of `parts`.
pub(in crate::faults) fn refused_in(text: &str, ctx: &FaultContext<'_>, key: &str, parts: &[&str]) {
    let err = match resolve_in(text, ctx) {
        Ok(plan) => panic!("accepted {plan:?}"),
        Err(err) => err,
    };
    assert_eq!(err.file, "w.toml");
    assert_eq!(err.key, key, "{err}");
    for part in parts {
        assert!(err.message.contains(part), "{err} lacks {part:?}");
    }
}

pub(in crate::faults) fn refused(text: &str, key: &str, parts: &[&str]) {
    refused_in(text, &local(), key, parts);
}

fn summary(plan: &FaultPlan) -> Vec<(usize, &str, &str, Trigger, bool)> {
    plan.events
        .iter()
        .map(|e| {
            (
                e.index,
                e.action.name(),
                e.target.as_str(),
                e.trigger,
                e.auto_undo,
            )
        })
        .collect()
}

#[test]
fn events_resolve_sorted_with_their_automatic_undo() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 5
action = "kill"
target = "C"
duration_s = 2
[[fault]]
after_requests = 50
action = "delay"
target = "B"
delay_ms = 200
peer = "client"
[[fault]]
at = 1.5
action = "pause"
target = "E"
duration_s = 3
"#,
    );
    use Trigger::{AfterRequests as N, AtSeconds as T};
    assert_eq!(
        summary(&plan),
        [
            (2, "pause", "E", T(1.5), false),
            (2, "resume", "E", T(4.5), true),
            (0, "kill", "C", T(5.0), false),
            (0, "restart", "C", T(7.0), true),
            (1, "delay", "B", N(50), false),
        ]
    );
    let delay = plan.event(1).unwrap();
    assert_eq!(
        (delay.delay_ms, delay.peer.as_deref(), delay.probability),
        (Some(200), Some("client"), None)
    );
    assert!(plan.uses_control_service());
    assert!(
        !plan_of("[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"").uses_control_service()
    );
}

#[test]
fn ties_keep_file_order_and_an_undo_sits_at_its_event_position() {
    let plan = plan_of(
        r#"
[[fault]]
at_s = 5
action = "pause"
target = "C"
[[fault]]
at_s = 2
action = "kill"
target = "D"
duration_s = 3
[[fault]]
at_s = 5
action = "drop"
target = "B"
"#,
    );
    let order: Vec<(usize, &str)> = plan
        .events
        .iter()
        .map(|e| (e.index, e.action.name()))
        .collect();
    assert_eq!(
        order,
        [(1, "kill"), (0, "pause"), (1, "restart"), (2, "drop")]
    );
    assert_eq!(plan.event(2).unwrap().probability, Some(1.0));
}

#[test]
fn a_partition_undo_is_a_clear_of_its_target_naming_the_peer() {
    let plan = plan_of(
        "[[fault]]\nat_s = 1\naction = \"partition\"\ntarget = \"B\"\npeer = \"C\"\nduration_s = 2",
    );
    let undo = &plan.events[1];
    assert_eq!(
        (
            undo.action,
            undo.target.as_str(),
            undo.peer.as_deref(),
            undo.auto_undo
        ),
        (FaultAction::Clear, "B", Some("C"), true)
    );
}

#[test]
fn unknown_actions_targets_and_peers_list_what_is_allowed() {
    refused(
        "[[fault]]\nat_s = 1\naction = \"explode\"\ntarget = \"C\"",
        "fault[0].action",
        &[
            "'explode'",
            "kill, stop, pause, resume, restart, delay, stall, drop, partition, clear",
        ],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"Z\"",
        "fault[0].target",
        &["'Z'", "A, B, C, D, E, F"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"partition\"\ntarget = \"B\"\npeer = \"client\"",
        "fault[0].peer",
        &["'client'", "A, B, C, D, E, F"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"delay\"\ndelay_ms = 5\ntarget = \"B\"\npeer = \"Q\"",
        "fault[0].peer",
        &["'Q'", "F, client"],
    );
}

#[test]
fn triggers_need_exactly_one_non_negative_time_or_count() {
    refused(
        "[[fault]]\nat_s = -1\naction = \"kill\"\ntarget = \"C\"",
        "fault[0].at_s",
        &["-1", "≥ 0"],
    );
    refused(
        "[[fault]]\nat_s = nan\naction = \"kill\"\ntarget = \"C\"",
        "fault[0].at_s",
        &["NaN", "≥ 0"],
    );
    refused(
        "[[fault]]\nafter_requests = -5\naction = \"kill\"\ntarget = \"C\"",
        "fault[0].after_requests",
        &["-5", "≥ 0"],
    );
    refused(
        "[[fault]]\nat_s = 1\nafter_requests = 5\naction = \"kill\"\ntarget = \"C\"",
        "fault[0]",
        &["either at_s or after_requests, not both"],
    );
    refused(
        "[[fault]]\naction = \"kill\"\ntarget = \"C\"",
        "fault[0]",
        &["give at_s", "or after_requests"],
    );
}

#[test]
fn keys_are_refused_on_actions_that_do_not_take_them() {
    refused(
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"\ndelay_ms = 10",
        "fault[0].delay_ms",
        &["action = \"delay\" or \"stall\" only"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"delay\"\ntarget = \"C\"",
        "fault[0].delay_ms",
        &["needs the added latency", "1 to 60000"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"stall\"\ntarget = \"C\"",
        "fault[0].delay_ms",
        &["action = \"stall\" needs the added latency"],
    );
    let stall = plan_of("[[fault]]\nat_s = 1\naction = \"stall\"\ntarget = \"C\"\ndelay_ms = 30");
    assert_eq!(stall.event(0).and_then(|e| e.delay_ms), Some(30));
    assert!(stall.uses_control_service());
    refused(
        "[[fault]]\nat_s = 1\naction = \"delay\"\ntarget = \"C\"\ndelay_ms = 60001",
        "fault[0].delay_ms",
        &["60001", "1 to 60000"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"pause\"\ntarget = \"C\"\npeer = \"D\"",
        "fault[0].peer",
        &["partition, delay, stall and drop only"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"partition\"\ntarget = \"C\"",
        "fault[0].peer",
        &["needs the other node", "A, B"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"partition\"\ntarget = \"C\"\npeer = \"C\"",
        "fault[0].peer",
        &["the target 'C' itself"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"drop\"\ntarget = \"C\"\nprobability = 1.5",
        "fault[0].probability",
        &["1.5", "(0, 1]"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"drop\"\ntarget = \"C\"\nprobability = 0",
        "fault[0].probability",
        &["(0, 1]"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"\nprobability = 0.5",
        "fault[0].probability",
        &["action = \"drop\" only"],
    );
}

#[test]
fn durations_need_something_to_undo_and_a_time() {
    refused(
        "[[fault]]\nat_s = 1\naction = \"clear\"\ntarget = \"C\"\nduration_s = 2",
        "fault[0].duration_s",
        &["'clear' has nothing to undo"],
    );
    refused(
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"C\"\nduration_s = 0",
        "fault[0].duration_s",
        &["> 0"],
    );
    refused(
        "[[fault]]\nafter_requests = 5\naction = \"kill\"\ntarget = \"C\"\nduration_s = 2",
        "fault[0].duration_s",
        &["needs at_s", "its own event"],
    );
}

#[test]
fn events_past_the_end_of_the_step_are_refused() {
    refused(
        "[[fault]]\nat_s = 10\naction = \"kill\"\ntarget = \"C\"",
        "fault[0].at_s",
        &["past the end of the step", "load.duration_s = 10"],
    );
    refused(
        "[[fault]]\nat_s = 8\naction = \"kill\"\ntarget = \"C\"\nduration_s = 3",
        "fault[0].duration_s",
        &["undo at 11 s", "load.duration_s = 10"],
    );
    let by_count = context(ClusterMode::Local, StepLength::Requests(400), true);
    refused_in(
        "[[fault]]\nafter_requests = 400\naction = \"kill\"\ntarget = \"C\"",
        &by_count,
        "fault[0].after_requests",
        &["past the end of the step", "load.requests = 400"],
    );
    // The other unit cannot be compared with the step's length.
    resolve_in(
        "[[fault]]\nat_s = 99\naction = \"kill\"\ntarget = \"C\"",
        &by_count,
    )
    .unwrap();
    resolve_in(
        "[[fault]]\nafter_requests = 9999\naction = \"kill\"\ntarget = \"C\"",
        &local(),
    )
    .unwrap();
}

#[test]
fn remote_mode_uses_the_control_service_only() {
    let remote = context(ClusterMode::Remote, StepLength::Seconds(10.0), true);
    for action in ["kill", "pause", "resume", "restart"] {
        refused_in(
            &format!("[[fault]]\nat_s = 1\naction = \"{action}\"\ntarget = \"C\""),
            &remote,
            "fault[0].action",
            &[
                &format!("'{action}'"),
                "remote mode can only use the control service: delay, stall, drop, partition, clear, stop",
            ],
        );
    }
    refused_in(
        "[[fault]]\nat_s = 1\naction = \"stop\"\ntarget = \"C\"\nduration_s = 2",
        &remote,
        "fault[0].duration_s",
        &["restart", "cluster.mode = \"local\""],
    );
    resolve_in(
        "[[fault]]\nat_s = 1\naction = \"stop\"\ntarget = \"C\"",
        &remote,
    )
    .unwrap();
}

#[test]
fn a_disabled_control_service_refuses_the_events_that_need_it() {
    let off = context(ClusterMode::Local, StepLength::Seconds(10.0), false);
    refused_in(
        "[[fault]]\nat_s = 1\naction = \"delay\"\ntarget = \"C\"\ndelay_ms = 5",
        &off,
        "fault[0].action",
        &[
            "'delay'",
            "cluster.control_service = false",
            "set it to true",
        ],
    );
    // Locally, stop is a signal.
    resolve_in(
        "[[fault]]\nat_s = 1\naction = \"stop\"\ntarget = \"C\"",
        &off,
    )
    .unwrap();
    let remote_off = context(ClusterMode::Remote, StepLength::Seconds(10.0), false);
    refused_in(
        "[[fault]]\nat_s = 1\naction = \"stop\"\ntarget = \"C\"",
        &remote_off,
        "fault[0].action",
        &["remote mode reaches the nodes through their control service"],
    );
}
