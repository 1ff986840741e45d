//! The membership protocol's counters and view, shared between its task and `GetMetrics`.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use overlay::proto::{DropCount, MembershipStats};

use super::envelope::DropReason;

/// Counters and the latest view of the cluster; written by the membership task, read by
/// metrics.
#[derive(Debug, Default)]
pub struct Stats {
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
    alive: AtomicI32,
    suspect: AtomicI32,
    down: AtomicI32,
    refutations: AtomicU64,
}

impl Stats {
    /// A datagram of `bytes` went out.
    pub fn sent(&self, bytes: usize) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A datagram of `bytes` came in (accepted or not).
    pub fn received(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A datagram passed every check and reached the protocol.
    pub fn accepted(&self) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
    }

    /// A datagram was dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) {
        let slot = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        self.drops[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// How many datagrams were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |slot| self.drops[slot].load(Ordering::Relaxed))
    }

    /// The members in each state, this node included as alive.
    pub fn set_view(&self, alive: usize, suspect: usize, down: usize) {
        let clamp = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        self.alive.store(clamp(alive), Ordering::Relaxed);
        self.suspect.store(clamp(suspect), Ordering::Relaxed);
        self.down.store(clamp(down), Ordering::Relaxed);
    }

    /// Alive, suspect and down members as last seen.
    pub fn view(&self) -> (i32, i32, i32) {
        (
            self.alive.load(Ordering::Relaxed),
            self.suspect.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }

    /// This node's refutations so far (its own incarnation).
    pub fn set_refutations(&self, n: u64) {
        self.refutations.store(n, Ordering::Relaxed);
    }

    /// Everything on the wire, with `open_channels` from the peer clients.
    pub fn to_proto(&self, protocol: &str, open_channels: usize) -> MembershipStats {
        let wide = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let drops: Vec<DropCount> = DropReason::ALL
            .iter()
            .zip(&self.drops)
            .map(|(reason, n)| DropCount {
                reason: reason.name().to_string(),
                count: wide(n),
            })
            .collect();
        let (alive, suspect, down) = self.view();
        MembershipStats {
            protocol: protocol.to_string(),
            messages_sent: wide(&self.messages_sent),
            messages_received: wide(&self.messages_received),
            bytes_sent: wide(&self.bytes_sent),
            bytes_received: wide(&self.bytes_received),
            datagrams_dropped: drops.iter().map(|d| d.count).sum(),
            drops,
            members_alive: alive,
            members_suspect: suspect,
            members_down: down,
            refutations: wide(&self.refutations),
            open_channels: i32::try_from(open_channels).unwrap_or(i32::MAX),
        }
    }
}
