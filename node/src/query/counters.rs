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
    hedges_sent: AtomicU64,
    hedges_won: AtomicU64,
    calls_cancelled: AtomicU64,
    calls_abandoned: AtomicU64,
    scans_stopped: AtomicU64,
    hedges_free: AtomicU64,
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
    /// A hedge: slices of a slow call asked of another holder (or served from a local copy).
    HedgeSent,
    /// A hedge that answered before the call it hedged.
    HedgeWon,
    /// A call this node cancelled because the other leg of its hedge answered first.
    CallCancelled,
    /// A call to this node whose caller went away before the answer.
    CallAbandoned,
    /// A local serve (the scans of one call's slices) stopped because its caller had gone.
    ScanStopped,
    /// A hedge sent free of the budget because the peer was suspected (silent or ejected).
    HedgeFree,
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
            Counted::HedgeSent => &self.hedges_sent,
            Counted::HedgeWon => &self.hedges_won,
            Counted::CallCancelled => &self.calls_cancelled,
            Counted::CallAbandoned => &self.calls_abandoned,
            Counted::ScanStopped => &self.scans_stopped,
            Counted::HedgeFree => &self.hedges_free,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters on the wire; `ejections` and `ejected_now` come from the outlier
    /// tracker.
    pub fn to_proto(&self, ejections: u64, ejected_now: u32) -> RoutingStats {
        let get = |c: &AtomicU64| i64::try_from(c.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        RoutingStats {
            peer_calls: get(&self.peer_calls),
            peer_call_failures: get(&self.peer_call_failures),
            retries: get(&self.retries),
            failovers: get(&self.failovers),
            unserved: get(&self.unserved),
            coordinated: get(&self.coordinated),
            hedges_sent: get(&self.hedges_sent),
            hedges_won: get(&self.hedges_won),
            calls_cancelled: get(&self.calls_cancelled),
            calls_abandoned: get(&self.calls_abandoned),
            ejections: i64::try_from(ejections).unwrap_or(i64::MAX),
            ejected_now: i32::try_from(ejected_now).unwrap_or(i32::MAX),
            scans_stopped: get(&self.scans_stopped),
            hedges_free: get(&self.hedges_free),
        }
    }
}
