//! Who a member is on the wire: its index in the config and the epoch of its process, and the
//! fixed binary form of the protocol's headers and member updates.
//!
//! The index names the config process (so a sender outside the config cannot even be
//! spelled); the epoch (the process's start time in ms) tells a restarted process from the one
//! that was declared down, so it can join again. Every field has a fixed size and every tag is
//! checked: a short or unknown input is a [`WireError`], never a panic.

use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::Arc;

use bytes::{Buf, BufMut};
use foca::{Codec, Header, Identity, Member, Message, State};

/// One member: a process of the config, in one of its lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemberId {
    /// The process's position in the config (ordered by id).
    pub index: u16,
    /// When this life of the process started (unix ms); 0 for a process not heard from yet.
    pub epoch: u64,
}

impl MemberId {
    /// Size of an identity on the wire.
    pub const WIRE_BYTES: usize = 10;
}

impl Identity for MemberId {
    type Addr = u16;

    fn renew(&self) -> Option<Self> {
        Some(Self {
            index: self.index,
            epoch: self.epoch.wrapping_add(1).max(1),
        })
    }

    fn addr(&self) -> u16 {
        self.index
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.epoch > adversary.epoch
    }
}

/// What cannot be read from a datagram.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The datagram ends inside a field.
    #[error("datagram ends inside {0}")]
    Short(&'static str),
    /// A tag names nothing we know.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// Which field.
        what: &'static str,
        /// As read.
        tag: u8,
    },
    /// The datagram has no room left for what was to be written (the protocol then stops
    /// adding members to it).
    #[error("no room left for {0}")]
    NoRoom(&'static str),
    /// A member index past the config.
    #[error("member index {0} is not in the config")]
    UnknownMember(u16),
    /// The header's sender is not the one the envelope names.
    #[error("header sender {header} differs from the envelope's {envelope}")]
    SenderMismatch {
        /// In the header.
        header: u16,
        /// In the envelope.
        envelope: u16,
    },
}

/// What the codec shares with the adapter that owns it (the protocol keeps the codec): the
/// sender the envelope named for the datagram being read, and the highest incarnation of our
/// own that went out, which counts this node's refutations.
#[derive(Debug, Default)]
pub struct CodecShared {
    /// The envelope's sender plus one; 0 while no datagram is being read.
    expected_sender: AtomicU32,
    own_incarnation: AtomicU16,
}

impl CodecShared {
    /// Reads the next datagram as coming from `sender` (`None`: anyone).
    pub fn expect_sender(&self, sender: Option<u16>) {
        let value = sender.map_or(0, |s| u32::from(s) + 1);
        self.expected_sender.store(value, Ordering::Relaxed);
    }

    /// The highest incarnation this node has sent.
    pub fn own_incarnation(&self) -> u16 {
        self.own_incarnation.load(Ordering::Relaxed)
    }
}

/// The codec of one node: checks every index against the config size and, while a datagram is
/// read, that its header names the sender the envelope named.
#[derive(Debug)]
pub struct MemberCodec {
    members: u16,
    shared: Arc<CodecShared>,
}

impl MemberCodec {
    /// For a config of `members` processes.
    pub fn new(members: u16, shared: Arc<CodecShared>) -> Self {
        Self { members, shared }
    }

    fn read_id(&self, buf: &mut impl Buf) -> Result<MemberId, WireError> {
        if buf.remaining() < MemberId::WIRE_BYTES {
            return Err(WireError::Short("a member id"));
        }
        let index = buf.get_u16();
        let epoch = buf.get_u64();
        if index >= self.members {
            return Err(WireError::UnknownMember(index));
        }
        Ok(MemberId { index, epoch })
    }
}

/// Bytes of one encoded member: index (2), epoch (8), incarnation (2), state (1).
const ENCODED_MEMBER_LEN: usize = 2 + 8 + 2 + 1;

fn write_id(id: &MemberId, buf: &mut impl BufMut) {
    buf.put_u16(id.index);
    buf.put_u64(id.epoch);
}

fn read_u8(buf: &mut impl Buf, what: &'static str) -> Result<u8, WireError> {
    if buf.remaining() < 1 {
        return Err(WireError::Short(what));
    }
    Ok(buf.get_u8())
}

fn read_u16(buf: &mut impl Buf, what: &'static str) -> Result<u16, WireError> {
    if buf.remaining() < 2 {
        return Err(WireError::Short(what));
    }
    Ok(buf.get_u16())
}

/// Message tags: one byte, then the probe number and the third party where there is one.
fn write_message(message: &Message<MemberId>, buf: &mut impl BufMut) {
    let (tag, probe, other) = match message {
        Message::Ping(n) => (0, Some(*n), None),
        Message::Ack(n) => (1, Some(*n), None),
        Message::PingReq {
            target,
            probe_number,
        } => (2, Some(*probe_number), Some(target)),
        Message::IndirectPing {
            origin,
            probe_number,
        } => (3, Some(*probe_number), Some(origin)),
        Message::IndirectAck {
            target,
            probe_number,
        } => (4, Some(*probe_number), Some(target)),
        Message::ForwardedAck {
            origin,
            probe_number,
        } => (5, Some(*probe_number), Some(origin)),
        Message::Announce => (6, None, None),
        Message::Feed => (7, None, None),
        Message::Gossip => (8, None, None),
        Message::Broadcast => (9, None, None),
        Message::TurnUndead => (10, None, None),
    };
    buf.put_u8(tag);
    if let Some(probe) = probe {
        buf.put_u8(probe);
    }
    if let Some(other) = other {
        write_id(other, buf);
    }
}

impl MemberCodec {
    fn read_message(&self, buf: &mut impl Buf) -> Result<Message<MemberId>, WireError> {
        let tag = read_u8(buf, "a message tag")?;
        if tag > 10 {
            return Err(WireError::UnknownTag {
                what: "message",
                tag,
            });
        }
        let probe = if tag <= 5 {
            read_u8(buf, "a probe number")?
        } else {
            0
        };
        let other = if (2..=5).contains(&tag) {
            Some(self.read_id(buf)?)
        } else {
            None
        };
        let message = match (tag, other) {
            (0, _) => Message::Ping(probe),
            (1, _) => Message::Ack(probe),
            (2, Some(target)) => Message::PingReq {
                target,
                probe_number: probe,
            },
            (3, Some(origin)) => Message::IndirectPing {
                origin,
                probe_number: probe,
            },
            (4, Some(target)) => Message::IndirectAck {
                target,
                probe_number: probe,
            },
            (5, Some(origin)) => Message::ForwardedAck {
                origin,
                probe_number: probe,
            },
            (6, _) => Message::Announce,
            (7, _) => Message::Feed,
            (8, _) => Message::Gossip,
            (9, _) => Message::Broadcast,
            _ => Message::TurnUndead,
        };
        Ok(message)
    }
}

impl Codec<MemberId> for MemberCodec {
    type Error = WireError;

    fn encode_header(
        &mut self,
        header: &Header<MemberId>,
        mut buf: impl BufMut,
    ) -> Result<(), WireError> {
        self.shared
            .own_incarnation
            .fetch_max(header.src_incarnation, Ordering::Relaxed);
        write_id(&header.src, &mut buf);
        buf.put_u16(header.src_incarnation);
        write_id(&header.dst, &mut buf);
        write_message(&header.message, &mut buf);
        Ok(())
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> Result<Header<MemberId>, WireError> {
        let src = self.read_id(&mut buf)?;
        let expected = self.shared.expected_sender.load(Ordering::Relaxed);
        if let Some(envelope) = expected.checked_sub(1).map(|e| e as u16) {
            if envelope != src.index {
                return Err(WireError::SenderMismatch {
                    header: src.index,
                    envelope,
                });
            }
        }
        let src_incarnation = read_u16(&mut buf, "an incarnation")?;
        let dst = self.read_id(&mut buf)?;
        let message = self.read_message(&mut buf)?;
        Ok(Header {
            src,
            src_incarnation,
            dst,
            message,
        })
    }

    fn encode_member(
        &mut self,
        member: &Member<MemberId>,
        mut buf: impl BufMut,
    ) -> Result<(), WireError> {
        // Id (index + epoch), incarnation, state: written whole or not at all.
        if buf.remaining_mut() < ENCODED_MEMBER_LEN {
            return Err(WireError::NoRoom("a member"));
        }
        write_id(member.id(), &mut buf);
        buf.put_u16(member.incarnation());
        buf.put_u8(match member.state() {
            State::Alive => 0,
            State::Suspect => 1,
            State::Down => 2,
        });
        Ok(())
    }

    fn decode_member(&mut self, mut buf: impl Buf) -> Result<Member<MemberId>, WireError> {
        let id = self.read_id(&mut buf)?;
        let incarnation = read_u16(&mut buf, "an incarnation")?;
        let state = match read_u8(&mut buf, "a member state")? {
            0 => State::Alive,
            1 => State::Suspect,
            2 => State::Down,
            tag => {
                return Err(WireError::UnknownTag {
                    what: "member state",
                    tag,
                })
            }
        };
        Ok(Member::new(id, incarnation, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_members_round_trip_and_bad_input_is_an_error() {
        let shared = Arc::new(CodecShared::default());
        let mut codec = MemberCodec::new(4, shared.clone());
        let a = MemberId { index: 1, epoch: 7 };
        let b = MemberId { index: 3, epoch: 9 };
        let header = Header {
            src: a,
            src_incarnation: 2,
            dst: b,
            message: Message::PingReq {
                target: b,
                probe_number: 5,
            },
        };
        let mut buf = Vec::new();
        codec.encode_header(&header, &mut buf).unwrap();
        assert_eq!(codec.decode_header(&buf[..]).unwrap(), header);
        assert_eq!(shared.own_incarnation(), 2);
        for cut in 0..buf.len() {
            assert!(codec.decode_header(&buf[..cut]).is_err(), "cut at {cut}");
        }
        shared.expect_sender(Some(2));
        assert!(matches!(
            codec.decode_header(&buf[..]),
            Err(WireError::SenderMismatch { .. })
        ));
        let member = Member::new(b, 3, State::Suspect);
        let mut buf = Vec::new();
        codec.encode_member(&member, &mut buf).unwrap();
        assert_eq!(codec.decode_member(&buf[..]).unwrap(), member);
        buf[12] = 9;
        assert!(codec.decode_member(&buf[..]).is_err());
        assert_eq!(
            MemberCodec::new(3, shared).decode_member(&buf[..]),
            Err(WireError::UnknownMember(3))
        );
    }

    #[test]
    fn a_member_that_does_not_fit_is_refused_whole_never_a_panic() {
        // A large cluster's member list outgrows one datagram: the protocol asks the codec to
        // write into a buffer with a few bytes left and stops at the first refusal.
        let mut codec = MemberCodec::new(200, Arc::new(CodecShared::default()));
        let member = Member::new(
            MemberId {
                index: 150,
                epoch: 1,
            },
            4,
            State::Alive,
        );
        for room in 0..ENCODED_MEMBER_LEN {
            let mut space = vec![0u8; room];
            let mut buf = &mut space[..];
            assert_eq!(
                codec.encode_member(&member, &mut buf),
                Err(WireError::NoRoom("a member")),
                "{room} bytes"
            );
        }
        let mut space = [0u8; ENCODED_MEMBER_LEN];
        codec.encode_member(&member, &mut space[..]).unwrap();
        assert_eq!(codec.decode_member(&space[..]).unwrap(), member);
    }
}
