//! Everything one node knows and holds, shared by its services.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::config::{ClusterConfig, NodeId, ProcessConfig, Role};
use overlay::partition::PartitionMap;

use crate::admission::Admission;
use crate::auth::ControlSettings;
use crate::faults::FaultTable;
use crate::health::backoff::Backoff;
use crate::health::monitor::StateMonitor;
use crate::health::peer_health::PeerHealth;
use crate::holdings::Holdings;
use crate::hooks::HookPool;
use crate::listen::ConnectionLimits;
use crate::logs::LogRing;
use crate::membership::stats::Stats as MembershipCounters;
use crate::peer_clients::PeerClients;
use crate::query::context::QueryContext;
use crate::query::counters::RoutingCounters;
use crate::results::ResultStore;
use crate::store::{LoadReport, Table};
use crate::tail::TailTolerance;
use crate::times::QueryTimes;

/// The state of one node process.
#[derive(Debug)]
pub struct Node {
    /// This process's entry in the config.
    pub me: ProcessConfig,
    /// The whole validated config.
    pub config: Arc<ClusterConfig>,
    /// Which node holds which days.
    pub partition: Arc<PartitionMap>,
    /// The rows of every slice this node holds.
    pub table: Arc<Table>,
    /// What loading found.
    pub load_report: LoadReport,
    /// Which of its assigned days this node holds, and their fingerprint.
    pub holdings: Arc<Holdings>,
    /// Where the data came from.
    pub dataset_root: PathBuf,
    /// Records per chunk unless a request asks otherwise.
    pub chunk_size: usize,
    /// Per-team admission control.
    pub admission: Admission,
    /// Answers kept for chunked retrieval.
    pub results: ResultStore,
    /// Clients to the other processes, opened on demand.
    pub peer_clients: Arc<PeerClients>,
    /// The membership protocol's counters and view.
    pub membership: Arc<MembershipCounters>,
    /// Recent log lines for metrics.
    pub logs: LogRing,
    /// Recent processing times.
    pub times: QueryTimes,
    /// When the node started serving.
    pub started: Instant,
    /// Longest a query may take end to end before its branches are given up.
    pub query_deadline: Duration,
    /// What this node knows of its peers' health.
    pub peer_health: Arc<PeerHealth>,
    /// This node's own state.
    pub state: Arc<StateMonitor>,
    /// Callbacks on lifecycle events.
    pub hooks: Arc<HookPool>,
    /// Faults injected through the control service.
    pub faults: Arc<FaultTable>,
    /// Whether, and with which token, the control service accepts requests.
    pub control: ControlSettings,
    /// Extra routing work caused by failures.
    pub routing: Arc<RoutingCounters>,
    /// Backoff between retries of a failed forward.
    pub retry_backoff: Backoff,
    /// The secret peer calls must carry; `None` when the cluster has none.
    pub cluster_token: Option<Arc<str>>,
    /// Caps on accepted connections.
    pub connections: ConnectionLimits,
    /// TLS on every service, mutual with a client CA (`None`: plaintext).
    pub tls: Option<crate::tls::NodeTls>,
    /// Most concurrent streams on one connection.
    pub max_streams_per_connection: u32,
    /// Where `/metrics` is served for Prometheus (`--metrics-addr`), if anywhere.
    pub metrics_addr: Option<String>,
    /// Peers' answer times: hedge delays, the hedge budget, outlier ejection.
    pub tail: Arc<TailTolerance>,
}

/// A request named a team the config does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("team '{team}' is not a team of this cluster (known: {known})")]
pub struct UnknownTeam {
    /// The team asked for, quoted.
    pub team: String,
    /// The config's teams.
    pub known: String,
}

/// Shared handle to the node.
pub type SharedNode = Arc<Node>;

impl Node {
    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.me.id
    }

    /// The parts of this node the query path may touch.
    pub fn query_context(&self) -> QueryContext {
        QueryContext {
            id: self.me.id.clone(),
            config: self.config.clone(),
            partition: self.partition.clone(),
            table: self.table.clone(),
            holdings: self.holdings.clone(),
            peer_health: self.peer_health.clone(),
            peer_clients: self.peer_clients.clone(),
            faults: self.faults.clone(),
            tail: self.tail.clone(),
            routing: self.routing.clone(),
            retry_backoff: self.retry_backoff.clone(),
        }
    }

    /// The team a request is admitted under: the one it names (the client's `team` param,
    /// or the team a parent forwarded with), else this node's own. A team the config does not
    /// know is refused with a reason listing the known ones, so admission state stays bounded
    /// by the config and a fresh name per query cannot escape `per_team_limit`.
    pub fn team_of<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, UnknownTeam> {
        match requested.filter(|team| !team.is_empty()) {
            None => Ok(&self.me.team),
            Some(team) if self.config.team_date_bounds.contains_key(team) => Ok(team),
            Some(team) => Err(UnknownTeam {
                team: overlay::query::quote(team),
                known: self
                    .config
                    .team_date_bounds
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
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
    fn team_leaders_forward_with_their_own_team() {
        assert_eq!(forwarding_team(Role::TeamLeader, "pink", "green"), "pink");
        assert_eq!(forwarding_team(Role::TeamLeader, "pink", "pink"), "pink");
        assert_eq!(forwarding_team(Role::Leader, "green", "pink"), "pink");
        assert_eq!(forwarding_team(Role::Worker, "green", "pink"), "pink");
    }
}
