//! The membership task: feeds the adapter datagrams, due timers and a periodic tick, sends
//! what it returns through a [`Transport`], and tells an [`Observer`] what changed. Injected
//! faults apply to membership datagrams as to calls: a partition or a drop refuses them, a
//! delay holds them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use foca::Timer;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::identity::MemberId;
use super::swim::{Adapter, Change, Output};

/// How often the adapter is ticked (local health, isolated re-announces, view).
pub const TICK: Duration = Duration::from_millis(500);

/// Where datagrams go.
pub trait Transport: Send + Sync {
    /// Sends `datagram` to config member `to`; losing it is allowed.
    fn send(&self, to: u16, datagram: &[u8]);
}

/// Who hears about changes, and what decides a datagram's fate and the node's load.
pub trait Observer: Send + Sync {
    /// The protocol concluded something about a member.
    fn changed(&self, change: Change);
    /// What to do with a datagram from member `from`: `None` refuses it (an injected
    /// partition or drop), `Some(delay)` delivers it after `delay`.
    fn admit(&self, from: u16) -> Option<Duration>;
    /// Whether this node may send to member `to` now (a partition says no).
    fn may_send(&self, to: u16) -> bool;
    /// This node's own load: 0 healthy, 1 warning, 2 critical, 3 failing.
    fn load_level(&self) -> u32;
}

enum Due {
    Timer(Timer<MemberId>),
    Datagram(Vec<u8>),
}

/// Due items by time; a sequence number keeps the heap's order total.
struct Schedule {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    items: std::collections::HashMap<u64, Due>,
    next: u64,
}

impl Schedule {
    fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            items: std::collections::HashMap::new(),
            next: 0,
        }
    }

    fn push(&mut self, at: Instant, due: Due) {
        self.next += 1;
        self.heap.push(Reverse((at, self.next)));
        self.items.insert(self.next, due);
    }

    fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let Reverse((at, seq)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.items.remove(&seq)
    }
}

/// Runs the protocol until `inbound` closes.
pub async fn run(
    mut adapter: Adapter,
    mut inbound: mpsc::Receiver<Vec<u8>>,
    transport: Arc<dyn Transport>,
    observer: Arc<dyn Observer>,
) {
    let mut schedule = Schedule::new();
    let first = adapter.start();
    apply(first, &mut schedule, &*transport, &*observer);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = schedule.next_at().unwrap_or_else(|| Instant::now() + TICK);
        tokio::select! {
            datagram = inbound.recv() => {
                let Some(datagram) = datagram else { return };
                let Some(from) = adapter.sender_of(&datagram) else {
                    // Counted by the adapter's own checks.
                    let _ = adapter.receive(&datagram);
                    continue;
                };
                match observer.admit(from) {
                    None => adapter.refused(datagram.len()),
                    Some(delay) if !delay.is_zero() => {
                        schedule.push(Instant::now() + delay, Due::Datagram(datagram));
                    }
                    Some(_) => {
                        if let Ok(out) = adapter.receive(&datagram) {
                            apply(out, &mut schedule, &*transport, &*observer);
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {
                while let Some(due) = schedule.pop_due(Instant::now()) {
                    let out = match due {
                        Due::Timer(timer) => adapter.timer(timer),
                        Due::Datagram(datagram) => match adapter.receive(&datagram) {
                            Ok(out) => out,
                            Err(_) => continue,
                        },
                    };
                    apply(out, &mut schedule, &*transport, &*observer);
                }
            }
            _ = tick.tick() => {
                let out = adapter.tick(observer.load_level());
                apply(out, &mut schedule, &*transport, &*observer);
            }
        }
    }
}

fn apply(out: Output, schedule: &mut Schedule, transport: &dyn Transport, observer: &dyn Observer) {
    let now = Instant::now();
    for (after, timer) in out.timers {
        schedule.push(now + after, Due::Timer(timer));
    }
    for (to, datagram) in out.sends {
        if observer.may_send(to) {
            transport.send(to, &datagram);
        }
    }
    for change in out.changes {
        observer.changed(change);
    }
}
