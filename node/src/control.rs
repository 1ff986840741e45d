//! The `OverlayControl` service: fault injection, strategy switch and shutdown for experiments
//! and for the harness in remote mode. Refuses everything unless the node was started with
//! `--enable-control`, and then every request must carry the node's token when it has one.

use std::sync::Arc;

use overlay::config::FairnessStrategy;
use overlay::proto::overlay_control_server::OverlayControl;
use overlay::proto::{
    ClearFaultsRequest, ClearFaultsResponse, ControlShutdownRequest, InjectFaultRequest,
    InjectFaultResponse, ListFaultsRequest, ListFaultsResponse, SetStrategyRequest,
    SetStrategyResponse, ShutdownResponse,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::auth::ControlRefusal;
use crate::faults::FaultError;
use crate::node::Node;
use crate::service::request_shutdown;

/// Why a control request failed; [`Status`] gets one code per variant.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Control is off or the token is wrong.
    #[error(transparent)]
    Refused(#[from] ControlRefusal),
    /// `InjectFault` without a fault.
    #[error("fault is missing")]
    MissingFault,
    /// Nonsense fault parameters or an unknown neighbour.
    #[error(transparent)]
    BadFault(#[from] FaultError),
    /// `ClearFaults` named a fault that is not active.
    #[error("no active fault {0}")]
    NoSuchFault(String),
    /// `SetStrategy` named no strategy.
    #[error("{0}")]
    BadStrategy(String),
}

impl From<ControlError> for Status {
    fn from(err: ControlError) -> Status {
        let message = err.to_string();
        match err {
            ControlError::Refused(ControlRefusal::Disabled(_)) => {
                Status::permission_denied(message)
            }
            ControlError::Refused(ControlRefusal::WrongToken(_)) => {
                Status::unauthenticated(message)
            }
            ControlError::MissingFault
            | ControlError::BadFault(_)
            | ControlError::BadStrategy(_) => Status::invalid_argument(message),
            ControlError::NoSuchFault(_) => Status::not_found(message),
        }
    }
}

impl From<ControlRefusal> for Status {
    fn from(refusal: ControlRefusal) -> Status {
        ControlError::Refused(refusal).into()
    }
}

/// The control service of one node.
#[derive(Debug, Clone)]
pub struct ControlService {
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
}

impl ControlService {
    /// Wraps a node; a Shutdown call sets `shutdown` to true.
    pub fn new(node: Arc<Node>, shutdown: watch::Sender<bool>) -> Self {
        Self { node, shutdown }
    }

    /// Refuses the request unless control is enabled and the token matches.
    fn authorize(&self, token: &str) -> Result<(), ControlError> {
        Ok(self.node.control.authorize(self.node.id(), token)?)
    }
}

#[tonic::async_trait]
impl OverlayControl for ControlService {
    async fn inject_fault(
        &self,
        request: Request<InjectFaultRequest>,
    ) -> Result<Response<InjectFaultResponse>, Status> {
        let request = request.into_inner();
        self.authorize(&request.token)?;
        let fault = request.fault.ok_or(ControlError::MissingFault)?;
        let node = &self.node;
        let id = node
            .faults
            .inject(&fault, &node.config, node.id())
            .map_err(ControlError::from)?;
        tracing::warn!(
            "[Control] {} fault {id} injected: {} peer='{}' delay_ms={} probability={} duration_ms={}",
            node.id(),
            fault.kind,
            fault.peer,
            fault.delay_ms,
            fault.probability,
            fault.duration_ms
        );
        Ok(Response::new(InjectFaultResponse { fault_id: id }))
    }

    async fn clear_faults(
        &self,
        request: Request<ClearFaultsRequest>,
    ) -> Result<Response<ClearFaultsResponse>, Status> {
        let request = request.into_inner();
        self.authorize(&request.token)?;
        let which = Some(request.fault_id.as_str()).filter(|id| !id.is_empty());
        let cleared = self.node.faults.clear(which);
        if let (Some(id), 0) = (which, cleared) {
            return Err(ControlError::NoSuchFault(id.to_string()).into());
        }
        tracing::warn!("[Control] {} cleared {cleared} fault(s)", self.node.id());
        Ok(Response::new(ClearFaultsResponse {
            cleared: cleared as u32,
        }))
    }

    async fn list_faults(
        &self,
        request: Request<ListFaultsRequest>,
    ) -> Result<Response<ListFaultsResponse>, Status> {
        self.authorize(&request.into_inner().token)?;
        Ok(Response::new(ListFaultsResponse {
            faults: self.node.faults.list(),
        }))
    }

    async fn set_strategy(
        &self,
        request: Request<SetStrategyRequest>,
    ) -> Result<Response<SetStrategyResponse>, Status> {
        let request = request.into_inner();
        self.authorize(&request.token)?;
        let strategy: FairnessStrategy = request
            .strategy
            .parse()
            .map_err(ControlError::BadStrategy)?;
        let previous = self.node.admission.strategy();
        self.node.admission.set_strategy(strategy);
        tracing::info!(
            "[Control] {} fairness strategy {previous} -> {strategy}",
            self.node.id()
        );
        Ok(Response::new(SetStrategyResponse {
            previous: previous.name().to_string(),
        }))
    }

    async fn shutdown(
        &self,
        request: Request<ControlShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        let request = request.into_inner();
        self.authorize(&request.token)?;
        tracing::info!(
            "[Control] {} shutdown requested (graceful: {})",
            self.node.id(),
            request.graceful
        );
        request_shutdown(&self.shutdown, request.graceful);
        Ok(Response::new(ShutdownResponse {
            status: "shutting_down".to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlay::config::NodeId;

    #[test]
    fn each_refusal_has_its_code() {
        let node = NodeId("A".into());
        let code = |err: ControlError| Status::from(err).code();
        assert_eq!(
            code(ControlRefusal::Disabled(node.clone()).into()),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code(ControlRefusal::WrongToken(node).into()),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            code(ControlError::MissingFault),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            code(ControlError::NoSuchFault("f1".into())),
            tonic::Code::NotFound
        );
    }
}
