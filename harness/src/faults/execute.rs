//! Carrying out a fault plan during a step: each event waits for its trigger (seconds since
//! the measured part began, or a count of completed queries), then acts — by signal on a local
//! cluster, through the node's control service otherwise — and is timestamped. After the step
//! every node is brought back (restarted, resumed, faults cleared) for the next one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use overlay::config::{ClusterConfig, NodeId};
use overlay::date::unix_ms;
use overlay::proto::Fault;
use serde::{Deserialize, Serialize};

use super::network::{HeldNetFaults, NetEvent};
use super::{FaultAction, FaultEvent, FaultPlan, FiredEvent, Trigger};
use crate::cluster::launcher::LocalCluster;
use crate::control::ControlClient;
use crate::stop::Stop;

/// An event as it happened.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FiredRecord {
    /// The event and when it fired (seconds since the measured part began).
    pub fired: FiredEvent,
    /// Wall-clock time it fired, ms since the Unix epoch (to match the nodes' event logs).
    pub unix_ms: u64,
    /// What went wrong carrying it out, if anything (reported, the run goes on).
    pub error: Option<String>,
}

/// Where faults are sent.
pub struct FaultTargets<'a> {
    /// The local cluster, when the harness started it (signals work).
    pub cluster: Option<&'a mut LocalCluster>,
    /// Every node's address, for the control service.
    pub config: &'a ClusterConfig,
    /// The control token (empty when the nodes have none).
    pub token: String,
}

/// Fires the plan's events as their triggers come, appending each to `fired` as it happens. Stops early
/// when `stop` is raised (the caller also drops this future when the step ends).
pub async fn execute(
    plan: &FaultPlan,
    targets: &mut FaultTargets<'_>,
    measured_start: Instant,
    completed: &AtomicU64,
    mut stop: Stop,
    fired: &Mutex<Vec<FiredRecord>>,
) {
    let mut partitions = Vec::new();
    // Dropped with this future at the end of the step: every network fault still held heals.
    let mut network = HeldNetFaults::default();
    for event in &plan.events {
        let due = async {
            match event.trigger {
                Trigger::AtSeconds(s) => {
                    let at = measured_start + Duration::from_secs_f64(s);
                    tokio::time::sleep_until(at.into()).await;
                }
                Trigger::AfterRequests(n) => {
                    while completed.load(Ordering::Relaxed) < n {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        };
        tokio::select! {
            () = due => {}
            () = stop.wait() => break,
        }
        let stamp = || (measured_start.elapsed().as_secs_f64(), unix_ms());
        // A restart takes effect once the node is up and ready again, which `apply` waits
        // for: stamped before, its window would close (and detection of its recovery start)
        // while the node is still starting. Every other action takes effect as it is sent.
        let (at_s, unix_ms, error) = if event.action == FaultAction::Restart {
            let error = apply(event, targets, &mut partitions).await.err();
            let (at_s, unix_ms) = stamp();
            (at_s, unix_ms, error)
        } else if event.action.is_network() {
            let (at_s, unix_ms) = stamp();
            let hosts = targets.cluster.as_deref().and_then(LocalCluster::hosts);
            (at_s, unix_ms, network.apply(event, hosts).err())
        } else {
            let (at_s, unix_ms) = stamp();
            let error = apply(event, targets, &mut partitions).await.err();
            (at_s, unix_ms, error)
        };
        match &error {
            Some(err) => tracing::warn!(
                "fault {} {} on {} failed: {err}",
                event.index,
                event.action.name(),
                event.target
            ),
            None => tracing::info!(
                "fault {}: {} {} at {at_s:.2} s",
                event.index,
                event.action.name(),
                event.target
            ),
        }
        fired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(FiredRecord {
                fired: FiredEvent {
                    index: event.index,
                    action: event.action,
                    target: event.target.clone(),
                    at_s,
                    auto_undo: event.auto_undo,
                    cuts_off: event.net.as_ref().is_some_and(NetEvent::cuts_off),
                },
                unix_ms,
                error,
            });
    }
}

/// How long lifting a partition from its other side may take (its holder may be paused).
const LIFT_WITHIN: Duration = Duration::from_secs(2);

/// A partition injected during the step: `holder` (the event's target) refuses `peer` both
/// ways, its incoming and outgoing calls alike, so it needs no counterpart on the peer.
#[derive(Debug)]
struct HeldPartition {
    holder: String,
    peer: String,
    fault_id: String,
}

/// Carries out one event; `partitions` tracks the partitions in force so that a `clear` of
/// either side lifts them and a kill or stop of the holder forgets them.
async fn apply(
    event: &FaultEvent,
    targets: &mut FaultTargets<'_>,
    partitions: &mut Vec<HeldPartition>,
) -> Result<(), String> {
    let result = apply_to(event, targets, partitions).await;
    if result.is_ok() && matches!(event.action, FaultAction::Kill | FaultAction::Stop) {
        // The node's faults lived in its process.
        partitions.retain(|p| p.holder != event.target);
    }
    result
}

/// The action itself: a signal or a restart on a local cluster, the control service
/// otherwise.
async fn apply_to(
    event: &FaultEvent,
    targets: &mut FaultTargets<'_>,
    partitions: &mut Vec<HeldPartition>,
) -> Result<(), String> {
    let id = NodeId(event.target.clone());
    let local_signal = match event.action {
        FaultAction::Kill => Some(libc::SIGKILL),
        FaultAction::Pause => Some(libc::SIGSTOP),
        FaultAction::Resume => Some(libc::SIGCONT),
        _ => None,
    };
    if let (Some(cluster), Some(signal)) = (targets.cluster.as_deref_mut(), local_signal) {
        return cluster.signal(&id, signal).map_err(|e| format!("{e:#}"));
    }
    if let (Some(cluster), FaultAction::Stop) = (targets.cluster.as_deref_mut(), event.action) {
        // SIGTERM, then the node's shutdown grace: waited for without holding up the
        // runtime's thread (the load lanes share it).
        return cluster.terminate(&id).await.map_err(|e| format!("{e:#}"));
    }
    if event.action == FaultAction::Restart {
        let cluster = targets
            .cluster
            .as_deref_mut()
            .ok_or("restart needs a local cluster")?;
        return cluster.restart(&id).await.map_err(|e| format!("{e:#}"));
    }
    let mut control = control_client(targets, &event.target)?;
    let peer = event.peer.clone().unwrap_or_default();
    let fault = |kind: FaultAction| Fault {
        kind: kind.name().to_string(),
        peer: peer.clone(),
        delay_ms: event.delay_ms.unwrap_or(0) as i64,
        probability: event.probability.unwrap_or(0.0),
        ..Default::default()
    };
    let result = match event.action {
        FaultAction::Delay | FaultAction::Stall | FaultAction::Drop => {
            control.inject(fault(event.action)).await.map(drop)
        }
        // The target alone refuses the peer both ways: a full partition.
        FaultAction::Partition => control.inject(fault(event.action)).await.map(|fault_id| {
            partitions.push(HeldPartition {
                holder: event.target.clone(),
                peer,
                fault_id,
            });
        }),
        FaultAction::Clear => {
            control.clear(None).await.map_err(|e| e.to_string())?;
            partitions.retain(|p| p.holder != event.target);
            return lift_partitions_against(&event.target, targets, partitions).await;
        }
        FaultAction::Stop => control.shutdown(true).await,
        FaultAction::Kill
        | FaultAction::Pause
        | FaultAction::Resume
        | FaultAction::Restart
        | FaultAction::NetPartition
        | FaultAction::Link
        | FaultAction::Bandwidth
        | FaultAction::Heal => {
            return Err(format!(
                "{} needs a local cluster (signals)",
                event.action.name()
            ))
        }
    };
    result.map_err(|e| e.to_string())
}

/// Ends the partitions other nodes hold against `id` (a `clear` lifts a partition from
/// either side), by their fault ids.
async fn lift_partitions_against(
    id: &str,
    targets: &FaultTargets<'_>,
    partitions: &mut Vec<HeldPartition>,
) -> Result<(), String> {
    let (against, kept): (Vec<HeldPartition>, Vec<HeldPartition>) =
        partitions.drain(..).partition(|p| p.peer == id);
    *partitions = kept;
    let mut problems = Vec::new();
    for held in against {
        let lifted = match control_client(targets, &held.holder) {
            Ok(mut control) => {
                match tokio::time::timeout(LIFT_WITHIN, control.clear(Some(&held.fault_id))).await {
                    Ok(answer) => answer.map(drop).map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "{} did not answer within {LIFT_WITHIN:?}",
                        held.holder
                    )),
                }
            }
            Err(err) => Err(err),
        };
        if let Err(err) = lifted {
            problems.push(format!(
                "cannot lift the partition {}|{id}: {err}",
                held.holder
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn control_client(targets: &FaultTargets<'_>, id: &str) -> Result<ControlClient, String> {
    let process = targets
        .config
        .process(&NodeId(id.to_string()))
        .ok_or_else(|| format!("{id} is not in the cluster config"))?;
    ControlClient::new(id, &process.address(), &targets.token).map_err(|e| e.to_string())
}

/// Brings every node the plan touched back to normal after a step: paused nodes resumed,
/// stopped ones restarted (local), injected faults cleared. Returns what could not be undone.
pub async fn restore(plan: &FaultPlan, targets: &mut FaultTargets<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let touched: BTreeMap<&str, ()> = plan
        .events
        .iter()
        .flat_map(|e| std::iter::once(e.target.as_str()).chain(e.peer.as_deref()))
        .filter(|id| targets.config.process(&NodeId(id.to_string())).is_some())
        .map(|id| (id, ()))
        .collect();
    for id in touched.keys() {
        let node = NodeId(id.to_string());
        if let Some(cluster) = targets.cluster.as_deref_mut() {
            if cluster.is_running(&node) {
                let _ = cluster.signal(&node, libc::SIGCONT);
            } else if let Err(err) = cluster.restart(&node).await {
                problems.push(format!("{id}: restart failed: {err:#}"));
                continue;
            }
        }
        if plan.uses_control_service() {
            match control_client(targets, id) {
                Ok(mut control) => {
                    if let Err(err) = control.clear(None).await {
                        problems.push(err.to_string());
                    }
                }
                Err(err) => problems.push(err),
            }
        }
    }
    problems
}
