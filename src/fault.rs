//! Fault kinds and their limits, shared by the node (which injects `delay`, `stall`, `drop`
//! and `partition` through its control service) and the harness (which schedules every kind in
//! workload files): one enum and one set of limits, so the two cannot disagree.
//!
//! The names are what workload files, the `Fault.kind` field of the control protocol and
//! reports write.

use serde::{Deserialize, Serialize};

/// The `peer` of a `delay`, `stall` or `drop` that means the clients of the `OverlayNode` service (the
/// load generator's own queries) rather than another node.
pub const CLIENT_PEER: &str = "client";

/// Longest latency a `delay` may add, ms (a minute). Clients and peers give up long before,
/// and the harness's latency histograms stop at a minute: a longer delay measures nothing more.
pub const MAX_DELAY_MS: i64 = 60_000;

/// Longest `duration_ms` a fault held by a node may have (a week); 0 means until cleared.
pub const MAX_DURATION_MS: i64 = 7 * 24 * 3600 * 1000;

/// What a fault does to its target.
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
    /// Control service: added latency on the node's answers, before admission.
    Delay,
    /// Control service: added latency inside the node's work, after admission with the
    /// permit held (a slow disk, a pause inside the scan); ends early when the caller goes.
    Stall,
    /// Control service: a fraction of the node's answers fail.
    Drop,
    /// Control service: the target and its peer refuse each other (the fault lives on the
    /// target, which refuses the peer's calls and its own calls to the peer).
    Partition,
    /// Control service: removes every delay, drop and partition of the node, and lifts the
    /// partitions other nodes hold against it.
    Clear,
    /// Virtual hosts: packets between two groups of processes dropped (blackhole) or refused
    /// (reject), one way or both, by nftables rules in the host namespaces.
    NetPartition,
    /// Virtual hosts: latency, jitter and/or loss on the link of a process's host.
    Link,
    /// Virtual hosts: a rate limit on the link of a process's host.
    Bandwidth,
    /// Virtual hosts: lifts a `net_partition`, `link` or `bandwidth` (its automatic undo).
    Heal,
}

impl FaultAction {
    /// Every action, in the order the documentation lists them.
    pub const ALL: [FaultAction; 14] = [
        FaultAction::Kill,
        FaultAction::Stop,
        FaultAction::Pause,
        FaultAction::Resume,
        FaultAction::Restart,
        FaultAction::Delay,
        FaultAction::Stall,
        FaultAction::Drop,
        FaultAction::Partition,
        FaultAction::Clear,
        FaultAction::NetPartition,
        FaultAction::Link,
        FaultAction::Bandwidth,
        FaultAction::Heal,
    ];

    /// The actions a node holds as a fault (`InjectFault`'s `Fault.kind`).
    pub const INJECTED: [FaultAction; 4] = [
        FaultAction::Delay,
        FaultAction::Stall,
        FaultAction::Drop,
        FaultAction::Partition,
    ];

    /// The name used in workload files and in `Fault.kind`.
    pub fn name(self) -> &'static str {
        match self {
            FaultAction::Kill => "kill",
            FaultAction::Stop => "stop",
            FaultAction::Pause => "pause",
            FaultAction::Resume => "resume",
            FaultAction::Restart => "restart",
            FaultAction::Delay => "delay",
            FaultAction::Stall => "stall",
            FaultAction::Drop => "drop",
            FaultAction::Partition => "partition",
            FaultAction::Clear => "clear",
            FaultAction::NetPartition => "net_partition",
            FaultAction::Link => "link",
            FaultAction::Bandwidth => "bandwidth",
            FaultAction::Heal => "heal",
        }
    }

    /// The action called `name`.
    pub fn from_name(name: &str) -> Option<FaultAction> {
        FaultAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The injected fault called `name` (`delay`, `stall`, `drop` or `partition`).
    pub fn injected_from_name(name: &str) -> Option<FaultAction> {
        FaultAction::from_name(name).filter(|a| a.is_injected())
    }

    /// A node holds it as a fault: `delay`, `stall`, `drop` or `partition`.
    pub fn is_injected(self) -> bool {
        FaultAction::INJECTED.contains(&self)
    }

    /// Only the node's control service can do it (in both modes).
    pub fn needs_control_service(self) -> bool {
        self.is_injected() || self == FaultAction::Clear
    }

    /// Only signals to a process the harness started can do it (local mode).
    pub fn is_signal_only(self) -> bool {
        matches!(
            self,
            FaultAction::Kill | FaultAction::Pause | FaultAction::Resume | FaultAction::Restart
        )
    }

    /// It acts on the network between virtual hosts (`cluster.network = "netns"` only).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            FaultAction::NetPartition
                | FaultAction::Link
                | FaultAction::Bandwidth
                | FaultAction::Heal
        )
    }

    /// The action that undoes this one after a `duration_s`, if any.
    pub fn undo(self) -> Option<FaultAction> {
        match self {
            FaultAction::Kill | FaultAction::Stop => Some(FaultAction::Restart),
            FaultAction::Pause => Some(FaultAction::Resume),
            FaultAction::Delay
            | FaultAction::Stall
            | FaultAction::Drop
            | FaultAction::Partition => Some(FaultAction::Clear),
            FaultAction::NetPartition | FaultAction::Link | FaultAction::Bandwidth => {
                Some(FaultAction::Heal)
            }
            FaultAction::Resume | FaultAction::Restart | FaultAction::Clear | FaultAction::Heal => {
                None
            }
        }
    }
}

impl std::fmt::Display for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for action in FaultAction::ALL {
            assert_eq!(FaultAction::from_name(action.name()), Some(action));
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.name()));
        }
        assert_eq!(FaultAction::from_name("explode"), None);
    }

    #[test]
    fn only_delay_drop_and_partition_are_injected() {
        assert_eq!(
            FaultAction::injected_from_name("drop"),
            Some(FaultAction::Drop)
        );
        assert_eq!(FaultAction::injected_from_name("kill"), None);
        assert_eq!(FaultAction::injected_from_name("clear"), None);
    }
}
