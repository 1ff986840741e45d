//! One Scan call to a peer, with its typed outcome: the slices, or a [`CallError`] saying why
//! the call as a whole failed. A peer's refusal by admission control is not a call error: it
//! comes back as one rejected slice result per task, so the coordinator can answer
//! `rejected`.

use std::time::Instant;

use overlay::config::NodeId;
use overlay::proto::{Rejection, ScanRequest, ScanStatus, SliceErrorKind, SliceResult, SliceTask};
use tokio::sync::watch;
use tracing::Instrument as _;

use super::context::QueryContext;
use super::counters::Counted;
use super::failure::failed;
use super::route::RouteContext;
use crate::health::peer_health::Evidence;
use crate::trace;

/// Why a call to a peer gave no slices.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    /// An injected fault refuses calls to the peer.
    #[error("{0}")]
    RefusedByFault(String),
    /// The peer is not a process of the config.
    #[error("{0} is not in the config")]
    UnknownPeer(NodeId),
    /// The query's deadline passed before the call.
    #[error("query deadline passed")]
    DeadlinePassed,
    /// The health checker declared the peer failed while the call ran.
    #[error("{0} was declared failed during the call")]
    DeclaredFailed(NodeId),
    /// The call overran its lateness bound unhedged.
    #[error("{0} never answered")]
    NeverAnswered(NodeId),
    /// The call failed on the transport or with a gRPC error.
    #[error("{peer}: {message}")]
    Transport {
        /// The peer called.
        peer: NodeId,
        /// The gRPC code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// The peer refused the request as a whole (loop, invalid request).
    #[error("{peer} answered {status}: {reason}")]
    Refused {
        /// The peer called.
        peer: NodeId,
        /// Its status, by name.
        status: &'static str,
        /// Its reason.
        reason: String,
    },
}

/// One Scan call to `hop` for `tasks`, given up when the health checker declares the peer
/// failed meanwhile.
pub async fn call_peer(
    cx: &QueryContext,
    route: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
) -> Result<Vec<SliceResult>, CallError> {
    let span = trace::span!("peer_call", peer = hop.as_str(), slices = tasks.len());
    call_peer_traced(cx, route, hop, tasks, &span)
        .instrument(span.clone())
        .await
}

/// [`call_peer`] within its span, whose context goes along with the request.
async fn call_peer_traced(
    cx: &QueryContext,
    route: &RouteContext,
    hop: &NodeId,
    tasks: &[SliceTask],
    span: &tracing::Span,
) -> Result<Vec<SliceResult>, CallError> {
    let health = &cx.peer_health;
    if let Some(why) = cx.faults.refuses_call_to(hop) {
        health.record_failure(hop, Evidence::Call, &why);
        return Err(CallError::RefusedByFault(why));
    }
    let mut client = cx
        .peer_clients
        .client(hop)
        .ok_or_else(|| CallError::UnknownPeer(hop.clone()))?;
    let remaining = route.deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(CallError::DeadlinePassed);
    }
    let mut request = tonic::Request::new(ScanRequest {
        query: Some((*route.wire_query).clone()),
        hops: route.hops.clone(),
        slices: tasks.to_vec(),
        team: route.team.clone(),
        deadline_ms: remaining.as_millis().min(u128::from(u32::MAX)) as u32,
    });
    request.set_timeout(remaining);
    trace::inject(span, request.metadata_mut());
    cx.routing.add(Counted::PeerCall, 1);
    let mut declared_failed = health.failure_signal(hop);
    let outcome = tokio::select! {
        outcome = client.scan(request) => outcome,
        // A hung peer is given up as soon as the health checker declares it failed.
        Some(()) = wait_changed(&mut declared_failed) => {
            cx.routing.add(Counted::PeerCallFailure, 1);
            return Err(CallError::DeclaredFailed(hop.clone()));
        }
    };
    let response = match outcome {
        Ok(response) => {
            health.record_success(hop, Evidence::Call, None);
            response.into_inner()
        }
        Err(status) => {
            cx.routing.add(Counted::PeerCallFailure, 1);
            let err = CallError::Transport {
                peer: hop.clone(),
                code: status.code(),
                message: status.message().to_string(),
            };
            if is_peer_failure(&status) {
                health.record_failure(hop, Evidence::Call, &err.to_string());
            }
            return Err(err);
        }
    };
    settle_response(hop, tasks, response)
}

/// The slices of a peer's answer: as sent when it served them, one rejected result per task
/// when admission refused the work, an error otherwise.
fn settle_response(
    hop: &NodeId,
    tasks: &[SliceTask],
    response: overlay::proto::ScanResponse,
) -> Result<Vec<SliceResult>, CallError> {
    let status = ScanStatus::try_from(response.scan_status).unwrap_or(ScanStatus::Unspecified);
    match status {
        ScanStatus::Ok => Ok(response.slices),
        ScanStatus::Rejected => {
            let which = Rejection::try_from(response.rejection)
                .unwrap_or(Rejection::Unspecified)
                .as_str_name();
            Ok(tasks
                .iter()
                .map(|task| {
                    let why = format!("rejected: {hop} {which}: {}", response.reason);
                    failed(&task.owner, SliceErrorKind::Rejected, why)
                })
                .collect())
        }
        other => Err(CallError::Refused {
            peer: hop.clone(),
            status: other.as_str_name(),
            reason: response.reason,
        }),
    }
}

/// Resolves when the watched value changes; never when there is nothing to watch.
pub async fn wait_changed(receiver: &mut Option<watch::Receiver<u64>>) -> Option<()> {
    match receiver {
        Some(receiver) => receiver.changed().await.ok(),
        None => std::future::pending().await,
    }
}

/// Whether a failed call says something about the peer (it is down, refuses or broke the
/// connection), as opposed to the query (its deadline passed) or our own cancellation.
fn is_peer_failure(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::failure::is_rejected;
    use overlay::proto::ScanResponse;

    fn tasks() -> Vec<SliceTask> {
        ["D", "F"]
            .map(|owner| SliceTask {
                owner: owner.to_string(),
                ..Default::default()
            })
            .to_vec()
    }

    #[test]
    fn a_rejected_scan_rejects_every_task_and_other_refusals_fail_the_call() {
        let hop = NodeId("E".into());
        let rejected = ScanResponse {
            scan_status: ScanStatus::Rejected.into(),
            rejection: Rejection::QueueFull.into(),
            ..Default::default()
        };
        let results = settle_response(&hop, &tasks(), rejected).unwrap();
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(is_rejected));
        let looped = ScanResponse {
            scan_status: ScanStatus::LoopDetected.into(),
            ..Default::default()
        };
        assert!(matches!(
            settle_response(&hop, &tasks(), looped),
            Err(CallError::Refused { .. })
        ));
        // A response without a status is not taken for an answer.
        assert!(settle_response(&hop, &tasks(), ScanResponse::default()).is_err());
    }
}
