//! The protocol's timing, derived from the config's `health` block, and stretched by the
//! node's own load (Lifeguard's local health awareness: a node that is itself slow waits longer
//! before it suspects or declares anyone).

use std::num::{NonZeroU32, NonZeroU8, NonZeroUsize};
use std::time::Duration;

use foca::{Config, PeriodicParams};
use overlay::config::Health;

use super::envelope::{ENVELOPE_BYTES, MAX_DATAGRAM_BYTES};

/// Probe periods per `health.interval_ms`: the old checker probed every peer each interval;
/// a SWIM node probes one random member each period, so the period can be longer.
const PERIOD_PER_INTERVAL: u32 = 2;
/// Members asked to probe a silent one for us before it is suspected.
const INDIRECT_PROBES: usize = 3;

/// The protocol's timing for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// One random member is probed per period.
    pub probe_period: Duration,
    /// How long a direct probe may take before indirect probes are sent.
    pub probe_rtt: Duration,
    /// How long a suspected member has to refute before it is declared down.
    pub suspicion: Duration,
    /// How often a few members believed down are sent an announce (re-merges partitions,
    /// finds processes started late).
    pub announce_down_every: Duration,
    /// How often fresh updates are gossiped to a few members besides the piggybacking: a
    /// quarter of the probe period, so that a declaration spreads through 129 nodes in about
    /// half a second. It costs nothing at rest: only pending updates are gossiped.
    pub gossip_every: Duration,
}

impl Settings {
    /// From the config: the period is 2 × `interval_ms` (at least 50 ms), a direct probe gets
    /// `timeout_ms` but at most 2/5 of the period (the rest is for the indirect probes), and a
    /// suspicion lasts `failure_threshold` periods.
    pub fn from_health(health: &Health) -> Self {
        let period = Duration::from_millis(health.interval_ms.max(25)) * PERIOD_PER_INTERVAL;
        let rtt = Duration::from_millis(health.timeout_ms.max(1)).min(period * 2 / 5);
        Self {
            probe_period: period,
            probe_rtt: rtt,
            suspicion: period * health.failure_threshold.max(1),
            announce_down_every: period * 2,
            gossip_every: period / 4,
        }
    }

    /// `foca`'s config for a cluster of `members`, the suspicion multiplied by `stretch` (≥ 1).
    /// `foca` cannot change its probe period or round trip while it runs: the adapter stretches
    /// those by holding their timers longer.
    pub fn foca_config(&self, members: u16, stretch: u32) -> Config {
        let stretch = stretch.max(1);
        let size = NonZeroU32::new(u32::from(members).max(1)).unwrap_or(NonZeroU32::MIN);
        let lan = Config::new_lan(size);
        Config {
            probe_period: self.probe_period,
            probe_rtt: self.probe_rtt,
            num_indirect_probes: NonZeroUsize::new(INDIRECT_PROBES).unwrap_or(NonZeroUsize::MIN),
            max_transmissions: lan
                .max_transmissions
                .max(NonZeroU8::new(3).unwrap_or(NonZeroU8::MIN)),
            suspect_to_down_after: self.suspicion * stretch,
            // Never forget a config member: down members are the ones announced to.
            remove_down_after: Duration::from_secs(365 * 24 * 3600),
            max_packet_size: NonZeroUsize::new(MAX_DATAGRAM_BYTES - ENVELOPE_BYTES)
                .unwrap_or(NonZeroUsize::MIN),
            notify_down_members: true,
            periodic_announce: None,
            periodic_announce_to_down_members: Some(PeriodicParams {
                frequency: self.announce_down_every,
                num_members: NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN),
            }),
            periodic_gossip: Some(PeriodicParams {
                frequency: self.gossip_every,
                num_members: NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_follows_the_health_block_and_stretches_under_load() {
        let s = Settings::from_health(&Health {
            interval_ms: 250,
            timeout_ms: 800,
            failure_threshold: 2,
        });
        assert_eq!(s.probe_period, Duration::from_millis(500));
        assert_eq!(s.probe_rtt, Duration::from_millis(200));
        assert_eq!(s.suspicion, Duration::from_secs(1));
        assert_eq!(s.gossip_every, Duration::from_millis(125));
        let calm = s.foca_config(33, 1);
        let loaded = s.foca_config(33, 3);
        assert_eq!(loaded.probe_period, calm.probe_period);
        assert_eq!(loaded.suspect_to_down_after, calm.suspect_to_down_after * 3);
        assert!(calm.probe_rtt < calm.probe_period);
    }
}
