//! Counters of the extra work failures cause on the query path, for metrics and for the
//! harness's amplification figures.

use std::sync::atomic::{AtomicU64, Ordering};

use overlay::proto::RoutingStats;

/// Routing counters since the node started; each only grows.
#[derive(Debug, Default)]
pub struct RoutingCounters {
    peer_calls: AtomicU64,
    peer_call_failures: AtomicU64,
    retries: AtomicU64,
    failovers: AtomicU64,
    unserved: AtomicU64,
    coordinated: AtomicU64,
}

/// One kind of routing work.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    /// A Scan call to a peer.
    PeerCall,
    /// A Scan call that failed.
    PeerCallFailure,
    /// A slice task sent again after a failed call.
    Retry,
    /// A slice task routed to a replica or past a relay.
    Failover,
    /// A slice task no live holder could serve.
    Unserved,
    /// A client query this node coordinated.
    Coordinated,
}

impl RoutingCounters {
    /// Adds `n` to one counter.
    pub fn add(&self, what: Counted, n: u64) {
        let counter = match what {
            Counted::PeerCall => &self.peer_calls,
            Counted::PeerCallFailure => &self.peer_call_failures,
            Counted::Retry => &self.retries,
            Counted::Failover => &self.failovers,
            Counted::Unserved => &self.unserved,
            Counted::Coordinated => &self.coordinated,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters on the wire.
    pub fn to_proto(&self) -> RoutingStats {
        let get = |c: &AtomicU64| i64::try_from(c.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        RoutingStats {
            peer_calls: get(&self.peer_calls),
            peer_call_failures: get(&self.peer_call_failures),
            retries: get(&self.retries),
            failovers: get(&self.failovers),
            unserved: get(&self.unserved),
            coordinated: get(&self.coordinated),
        }
    }
}
