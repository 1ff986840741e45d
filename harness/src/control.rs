//! A client of a node's `OverlayControl` service: inject and clear faults, switch the
//! strategy, stop the node. Used by fault schedules (always in remote mode, and for the
//! faults signals cannot make in local mode).

use overlay::proto::overlay_control_client::OverlayControlClient;
use overlay::proto::{
    ClearFaultsRequest, ControlShutdownRequest, Fault, InjectFaultRequest, ListFaultsRequest,
    SetStrategyRequest,
};
use tonic::transport::Channel;

use crate::client::endpoint;

/// A control request a node refused or could not answer.
#[derive(Debug, thiserror::Error)]
#[error("control request to {node} ({address}) failed: {message}")]
pub struct ControlError {
    /// The node's id.
    pub node: String,
    /// Where it was asked.
    pub address: String,
    /// The node's reason (it names the fix: enable control, the token, the bad field).
    pub message: String,
    /// The gRPC code.
    pub code: tonic::Code,
}

/// The control service of one node.
#[derive(Clone, Debug)]
pub struct ControlClient {
    node: String,
    address: String,
    token: String,
    client: OverlayControlClient<Channel>,
}

impl ControlClient {
    /// A lazily connected client of the node at `address` (`host:port` or an `http://`
    /// URL); `token` may be empty when the node has none.
    pub fn new(node: &str, address: &str, token: &str) -> Result<Self, ControlError> {
        let endpoint = endpoint(address).map_err(|err| ControlError {
            node: node.to_string(),
            address: address.to_string(),
            message: err.to_string(),
            code: tonic::Code::InvalidArgument,
        })?;
        Ok(Self {
            node: node.to_string(),
            address: address.to_string(),
            token: token.to_string(),
            client: OverlayControlClient::new(endpoint.connect_lazy()),
        })
    }

    /// Starts a fault; returns its id.
    pub async fn inject(&mut self, fault: Fault) -> Result<String, ControlError> {
        let request = InjectFaultRequest {
            token: self.token.clone(),
            fault: Some(fault),
        };
        let answer = self.client.inject_fault(request).await;
        Ok(self.check(answer)?.fault_id)
    }

    /// Ends one fault, or all with `None`; how many ended.
    pub async fn clear(&mut self, fault_id: Option<&str>) -> Result<u32, ControlError> {
        let request = ClearFaultsRequest {
            token: self.token.clone(),
            fault_id: fault_id.unwrap_or_default().to_string(),
        };
        let answer = self.client.clear_faults(request).await;
        Ok(self.check(answer)?.cleared)
    }

    /// The faults in force.
    pub async fn list(&mut self) -> Result<Vec<Fault>, ControlError> {
        let request = ListFaultsRequest {
            token: self.token.clone(),
        };
        let answer = self.client.list_faults(request).await;
        Ok(self.check(answer)?.faults)
    }

    /// Switches the fairness strategy; returns the previous one.
    pub async fn set_strategy(&mut self, strategy: &str) -> Result<String, ControlError> {
        let request = SetStrategyRequest {
            token: self.token.clone(),
            strategy: strategy.to_string(),
        };
        let answer = self.client.set_strategy(request).await;
        Ok(self.check(answer)?.previous)
    }

    /// Stops the node.
    pub async fn shutdown(&mut self, graceful: bool) -> Result<(), ControlError> {
        let request = ControlShutdownRequest {
            token: self.token.clone(),
            graceful,
        };
        let answer = self.client.shutdown(request).await;
        self.check(answer).map(|_| ())
    }

    fn check<T>(
        &self,
        answer: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, ControlError> {
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| ControlError {
                node: self.node.clone(),
                address: self.address.clone(),
                message: status.message().to_string(),
                code: status.code(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_may_carry_its_scheme() {
        assert!(ControlClient::new("A", "http://127.0.0.1:50051", "").is_ok());
        assert!(ControlClient::new("A", "127.0.0.1:50051", "").is_ok());
        let bad = ControlClient::new("A", "not an address", "").unwrap_err();
        assert_eq!(bad.code, tonic::Code::InvalidArgument);
    }
}
