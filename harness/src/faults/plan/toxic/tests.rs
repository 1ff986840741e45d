//! A `link` fault's `toxic`: each type resolved with its attributes; unknown types, foreign or
//! missing attributes, negative numbers and zero sizes refused naming the key.

use super::super::tests::{refused_in, resolve_in};
use super::super::FaultContext;
use crate::faults::FaultAction;
use crate::input::{ClusterMode, StepLength};
use crate::netns::proxy::Toxic;

/// Six processes on virtual hosts, a 10-second step.
fn on_virtual_hosts() -> FaultContext<'static> {
    FaultContext {
        ids: vec!["A", "B", "C", "D", "E", "F"],
        mode: ClusterMode::Local,
        length: StepLength::Seconds(10.0),
        control_service: true,
        netns: true,
        teams: Default::default(),
        hosts: Default::default(),
    }
}

/// A link fault on D for 2 s with `toxic` (the inside of its inline table).
fn with_toxic(toxic: &str) -> String {
    format!("[[fault]]\nat_s = 1\naction = \"link\"\ntarget = \"D\"\nduration_s = 2\ntoxic = {{ {toxic} }}\n")
}

fn resolved(toxic: &str) -> Toxic {
    let plan =
        resolve_in(&with_toxic(toxic), &on_virtual_hosts()).unwrap_or_else(|e| panic!("{e}"));
    let event = plan.event(0).expect("the fault");
    assert_eq!(event.action, FaultAction::Link);
    event.net.as_ref().and_then(|n| n.toxic).expect("a toxic")
}

fn refused(toxic: &str, key: &str, parts: &[&str]) {
    refused_in(&with_toxic(toxic), &on_virtual_hosts(), key, parts);
}

#[test]
fn each_toxic_resolves_with_its_attributes_and_needs_proxies() {
    assert_eq!(
        resolved("type = \"timeout\", timeout_ms = 0"),
        Toxic::Timeout { timeout_ms: 0 }
    );
    assert_eq!(
        resolved("type = \"reset_peer\", timeout_ms = 500"),
        Toxic::ResetPeer { timeout_ms: 500 }
    );
    assert_eq!(
        resolved("type = \"slicer\", average_size = 64"),
        Toxic::Slicer {
            average_size: 64,
            size_variation: 0,
            delay_us: 0
        }
    );
    assert_eq!(
        resolved("type = \"slicer\", average_size = 64, size_variation = 16, delay_us = 100"),
        Toxic::Slicer {
            average_size: 64,
            size_variation: 16,
            delay_us: 100
        }
    );
    assert_eq!(
        resolved("type = \"limit_data\", bytes = 4096"),
        Toxic::LimitData { bytes: 4096 }
    );
    assert_eq!(
        resolved("type = \"slow_close\", delay_ms = 300"),
        Toxic::SlowClose { delay_ms: 300 }
    );
    let plan = resolve_in(
        &with_toxic("type = \"limit_data\", bytes = 1"),
        &on_virtual_hosts(),
    )
    .unwrap();
    assert!(plan.delays_links(), "a toxic lives in the delay proxies");
    let label = plan
        .event(0)
        .unwrap()
        .net
        .as_ref()
        .unwrap()
        .label(FaultAction::Link);
    assert_eq!(label, "link D limit_data 1 B by delay proxy (TCP)");
}

#[test]
fn unknown_toxics_and_attributes_they_do_not_take_are_refused() {
    refused(
        "type = \"latency\", timeout_ms = 5",
        "fault[0].toxic.type",
        &["'latency'", "reset_peer", "slow_close"],
    );
    refused(
        "type = \"reset_peer\", bytes = 5",
        "fault[0].toxic.bytes",
        &["reset_peer", "timeout_ms"],
    );
    refused(
        "type = \"slicer\", average_size = 8, timeout_ms = 1",
        "fault[0].toxic.timeout_ms",
        &["average_size, size_variation, delay_us"],
    );
    refused(
        "type = \"timeout\"",
        "fault[0].toxic.timeout_ms",
        &["needs timeout_ms"],
    );
    refused(
        "type = \"slicer\"",
        "fault[0].toxic.average_size",
        &["needs"],
    );
}

#[test]
fn negative_values_and_zero_sizes_are_refused_naming_the_key() {
    refused(
        "type = \"reset_peer\", timeout_ms = -1",
        "fault[0].toxic.timeout_ms",
        &["-1", "≥ 0"],
    );
    refused(
        "type = \"slicer\", average_size = 8, delay_us = -3",
        "fault[0].toxic.delay_us",
        &["≥ 0"],
    );
    refused(
        "type = \"limit_data\", bytes = 0",
        "fault[0].toxic.bytes",
        &["[1,"],
    );
    refused(
        "type = \"slicer\", average_size = 0",
        "fault[0].toxic.average_size",
        &["[1,"],
    );
    refused(
        "type = \"slicer\", average_size = 8, size_variation = 8",
        "fault[0].toxic.size_variation",
        &["smaller than average_size"],
    );
    refused(
        "type = \"slow_close\", delay_ms = 0",
        "fault[0].toxic.delay_ms",
        &["[1,"],
    );
    refused(
        "type = \"timeout\", timeout_ms = 60001",
        "fault[0].toxic.timeout_ms",
        &["60000"],
    );
}

#[test]
fn a_toxic_belongs_to_a_link_fault_on_virtual_hosts() {
    let kill = "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"D\"\ntoxic = { type = \"timeout\", timeout_ms = 0 }\n";
    refused_in(
        kill,
        &on_virtual_hosts(),
        "fault[0].toxic",
        &["network faults"],
    );
    let bandwidth = "[[fault]]\nat_s = 1\naction = \"bandwidth\"\ntarget = \"D\"\nrate_mbit = 1\ntoxic = { type = \"timeout\", timeout_ms = 0 }\n";
    refused_in(
        bandwidth,
        &on_virtual_hosts(),
        "fault[0].toxic",
        &["remove it"],
    );
    let loopback = FaultContext {
        netns: false,
        ..on_virtual_hosts()
    };
    refused_in(
        &with_toxic("type = \"timeout\", timeout_ms = 0"),
        &loopback,
        "fault[0].action",
        &["netns"],
    );
}
