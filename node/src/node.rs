//! Everything one node knows and holds, shared by its services.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::{ClusterConfig, NodeId, ProcessConfig, Role};
use overlay::partition::PartitionMap;

use crate::admission::Admission;
use crate::auth::constant_time_eq;
use crate::faults::FaultTable;
use crate::health::backoff::Backoff;
use crate::health::monitor::StateMonitor;
use crate::health::peers::PeerHealth;
use crate::holdings::Holdings;
use crate::hooks::HookPool;
use crate::listen::ConnectionLimits;
use crate::logs::LogRing;
use crate::metrics::QueryTimes;
use crate::peers::Peers;
use crate::query::counters::RoutingCounters;
use crate::results::ResultStore;
use crate::store::{LoadReport, Table};
use crate::tail::TailTolerance;

/// The state of one node process.
#[derive(Debug)]
pub struct Node {
    /// This process's entry in the config.
    pub me: ProcessConfig,
    /// The whole validated config.
    pub config: ClusterConfig,
    /// Which node holds which days.
    pub partition: PartitionMap,
    /// The rows of every slice this node holds.
    pub table: Table,
    /// What loading found.
    pub load_report: LoadReport,
    /// Which of its assigned days this node holds, and their fingerprint.
    pub holdings: Holdings,
    /// Where the data came from.
    pub dataset_root: PathBuf,
    /// Records per chunk unless a request asks otherwise.
    pub chunk_size: usize,
    /// Per-team admission control.
    pub admission: Admission,
    /// Answers kept for chunked retrieval.
    pub results: ResultStore,
    /// Clients to the other processes.
    pub peers: Peers,
    /// Recent log lines for metrics.
    pub logs: LogRing,
    /// Recent processing times.
    pub times: QueryTimes,
    /// When the node started serving.
    pub started: Instant,
    /// Longest a query may take end to end before its branches are given up.
    pub query_deadline: Duration,
    /// What this node knows of its peers' health.
    pub peer_health: PeerHealth,
    /// This node's own state.
    pub state: StateMonitor,
    /// Callbacks on lifecycle events.
    pub hooks: Arc<HookPool>,
    /// Faults injected through the control service.
    pub faults: FaultTable,
    /// Whether, and with which token, the control service accepts requests.
    pub control: ControlSettings,
    /// Extra routing work caused by failures.
    pub routing: RoutingCounters,
    /// Backoff between retries of a failed forward.
    pub retry_backoff: Backoff,
    /// The secret peer calls must carry; `None` when the cluster has none.
    pub cluster_token: Option<Arc<str>>,
    /// Caps on accepted connections.
    pub connections: ConnectionLimits,
    /// Most concurrent streams on one connection.
    pub max_streams_per_connection: u32,
    /// Peers' answer times: hedge delays, the hedge budget, outlier ejection.
    pub tail: TailTolerance,
}

/// The control service's switch and optional token.
#[derive(Clone, Debug, Default)]
pub struct ControlSettings {
    /// Off unless the node was started with `--enable-control`.
    pub enabled: bool,
    /// When set, every control request must carry it.
    pub token: Option<String>,
}

impl ControlSettings {
    /// Refuses a control request unless control is enabled on `node` and `token` matches
    /// (compared in constant time).
    pub fn authorize(&self, node: &NodeId, token: &str) -> Result<(), tonic::Status> {
        if !self.enabled {
            return Err(tonic::Status::permission_denied(format!(
                "the control service of {node} is disabled; start the node with --enable-control"
            )));
        }
        match &self.token {
            Some(expected) if !constant_time_eq(expected.as_bytes(), token.as_bytes()) => {
                Err(tonic::Status::unauthenticated(format!(
                    "wrong or missing control token for {node}; pass the token the node was started with"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Shared handle to the node.
pub type SharedNode = Arc<Node>;

impl Node {
    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.me.id
    }

    /// The team a request is admitted under: the one it names (the client's `team` param,
    /// or the team a parent forwarded with), else this node's own. A team the config does not
    /// know is refused with a reason listing the known ones, so admission state stays bounded
    /// by the config and a fresh name per query cannot escape `per_team_limit`.
    pub fn team_of<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, String> {
        match requested.filter(|team| !team.is_empty()) {
            None => Ok(&self.me.team),
            Some(team) if self.config.team_date_bounds.contains_key(team) => Ok(team),
            Some(team) => Err(format!(
                "team '{}' is not a team of this cluster (known: {})",
                overlay::query::quote(team),
                self.config
                    .team_date_bounds
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The team this node forwards a request of `request_team` with (design section 7).
    pub fn forwarding_team<'a>(&'a self, request_team: &'a str) -> &'a str {
        forwarding_team(self.me.role, &self.me.team, request_team)
    }
}

/// The team work is forwarded under: a team leader forwards with its own team, as the
/// original system did (the work in its subtree is its team's, whoever asked the leader);
/// the leader and workers pass the request's team on unchanged.
pub fn forwarding_team<'a>(role: Role, own_team: &'a str, request_team: &'a str) -> &'a str {
    match role {
        Role::TeamLeader => own_team,
        Role::Leader | Role::Worker => request_team,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_needs_the_flag_then_the_token() {
        let node = NodeId("A".into());
        let off = ControlSettings::default();
        let refused = off.authorize(&node, "").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused.message().contains("--enable-control"));
        let on = ControlSettings {
            enabled: true,
            token: Some("secret".into()),
        };
        assert_eq!(
            on.authorize(&node, "").unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(on.authorize(&node, "secreT").is_err());
        assert!(on.authorize(&node, "secret").is_ok());
    }

    #[test]
    fn team_leaders_forward_with_their_own_team() {
        assert_eq!(forwarding_team(Role::TeamLeader, "pink", "green"), "pink");
        assert_eq!(forwarding_team(Role::TeamLeader, "pink", "pink"), "pink");
        assert_eq!(forwarding_team(Role::Leader, "green", "pink"), "pink");
        assert_eq!(forwarding_team(Role::Worker, "green", "pink"), "pink");
    }
}
