//! Faults injected through the control service: added latency, failed answers and refused
//! neighbours, applied where this node answers a client or a peer, and where it calls a peer.
//!
//! Latency comes in two stages: a `delay` acts on the answer before admission (the request
//! waits without holding a permit, like a slow link), a `stall` inside the work after admission
//! (the permit is held, like a slow disk or a pause in the scan; see `query::local`), so a
//! caller that gives up shows the work stopped and the permit released.
//!
//! The table is empty in normal operation, and every check starts with one atomic load, so a
//! node without faults pays nothing for the feature.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use overlay::config::{ClusterConfig, NodeId};
use overlay::fault::{FaultAction, CLIENT_PEER, MAX_DELAY_MS, MAX_DURATION_MS};
use overlay::proto::Fault;
use tonic::Status;

/// A fault request that makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// Not delay, stall, drop or partition.
    #[error("unknown fault kind '{0}' (known: delay, stall, drop, partition)")]
    UnknownKind(String),
    /// A peer that is not in the config.
    #[error("unknown peer '{peer}' (known: client, {known})")]
    UnknownPeer {
        /// As given.
        peer: String,
        /// The config's process ids.
        known: String,
    },
    /// A numeric parameter out of range.
    #[error("{field} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// As given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A partition needs a process id other than this node's.
    #[error("partition needs `peer` set to another process id (not '{0}')")]
    PartitionPeer(String),
}

/// Whose answer is being sent, or whom this node is about to call.
#[derive(Clone, Copy, Debug)]
pub enum Traffic<'a> {
    /// A client of the `OverlayNode` service.
    Client,
    /// Another node (its id).
    Peer(&'a str),
}

#[derive(Clone, Debug)]
struct ActiveFault {
    id: String,
    /// One of [`FaultAction::INJECTED`].
    kind: FaultAction,
    /// `None`: all traffic.
    peer: Option<String>,
    delay: Duration,
    probability: f64,
    expires: Option<Instant>,
}

impl ActiveFault {
    fn applies_to(&self, traffic: Traffic<'_>) -> bool {
        match (&self.peer, traffic) {
            (None, _) => true,
            (Some(peer), Traffic::Client) => peer == CLIENT_PEER,
            (Some(peer), Traffic::Peer(id)) => peer == id,
        }
    }

    fn to_proto(&self, now: Instant) -> Fault {
        Fault {
            id: self.id.clone(),
            kind: self.kind.name().to_string(),
            peer: self.peer.clone().unwrap_or_default(),
            delay_ms: self.delay.as_millis() as i64,
            probability: self.probability,
            duration_ms: 0,
            remaining_s: self
                .expires
                .map(|at| at.saturating_duration_since(now).as_secs_f64())
                .unwrap_or(0.0),
        }
    }
}

/// The faults in force on one node.
#[derive(Debug, Default)]
pub struct FaultTable {
    faults: Mutex<Vec<ActiveFault>>,
    any: AtomicBool,
    next_id: AtomicU64,
}

impl FaultTable {
    /// Checks and starts a fault; returns its id.
    pub fn inject(
        &self,
        fault: &Fault,
        config: &ClusterConfig,
        own_id: &NodeId,
    ) -> Result<String, FaultError> {
        let mut active = validate(fault, config, own_id)?;
        active.id = format!("f{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let id = active.id.clone();
        let mut faults = self.lock();
        faults.push(active);
        self.any.store(true, Ordering::Release);
        Ok(id)
    }

    /// Ends the fault with this id, or every fault; returns how many ended.
    pub fn clear(&self, id: Option<&str>) -> usize {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|f| id.is_some_and(|id| f.id != id));
        self.any.store(!faults.is_empty(), Ordering::Release);
        before - faults.len()
    }

    /// The faults in force.
    pub fn list(&self) -> Vec<Fault> {
        let now = Instant::now();
        self.live(now).iter().map(|f| f.to_proto(now)).collect()
    }

    /// Applies the faults on an answer to `traffic`: waits out added latency, then fails the
    /// answer when a drop or partition says so.
    pub async fn on_answer(&self, traffic: Traffic<'_>) -> Result<(), Status> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let (delay, refusal) = self.decide(traffic);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        refusal.map_or(Ok(()), |why| Err(Status::unavailable(why)))
    }

    /// The same faults on a membership datagram from `peer`: `None` when a partition or drop
    /// refuses it, else how long it is held, so a faulted node looks to the membership protocol
    /// as it looks to callers.
    pub fn datagram_fate(&self, peer: &NodeId) -> Option<Duration> {
        if !self.any.load(Ordering::Acquire) {
            return Some(Duration::ZERO);
        }
        match self.decide(Traffic::Peer(peer.as_str())) {
            (_, Some(_)) => None,
            (delay, None) => Some(delay),
        }
    }

    /// The added latency for `traffic` and why it is refused, if it is; decided under the lock
    /// (no copy of the table), applied by the caller after it is released.
    fn decide(&self, traffic: Traffic<'_>) -> (Duration, Option<String>) {
        let faults = self.live(Instant::now());
        let matching = || faults.iter().filter(|f| f.applies_to(traffic));
        let delay: Duration = matching()
            .filter(|f| f.kind == FaultAction::Delay)
            .map(|f| f.delay)
            .sum();
        let refusal = matching().find_map(|fault| match fault.kind {
            FaultAction::Partition => Some(format!(
                "partitioned: refusing {} (fault {})",
                fault.peer.as_deref().unwrap_or_default(),
                fault.id
            )),
            FaultAction::Drop if rand::random::<f64>() < fault.probability => {
                Some(format!("answer dropped by injected fault {}", fault.id))
            }
            _ => None,
        });
        (delay, refusal)
    }

    /// How long the `stall` faults hold work done for `traffic` (zero without one).
    pub fn stall_for(&self, traffic: Traffic<'_>) -> Duration {
        if !self.any.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        self.live(Instant::now())
            .iter()
            .filter(|f| f.kind == FaultAction::Stall && f.applies_to(traffic))
            .map(|f| f.delay)
            .sum()
    }

    /// Why this node must not call `peer` now (a partition), if it must not.
    pub fn refuses_call_to(&self, peer: &NodeId) -> Option<String> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.live(Instant::now())
            .iter()
            .find(|f| f.kind == FaultAction::Partition && f.peer.as_deref() == Some(peer.as_str()))
            .map(|f| format!("partitioned from {peer} (fault {})", f.id))
    }

    /// The table with expired faults removed, locked.
    fn live(&self, now: Instant) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        let mut faults = self.lock();
        faults.retain(|f| f.expires.is_none_or(|at| at > now));
        self.any.store(!faults.is_empty(), Ordering::Release);
        faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn validate(
    fault: &Fault,
    config: &ClusterConfig,
    own_id: &NodeId,
) -> Result<ActiveFault, FaultError> {
    let kind = FaultAction::injected_from_name(&fault.kind)
        .ok_or_else(|| FaultError::UnknownKind(fault.kind.clone()))?;
    let peer = match fault.peer.as_str() {
        "" => None,
        CLIENT_PEER => Some(CLIENT_PEER.to_string()),
        id if config.process(&NodeId(id.to_string())).is_some() => Some(id.to_string()),
        other => {
            let known: Vec<&str> = config.processes.keys().map(NodeId::as_str).collect();
            return Err(FaultError::UnknownPeer {
                peer: other.to_string(),
                known: known.join(", "),
            });
        }
    };
    if kind == FaultAction::Partition
        && peer
            .as_deref()
            .is_none_or(|p| p == CLIENT_PEER || p == own_id.as_str())
    {
        return Err(FaultError::PartitionPeer(fault.peer.clone()));
    }
    let delay_allowed = if matches!(kind, FaultAction::Delay | FaultAction::Stall) {
        1..=MAX_DELAY_MS
    } else {
        0..=0
    };
    if !delay_allowed.contains(&fault.delay_ms) {
        return Err(FaultError::OutOfRange {
            field: "delay_ms",
            value: fault.delay_ms.to_string(),
            allowed: format!("1..={MAX_DELAY_MS} for delay and stall, 0 otherwise"),
        });
    }
    if !(0.0..=1.0).contains(&fault.probability)
        || (kind != FaultAction::Drop && fault.probability != 0.0)
    {
        return Err(FaultError::OutOfRange {
            field: "probability",
            value: fault.probability.to_string(),
            allowed: "(0, 1] for drop (0 means 1), unset otherwise".to_string(),
        });
    }
    if !(0..=MAX_DURATION_MS).contains(&fault.duration_ms) {
        return Err(FaultError::OutOfRange {
            field: "duration_ms",
            value: fault.duration_ms.to_string(),
            allowed: format!("0..={MAX_DURATION_MS} (a week; 0: until cleared)"),
        });
    }
    Ok(ActiveFault {
        id: String::new(),
        kind,
        peer,
        delay: Duration::from_millis(fault.delay_ms as u64),
        probability: if fault.probability == 0.0 {
            1.0
        } else {
            fault.probability
        },
        expires: (fault.duration_ms > 0)
            .then(|| Instant::now() + Duration::from_millis(fault.duration_ms as u64)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClusterConfig {
        ClusterConfig::from_json(include_str!("../../configs/one_host_config.json")).unwrap()
    }

    fn fault(kind: &str, peer: &str, delay_ms: i64) -> Fault {
        Fault {
            kind: kind.to_string(),
            peer: peer.to_string(),
            delay_ms,
            ..Default::default()
        }
    }

    fn inject(table: &FaultTable, f: Fault) -> Result<String, FaultError> {
        table.inject(&f, &config(), &NodeId("B".to_string()))
    }

    #[test]
    fn nonsense_faults_are_refused_with_the_reason() {
        let table = FaultTable::default();
        let err = |f| inject(&table, f).unwrap_err().to_string();
        assert!(err(fault("delay", "", -5)).contains("delay_ms = -5"));
        assert!(err(fault("delay", "", 0)).contains("delay_ms = 0"));
        let too_long = err(fault("delay", "", MAX_DELAY_MS + 1));
        assert!(too_long.contains("delay_ms = 60001"), "{too_long}");
        assert!(too_long.contains("1..=60000"), "{too_long}");
        assert!(err(fault("kill", "", 0)).contains("unknown fault kind 'kill'"));
        assert!(err(fault("explode", "", 0)).contains("unknown fault kind 'explode'"));
        assert!(err(fault("drop", "Z", 0)).contains("unknown peer 'Z'"));
        assert!(err(fault("partition", "", 0)).contains("partition needs `peer`"));
        assert!(err(fault("partition", "B", 0)).contains("not 'B'"));
        let mut bad_p = fault("drop", "", 0);
        bad_p.probability = 1.5;
        assert!(err(bad_p).contains("probability = 1.5"));
        let mut bad_d = fault("drop", "", 0);
        bad_d.duration_ms = -1;
        assert!(err(bad_d).contains("duration_ms = -1"));
        let mut forever = fault("drop", "", 0);
        forever.duration_ms = i64::MAX;
        assert!(err(forever).contains("duration_ms = 9223372036854775807"));
        assert!(table.list().is_empty());
        assert!(inject(&table, fault("delay", "", MAX_DELAY_MS)).is_ok());
    }

    #[tokio::test]
    async fn faults_apply_only_to_their_traffic_and_clear() {
        let table = FaultTable::default();
        assert!(table.on_answer(Traffic::Client).await.is_ok());
        let drop_c = inject(&table, fault("drop", "C", 0)).unwrap();
        inject(&table, fault("partition", "A", 0)).unwrap();
        assert!(table.on_answer(Traffic::Client).await.is_ok());
        assert!(table.on_answer(Traffic::Peer("E")).await.is_ok());
        let dropped = table.on_answer(Traffic::Peer("C")).await.unwrap_err();
        assert!(dropped.message().contains("dropped"));
        assert!(table.refuses_call_to(&NodeId("A".into())).is_some());
        assert!(table.refuses_call_to(&NodeId("C".into())).is_none());
        assert_eq!(table.list().len(), 2);
        assert_eq!(table.clear(Some(&drop_c)), 1);
        assert!(table.on_answer(Traffic::Peer("C")).await.is_ok());
        assert_eq!(table.clear(None), 1);
        assert!(table.refuses_call_to(&NodeId("A".into())).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_holds_the_work_not_the_answer() {
        let table = FaultTable::default();
        assert_eq!(table.stall_for(Traffic::Peer("E")), Duration::ZERO);
        let err = inject(&table, fault("stall", "E", 0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("delay_ms = 0") && err.contains("delay and stall"),
            "{err}"
        );
        inject(&table, fault("stall", "E", 300)).unwrap();
        inject(&table, fault("stall", "", 100)).unwrap();
        assert_eq!(
            table.stall_for(Traffic::Peer("E")),
            Duration::from_millis(400)
        );
        assert_eq!(
            table.stall_for(Traffic::Peer("A")),
            Duration::from_millis(100)
        );
        // The answer itself is not delayed: pings and admission go on as usual.
        let started = tokio::time::Instant::now();
        table.on_answer(Traffic::Peer("E")).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(table.list()[0].kind, "stall");
        table.clear(None);
        assert_eq!(table.stall_for(Traffic::Peer("E")), Duration::ZERO);
    }

    #[tokio::test]
    async fn delays_add_latency_and_expire() {
        let table = FaultTable::default();
        let mut f = fault("delay", "client", 40);
        f.duration_ms = 150;
        inject(&table, f).unwrap();
        let started = Instant::now();
        table.on_answer(Traffic::Client).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert!(table.list()[0].remaining_s > 0.0);
        tokio::time::sleep(Duration::from_millis(160)).await;
        assert!(table.list().is_empty());
        let started = Instant::now();
        table.on_answer(Traffic::Client).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(40));
    }
}
