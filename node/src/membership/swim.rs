//! The SWIM adapter: one `foca` instance with this node's identity, codec, settings and
//! envelope, driven by datagrams, timers and a periodic tick, with no I/O of its own (the
//! driver sends what it returns and schedules its timers), so it runs the same on a real
//! socket and on a simulated network in tests.

use std::sync::Arc;
use std::time::Duration;

use foca::{
    AccumulatingRuntime, Foca, Identity, Member, NoCustomBroadcast, OwnedNotification, State, Timer,
};
use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use rand::SeedableRng;

use super::envelope::{open, seal, DropReason};
use super::identity::{CodecShared, MemberCodec, MemberId};
use super::settings::Settings;
use super::stats::Stats;

/// How many down config members an isolated node announces itself to on each tick.
const ISOLATED_ANNOUNCES: usize = 2;

/// What the protocol concluded about a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The member (config index) is up, or up again.
    Up(u16),
    /// The member is suspected: it missed a probe cycle.
    Suspect(u16),
    /// The member is declared down.
    Down(u16),
    /// A datagram from the member reached the protocol while it is a member: proof of life.
    Heard(u16),
}

/// What the driver must do after the adapter handled something.
#[derive(Debug, Default)]
pub struct Output {
    /// Datagrams to send, by config index.
    pub sends: Vec<(u16, Vec<u8>)>,
    /// Timers to hand back after their delay.
    pub timers: Vec<(Duration, Timer<MemberId>)>,
    /// What changed.
    pub changes: Vec<Change>,
}

type Swim = Foca<MemberId, MemberCodec, StdRng, NoCustomBroadcast>;

/// One node's membership protocol.
pub struct Adapter {
    foca: Swim,
    runtime: AccumulatingRuntime<MemberId>,
    settings: Settings,
    cluster: u64,
    own: u16,
    members: u16,
    /// The multiplier in force (Lifeguard local health).
    stretch: u32,
    /// Each member's state as last reported, by index (`None`: not a member now).
    known: Vec<Option<State>>,
    rng: StdRng,
    codec: Arc<CodecShared>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("own", &self.own)
            .field("members", &self.members)
            .field("stretch", &self.stretch)
            .finish_non_exhaustive()
    }
}

impl Adapter {
    /// Member `own` of a config of `members` processes, in cluster `cluster`, whose process
    /// started at `epoch` (unix ms, > 0); `seed` seeds its random choices.
    pub fn new(
        own: u16,
        members: u16,
        cluster: u64,
        epoch: u64,
        settings: Settings,
        seed: u64,
        stats: Arc<Stats>,
    ) -> Self {
        let identity = MemberId {
            index: own,
            epoch: epoch.max(1),
        };
        let codec = Arc::new(CodecShared::default());
        let foca = Foca::new(
            identity,
            settings.foca_config(members, 1),
            StdRng::seed_from_u64(seed),
            MemberCodec::new(members, codec.clone()),
        );
        Self {
            foca,
            runtime: AccumulatingRuntime::new(),
            settings,
            cluster,
            own,
            members,
            stretch: 1,
            known: vec![None; usize::from(members)],
            rng: StdRng::seed_from_u64(seed ^ 0x5eed),
            codec,
            stats,
        }
    }

    /// Teaches the protocol every config member as down (so it keeps announcing itself to
    /// those it has not heard from, and re-merges after a partition) and announces this node
    /// to all of them.
    pub fn start(&mut self) -> Output {
        let placeholders = (0..self.members)
            .filter(|&i| i != self.own)
            .map(|index| Member::new(MemberId { index, epoch: 0 }, 0, State::Down));
        if let Err(e) = self.foca.apply_many(placeholders, false, &mut self.runtime) {
            tracing::debug!("[Membership] seeding the config members failed: {e}");
        }
        let own = self.own;
        for index in (0..self.members).filter(|&i| i != own) {
            self.announce(index);
        }
        self.drain()
    }

    /// A datagram from the network: checked, then handed to the protocol.
    pub fn receive(&mut self, datagram: &[u8]) -> Result<Output, DropReason> {
        self.stats.received(datagram.len());
        let (sender, payload) = open(datagram, self.cluster, self.members, self.own)
            .inspect_err(|reason| self.stats.dropped(*reason))?;
        self.codec.expect_sender(Some(sender));
        let handled = self.foca.handle_data(payload, &mut self.runtime);
        self.codec.expect_sender(None);
        if let Err(e) = handled {
            tracing::debug!("[Membership] datagram from member {sender} rejected: {e}");
            // Whatever the protocol queued before it gave up stays queued for the next drain:
            // a timer lost would stop its probing for good.
            self.stats.dropped(DropReason::Rejected);
            return Err(DropReason::Rejected);
        }
        self.stats.accepted();
        let mut out = self.drain();
        if self.is_member(sender) {
            out.changes.push(Change::Heard(sender));
        }
        Ok(out)
    }

    /// A datagram an injected fault refused: counted, never read.
    pub fn refused(&mut self, bytes: usize) {
        self.stats.received(bytes);
        self.stats.dropped(DropReason::Fault);
    }

    /// Which config index a datagram claims to come from, if its envelope is readable (the
    /// driver asks before the faults decide its fate).
    pub fn sender_of(&self, datagram: &[u8]) -> Option<u16> {
        open(datagram, self.cluster, self.members, self.own)
            .ok()
            .map(|(sender, _)| sender)
    }

    /// A timer the driver held for its delay.
    pub fn timer(&mut self, timer: Timer<MemberId>) -> Output {
        if let Err(e) = self.foca.handle_timer(timer, &mut self.runtime) {
            tracing::debug!("[Membership] timer failed: {e}");
        }
        self.drain()
    }

    /// The periodic tick: applies the local health `level` (0 healthy … 3 failing) to the
    /// protocol's timeouts (×1 … ×4: the probe cycle through its timers, the suspicion through
    /// the config), re-announces an isolated node, and refreshes the view.
    pub fn tick(&mut self, level: u32) -> Output {
        let stretch = 1 + level.min(3);
        if stretch != self.stretch {
            match self
                .foca
                .set_config(self.settings.foca_config(self.members, stretch))
            {
                Ok(()) => {
                    tracing::info!(
                        "[Membership] member {} stretches its probe timeouts x{stretch} (local health)",
                        self.own
                    );
                    self.stretch = stretch;
                }
                Err(e) => tracing::debug!("[Membership] config change refused: {e}"),
            }
        }
        if self.foca.num_members() == 0 {
            let down: Vec<u16> = (0..self.members)
                .filter(|&i| i != self.own)
                .choose_multiple(&mut self.rng, ISOLATED_ANNOUNCES);
            for index in down {
                self.announce(index);
            }
        }
        self.drain()
    }

    /// The timeout multiplier in force.
    pub fn stretch(&self) -> u32 {
        self.stretch
    }

    /// Each config member's state as this node sees it (its own as alive), by index.
    pub fn states(&self) -> Vec<State> {
        let mut out = vec![State::Down; usize::from(self.members)];
        for member in self.foca.iter_members() {
            if let Some(slot) = out.get_mut(usize::from(member.id().index)) {
                *slot = member.state();
            }
        }
        if let Some(slot) = out.get_mut(usize::from(self.own)) {
            *slot = State::Alive;
        }
        out
    }

    fn is_member(&self, index: u16) -> bool {
        self.foca.iter_members().any(|m| m.id().index == index)
    }

    fn announce(&mut self, index: u16) {
        // Any life of the member will do: the envelope goes to its index.
        if let Err(e) = self
            .foca
            .announce(MemberId { index, epoch: 0 }, &mut self.runtime)
        {
            tracing::debug!("[Membership] announce to member {index} failed: {e}");
        }
    }

    /// Collects what the protocol asked for, and the state changes since the last call.
    fn drain(&mut self) -> Output {
        let mut out = Output::default();
        while let Some((to, data)) = self.runtime.to_send() {
            let datagram = seal(self.cluster, self.own, &data);
            self.stats.sent(datagram.len());
            out.sends.push((to.addr(), datagram));
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            // Lifeguard: an overloaded node gives members longer to answer its probes.
            let after = match timer {
                Timer::ProbeRandomMember(_) | Timer::SendIndirectProbe { .. } => {
                    after * self.stretch
                }
                _ => after,
            };
            out.timers.push((after, timer));
        }
        while let Some(notification) = self.runtime.to_notify() {
            if let OwnedNotification::Rejoin(id) = notification {
                tracing::info!(
                    "[Membership] member {} rejoins as epoch {}",
                    id.index,
                    id.epoch
                );
            }
        }
        let states = self.states();
        for (index, state) in states.iter().enumerate() {
            let index = index as u16;
            let before = self.known[usize::from(index)];
            if index == self.own || before == Some(*state) {
                continue;
            }
            // Placeholders start down: only a member once seen can go down.
            match (before, state) {
                (None, State::Down) => {}
                (_, State::Alive) => out.changes.push(Change::Up(index)),
                (_, State::Suspect) => out.changes.push(Change::Suspect(index)),
                (Some(_), State::Down) => out.changes.push(Change::Down(index)),
            }
            if before.is_some() || *state != State::Down {
                self.known[usize::from(index)] = Some(*state);
            }
        }
        let count = |s: State| states.iter().filter(|x| **x == s).count();
        self.stats.set_view(
            count(State::Alive),
            count(State::Suspect),
            count(State::Down),
        );
        self.stats
            .set_refutations(u64::from(self.codec.own_incarnation()));
        out
    }
}
