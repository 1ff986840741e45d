//! Toxiproxy's connection toxics in the delay proxy, with the semantics of Toxiproxy's README
//! ("Toxics") and its implementation, each acting on both directions of every connection the
//! proxy relays towards a destination while it is in force:
//!
//! - `timeout` (`timeout`, ms): "Stops all data from getting through, and closes the connection
//!   after timeout. If timeout is 0, the connection won't close, and data will be dropped until
//!   the toxic is removed." The clock starts when the toxic meets the connection (in force when
//!   it opens, or added while it is open); as in Toxiproxy, removing the toxic closes the
//!   connections it held, whose streams lost data.
//! - `reset_peer` (`timeout`, ms): "Simulate TCP RESET (Connection reset by peer) on the
//!   connections by closing the stub Input immediately or after a timeout." As in Toxiproxy,
//!   the first data that meets the toxic is dropped, nothing more crosses that direction, and
//!   `timeout` later both sockets are closed with `SO_LINGER` 0, so each end gets a reset.
//! - `slicer` (`average_size`, `size_variation` bytes, `delay` µs): "Slices TCP data up into
//!   small bits, optionally adding a delay between each sliced 'packet'." Each piece is
//!   `average_size` ± a uniform draw of `size_variation` (which must be smaller).
//! - `limit_data` (`bytes`): "Closes connection when transmitted data exceeded limit." Counted
//!   per direction from when the toxic meets the connection; the last write is cut to the
//!   limit, then the connection is closed.
//! - `slow_close` (`delay`, ms): "Delay the TCP socket from closing until delay has elapsed":
//!   a sender's close (FIN) is passed on that long after it arrived.
//!
//! Toxiproxy chooses a stream (upstream or downstream) and a `toxicity` per toxic; here a toxic
//! is a property of the link, so it acts on both streams of every connection. Several toxics on
//! one destination stack: the one added last acts until it is removed.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// One toxic and its attributes (Toxiproxy's names, with the unit in the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Toxic {
    /// No data crosses; the connection is closed after `timeout_ms` (0: never).
    Timeout {
        /// Toxiproxy's `timeout`, ms.
        timeout_ms: u64,
    },
    /// The connection is reset `timeout_ms` after the first data that meets the toxic.
    ResetPeer {
        /// Toxiproxy's `timeout`, ms.
        timeout_ms: u64,
    },
    /// Data crosses in pieces of `average_size` ± `size_variation` bytes, `delay_us` apart.
    Slicer {
        /// Toxiproxy's `average_size`, bytes (at least 1).
        average_size: u64,
        /// Toxiproxy's `size_variation`, bytes (below `average_size`).
        size_variation: u64,
        /// Toxiproxy's `delay` between pieces, µs.
        delay_us: u64,
    },
    /// The connection is closed once `bytes` have crossed in one direction.
    LimitData {
        /// Toxiproxy's `bytes` (at least 1).
        bytes: u64,
    },
    /// A close is passed on `delay_ms` after it arrived.
    SlowClose {
        /// Toxiproxy's `delay`, ms.
        delay_ms: u64,
    },
}

impl Toxic {
    /// Whether the toxic breaks every connection through it (stops its data, resets it, or
    /// closes it after a few bytes), so that the peers behind it cannot be reached at all.
    pub fn breaks_connections(&self) -> bool {
        matches!(
            self,
            Toxic::Timeout { .. } | Toxic::ResetPeer { .. } | Toxic::LimitData { .. }
        )
    }

    /// Toxiproxy's name of the toxic.
    pub fn name(&self) -> &'static str {
        match self {
            Toxic::Timeout { .. } => "timeout",
            Toxic::ResetPeer { .. } => "reset_peer",
            Toxic::Slicer { .. } => "slicer",
            Toxic::LimitData { .. } => "limit_data",
            Toxic::SlowClose { .. } => "slow_close",
        }
    }

    /// "reset_peer 500 ms", "slicer 64 ± 16 B every 100 µs", for labels.
    pub fn describe(&self) -> String {
        let name = self.name();
        match *self {
            Toxic::Timeout { timeout_ms: 0 } => format!("{name} 0 (data dropped, never closed)"),
            Toxic::Timeout { timeout_ms } | Toxic::ResetPeer { timeout_ms } => {
                format!("{name} {timeout_ms} ms")
            }
            Toxic::Slicer {
                average_size,
                size_variation,
                delay_us,
            } => format!("{name} {average_size} ± {size_variation} B every {delay_us} µs"),
            Toxic::LimitData { bytes } => format!("{name} {bytes} B"),
            Toxic::SlowClose { delay_ms } => format!("{name} {delay_ms} ms"),
        }
    }
}

/// Names a toxic added to a [`Toxics`] table, to remove exactly it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ToxicId(u64);

/// The toxic acting on a connection now, with its id (a new id is a new toxic, whose counts
/// and clocks start afresh).
pub type InForce = (ToxicId, Toxic);

#[derive(Debug, Default)]
struct Table {
    next: u64,
    by_destination: BTreeMap<Ipv4Addr, Vec<InForce>>,
}

/// The toxics of one proxy by destination address; shared with whoever changes them (a link
/// fault); open connections see a change at once.
#[derive(Clone, Debug)]
pub struct Toxics(Arc<watch::Sender<Table>>);

impl Default for Toxics {
    fn default() -> Self {
        Toxics(Arc::new(watch::channel(Table::default()).0))
    }
}

impl Toxics {
    /// Puts `toxic` in force towards `to`, over any already there, until removed.
    pub fn add(&self, to: Ipv4Addr, toxic: Toxic) -> ToxicId {
        let mut id = ToxicId(0);
        self.0.send_modify(|table| {
            id = ToxicId(table.next);
            table.next += 1;
            table
                .by_destination
                .entry(to)
                .or_default()
                .push((id, toxic));
        });
        id
    }

    /// Removes the toxic `id` towards `to` (nothing when it is not there).
    pub fn remove(&self, to: Ipv4Addr, id: ToxicId) {
        self.0.send_modify(|table| {
            if let Some(list) = table.by_destination.get_mut(&to) {
                list.retain(|(each, _)| *each != id);
            }
        });
    }

    /// The toxic acting towards `to` now.
    pub fn current(&self, to: Ipv4Addr) -> Option<InForce> {
        latest(&self.0.borrow(), to)
    }

    /// What one connection towards `to` watches.
    pub(super) fn on(&self, to: Ipv4Addr) -> OnConnection {
        OnConnection {
            watch: self.0.subscribe(),
            to,
        }
    }
}

fn latest(table: &Table, to: Ipv4Addr) -> Option<InForce> {
    table
        .by_destination
        .get(&to)
        .and_then(|l| l.last())
        .copied()
}

/// The toxics of one connection's destination, as the connection sees them.
#[derive(Clone, Debug)]
pub(super) struct OnConnection {
    watch: watch::Receiver<Table>,
    to: Ipv4Addr,
}

impl OnConnection {
    /// The toxic acting now.
    pub(super) fn current(&self) -> Option<InForce> {
        latest(&self.watch.borrow(), self.to)
    }

    /// Waits for the next change of the table (forever once its owner is gone).
    async fn changed(&mut self) {
        if self.watch.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How a connection, or one direction of it, ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// The sender closed and the close was passed on (the other direction goes on).
    Done,
    /// The connection is to be closed both ways.
    Close,
    /// The connection is to be reset both ways.
    Reset,
}

/// The connection's fate under `timeout`: closed when a timeout toxic's time is up, or when
/// the timeout toxic that held it is removed or replaced. Never ends otherwise.
pub(super) async fn timeout(mut on: OnConnection) -> End {
    let mut held: Option<(ToxicId, Instant)> = None;
    loop {
        let current = on.current();
        let deadline = match current {
            Some((id, Toxic::Timeout { timeout_ms })) => {
                let since = match held {
                    Some((seen, since)) if seen == id => since,
                    _ => Instant::now(),
                };
                held = Some((id, since));
                (timeout_ms > 0).then(|| since + Duration::from_millis(timeout_ms))
            }
            _ if held.is_some() => return End::Close,
            _ => None,
        };
        match deadline {
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => return End::Close,
                () = on.changed() => {}
            },
            None => on.changed().await,
        }
    }
}

/// Counts one direction's bytes under `limit_data`, afresh for each new toxic.
#[derive(Debug, Default)]
pub(super) struct Passed(Option<(ToxicId, u64)>);

/// Writes `chunk` as the toxic in force says, for one direction: `Ok(None)` to go on,
/// `Ok(Some(end))` when the connection must end.
pub(super) async fn write_chunk<W: AsyncWrite + Unpin>(
    to: &mut W,
    chunk: &[u8],
    in_force: Option<InForce>,
    passed: &mut Passed,
) -> std::io::Result<Option<End>> {
    match in_force {
        None | Some((_, Toxic::SlowClose { .. })) => to.write_all(chunk).await?,
        Some((_, Toxic::Timeout { .. })) => {}
        Some((_, Toxic::ResetPeer { timeout_ms })) => {
            tokio::time::sleep(Duration::from_millis(timeout_ms)).await;
            return Ok(Some(End::Reset));
        }
        Some((_, toxic @ Toxic::Slicer { delay_us, .. })) => {
            for piece in slices(chunk.len(), toxic) {
                to.write_all(&chunk[piece.clone()]).await?;
                to.flush().await?;
                if piece.end < chunk.len() && delay_us > 0 {
                    tokio::time::sleep(Duration::from_micros(delay_us)).await;
                }
            }
        }
        Some((id, Toxic::LimitData { bytes })) => {
            let sent = match passed.0 {
                Some((seen, sent)) if seen == id => sent,
                _ => 0,
            };
            let room = bytes.saturating_sub(sent).min(chunk.len() as u64) as usize;
            to.write_all(&chunk[..room]).await?;
            passed.0 = Some((id, sent + room as u64));
            if sent + room as u64 >= bytes {
                to.flush().await?;
                return Ok(Some(End::Close));
            }
        }
    }
    Ok(None)
}

/// The pieces a slicer cuts `len` bytes into: each `average_size` ± a uniform draw of
/// `size_variation`, at least one byte, the last one what is left.
pub(super) fn slices(len: usize, toxic: Toxic) -> Vec<std::ops::Range<usize>> {
    let Toxic::Slicer {
        average_size,
        size_variation,
        ..
    } = toxic
    else {
        return std::iter::once(0..len).collect();
    };
    let mut pieces = Vec::new();
    let mut start = 0usize;
    while start < len {
        let spread = if size_variation == 0 {
            0
        } else {
            rand::random_range(0..=2 * size_variation) as i64 - size_variation as i64
        };
        let size = (average_size as i64 + spread).max(1) as usize;
        let end = (start + size).min(len);
        pieces.push(start..end);
        start = end;
    }
    pieces
}

/// The delay before a sender's close is passed on.
pub(super) fn close_delay(in_force: Option<InForce>) -> Duration {
    match in_force {
        Some((_, Toxic::SlowClose { delay_ms })) => Duration::from_millis(delay_ms),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests;
