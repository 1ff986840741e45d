//! The envelope of every membership datagram: a magic, the cluster id and the sender's index,
//! then the protocol's bytes. Whatever fails a check is dropped and counted by [`DropReason`]
//! before the protocol sees it.

use overlay::config::ClusterConfig;
use overlay::dataset::{fnv1a, FNV_OFFSET};

/// First bytes of every datagram: "OM" and the envelope version.
const MAGIC: [u8; 3] = *b"OM1";

/// Bytes before the protocol's: magic, cluster id (8), sender index (2).
pub const ENVELOPE_BYTES: usize = MAGIC.len() + 8 + 2;

/// Largest datagram sent or accepted: fits an Ethernet frame with room for IP and UDP
/// headers, so membership traffic is never fragmented.
pub const MAX_DATAGRAM_BYTES: usize = 1400;

/// Why a datagram was dropped unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Larger than [`MAX_DATAGRAM_BYTES`].
    Oversized,
    /// No magic, or too short for the envelope.
    Malformed,
    /// Another cluster's id (another config or secret).
    OtherCluster,
    /// A sender index past the config, or this node's own.
    UnknownSender,
    /// The protocol could not read or would not accept the payload.
    Rejected,
    /// An injected fault (partition or drop) refused it.
    Fault,
    /// The node could not keep up: its inbound queue was full.
    Overloaded,
}

impl DropReason {
    /// Every reason, in the order metrics list them.
    pub const ALL: [DropReason; 7] = [
        DropReason::Oversized,
        DropReason::Malformed,
        DropReason::OtherCluster,
        DropReason::UnknownSender,
        DropReason::Rejected,
        DropReason::Fault,
        DropReason::Overloaded,
    ];

    /// Lower-case name, as in metrics.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Oversized => "oversized",
            DropReason::Malformed => "malformed",
            DropReason::OtherCluster => "other_cluster",
            DropReason::UnknownSender => "unknown_sender",
            DropReason::Rejected => "rejected",
            DropReason::Fault => "fault",
            DropReason::Overloaded => "overloaded",
        }
    }
}

/// The id every message of one cluster carries: FNV-1a 64 over every process (id, host, port,
/// in config order) and the cluster secret, if any. Two clusters from different configs, or the
/// same config with another secret, do not hear each other.
pub fn cluster_id(config: &ClusterConfig, secret: Option<&str>) -> u64 {
    let mut hash = FNV_OFFSET;
    for process in config.processes.values() {
        hash = fnv1a(hash, process.id.as_str().as_bytes());
        hash = fnv1a(hash, &[0]);
        hash = fnv1a(hash, process.host.as_bytes());
        hash = fnv1a(hash, &process.port.to_be_bytes());
    }
    if let Some(secret) = secret {
        hash = fnv1a(hash, &[1]);
        hash = fnv1a(hash, secret.as_bytes());
    }
    hash
}

/// Puts the envelope before `payload`.
pub fn seal(cluster: u64, sender: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_BYTES + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&cluster.to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks a datagram's envelope for this cluster of `members` processes, where this node is
/// `own`: the sender's index and the protocol's bytes, or why it is dropped.
pub fn open(
    datagram: &[u8],
    cluster: u64,
    members: u16,
    own: u16,
) -> Result<(u16, &[u8]), DropReason> {
    if datagram.len() > MAX_DATAGRAM_BYTES {
        return Err(DropReason::Oversized);
    }
    if datagram.len() < ENVELOPE_BYTES || datagram[..MAGIC.len()] != MAGIC {
        return Err(DropReason::Malformed);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&datagram[MAGIC.len()..MAGIC.len() + 8]);
    if u64::from_be_bytes(id) != cluster {
        return Err(DropReason::OtherCluster);
    }
    let sender = u16::from_be_bytes([datagram[MAGIC.len() + 8], datagram[MAGIC.len() + 9]]);
    if sender >= members || sender == own {
        return Err(DropReason::UnknownSender);
    }
    Ok((sender, &datagram[ENVELOPE_BYTES..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_checked_in_order() {
        let sealed = seal(42, 1, b"payload");
        assert_eq!(open(&sealed, 42, 3, 0), Ok((1, &b"payload"[..])));
        assert_eq!(open(&sealed, 43, 3, 0), Err(DropReason::OtherCluster));
        assert_eq!(open(&sealed, 42, 1, 0), Err(DropReason::UnknownSender));
        assert_eq!(open(&sealed, 42, 3, 1), Err(DropReason::UnknownSender));
        assert_eq!(open(b"OM", 42, 3, 0), Err(DropReason::Malformed));
        assert_eq!(open(&[0u8; 40], 42, 3, 0), Err(DropReason::Malformed));
        let big = seal(42, 1, &[0u8; MAX_DATAGRAM_BYTES]);
        assert_eq!(open(&big, 42, 3, 0), Err(DropReason::Oversized));
    }

    #[test]
    fn the_cluster_id_depends_on_config_and_secret() {
        let config =
            ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json"))
                .unwrap();
        let plain = cluster_id(&config, None);
        assert_eq!(plain, cluster_id(&config, None));
        assert_ne!(plain, cluster_id(&config, Some("a secret of some length")));
        let mut other = config.clone();
        other.processes.pop_last();
        assert_ne!(plain, cluster_id(&other, None));
    }
}
