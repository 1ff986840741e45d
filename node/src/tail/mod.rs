//! Tail tolerance: what this node knows of its peers' answer times, used to hedge slow slice
//! calls (ask another holder after a per-peer delay, within a budget) and to eject latency
//! outliers (route around a peer much slower than its team for a while).
//!
//! - [`window`]: a peer's recent answer times and the hedge delay they give;
//! - [`budget`]: the token bucket that bounds hedges to a share of calls;
//! - [`eject`]: the ejection rules of one peer.
//!
//! Times are `tokio::time::Instant`, so the rules are tested with paused time.

pub mod budget;
pub mod eject;
pub mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use overlay::config::{ClusterConfig, Hedge, NodeId, Role};
use tokio::sync::watch;
use tokio::time::Instant;

use self::budget::HedgeBudget;
use self::eject::{allowed_ejections, median, EjectReason, EjectRules, Ejected, OutlierState};
use self::window::LatencyWindow;
use crate::hooks::{EventKind, HookPool};

/// How soon a silence is judged again when no other peer has answered either.
const SILENCE_RECHECK: Duration = Duration::from_millis(5);

/// What a peer's silence says while a call waits on it (see [`TailTolerance::silence`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Silence {
    /// Too little is known of the peer (or hedging is off): no suspicion.
    Unjudged,
    /// Not suspected; look again at this instant.
    Until(Instant),
    /// Suspected: the calls waiting on it are hedged at once.
    Suspected,
}

/// What this node tracks of one peer.
#[derive(Debug)]
struct PeerTail {
    window: LatencyWindow,
    outlier: OutlierState,
    /// When it last answered.
    last_answer: Option<Instant>,
    /// Bumped at each ejection, so calls waiting on the peer give up.
    ejected_generation: watch::Sender<u64>,
}

impl Default for PeerTail {
    fn default() -> Self {
        Self {
            window: LatencyWindow::default(),
            outlier: OutlierState::default(),
            last_answer: None,
            ejected_generation: watch::channel(0).0,
        }
    }
}

/// The peers' answer times, the hedge budget and the ejections of one node.
#[derive(Debug)]
pub struct TailTolerance {
    own_id: NodeId,
    settings: Hedge,
    rules: EjectRules,
    /// Each peer's team and role (a peer is judged against the mates of its role: a team
    /// leader's answers include its workers' work), and each team's size.
    team_of: HashMap<NodeId, (String, Role)>,
    team_size: HashMap<String, usize>,
    peers: Mutex<HashMap<NodeId, PeerTail>>,
    budget: Mutex<HedgeBudget>,
    hooks: Arc<HookPool>,
    ejections: AtomicU64,
}

impl TailTolerance {
    /// State for every other process of `config`, with its `hedge` settings.
    pub fn new(own_id: NodeId, config: &ClusterConfig, hooks: Arc<HookPool>) -> Self {
        let settings = config.hedge.clone();
        let rules = EjectRules {
            ratio: settings.eject_ratio,
            after: Duration::from_millis(settings.eject_after_ms),
            lost_hedges: settings.eject_lost_hedges,
            eject_for: Duration::from_millis(settings.eject_for_ms),
            least_slow: Duration::from_millis(settings.delay_floor_ms.max(1)),
        };
        let team_of: HashMap<NodeId, (String, Role)> = config
            .processes
            .values()
            .map(|p| (p.id.clone(), (p.team.clone(), p.role)))
            .collect();
        let mut team_size = HashMap::new();
        for (team, _) in team_of.values() {
            *team_size.entry(team.clone()).or_insert(0) += 1;
        }
        let peers = config
            .processes
            .keys()
            .filter(|id| **id != own_id)
            .map(|id| (id.clone(), PeerTail::default()))
            .collect();
        Self {
            own_id,
            budget: Mutex::new(HedgeBudget::new(
                settings.budget_share,
                settings.budget_burst,
            )),
            settings,
            rules,
            team_of,
            team_size,
            peers: Mutex::new(peers),
            hooks,
            ejections: AtomicU64::new(0),
        }
    }

    /// Whether hedging and ejection are on.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// A slice call was sent: the hedge budget grows by its share.
    pub fn on_call(&self) {
        lock(&self.budget).on_call();
    }

    /// How long a call to `peer` may go unanswered before it is hedged; `None` when hedging
    /// is off.
    pub fn hedge_delay(&self, peer: &NodeId) -> Option<Duration> {
        if !self.enabled() {
            return None;
        }
        let floor = Duration::from_millis(self.settings.delay_floor_ms);
        let cap = Duration::from_millis(self.settings.delay_cap_ms);
        let peers = lock(&self.peers);
        Some(
            peers
                .get(peer)
                .map_or(cap, |p| p.window.hedge_delay(Instant::now(), floor, cap)),
        )
    }

    /// Takes a hedge of `calls` calls from the budget; `false` (nothing taken) when the
    /// budget cannot pay for all of them.
    pub fn try_hedge(&self, calls: u32) -> bool {
        lock(&self.budget).try_take_n(calls)
    }

    /// `peer` answered a call after `took`; may eject it as slower than its team.
    pub fn record_answer(&self, peer: &NodeId, took: Duration) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut peers = lock(&self.peers);
        let Some(tail) = peers.get_mut(peer) else {
            return;
        };
        tail.window.record(now, took);
        tail.last_answer = Some(now);
        tail.outlier.on_answer();
        let own = tail.window.quantile(now, 0.5);
        let team_median = self.team_median(&peers, peer, now, None);
        let verdict = peers.get_mut(peer).and_then(|tail| {
            tail.outlier
                .judge_latency(now, own, team_median, &self.rules)
        });
        if let Some(reason) = verdict {
            self.eject(&mut peers, peer, now, reason);
        }
    }

    /// What the silence of `peer` says while a call sent to it at `sent` waits unanswered.
    /// The peer is suspected once it has said nothing — no answer to this call nor to any
    /// other since the later of `sent` and its last answer — for `eject_ratio` times its recent
    /// median answer time (never less than its hedge delay), while another peer did answer
    /// meanwhile. A hung peer stops answering every call at once; a merely busy one keeps
    /// answering others; a cluster-wide slowdown raises the medians with it; and when nobody
    /// answers (this node or the whole machine stalled) nobody is suspected.
    pub fn silence(&self, peer: &NodeId, sent: Instant) -> Silence {
        if !self.enabled() {
            return Silence::Unjudged;
        }
        let floor = Duration::from_millis(self.settings.delay_floor_ms);
        let cap = Duration::from_millis(self.settings.delay_cap_ms);
        let now = Instant::now();
        let peers = lock(&self.peers);
        let Some(tail) = peers.get(peer) else {
            return Silence::Unjudged;
        };
        let Some(median) = tail.window.quantile(now, 0.5) else {
            return Silence::Unjudged;
        };
        let bound = median
            .mul_f64(self.rules.ratio)
            .max(tail.window.hedge_delay(now, floor, cap));
        let since = tail.last_answer.map_or(sent, |at| at.max(sent));
        if now < since + bound {
            return Silence::Until(since + bound);
        }
        let others_answered = peers
            .iter()
            .filter(|(id, _)| *id != peer)
            .any(|(_, other)| other.last_answer.is_some_and(|at| at > since));
        if others_answered {
            Silence::Suspected
        } else {
            Silence::Until(now + floor.max(SILENCE_RECHECK))
        }
    }

    /// The most a hedge delay can be: a hedgeable call unanswered this long is late.
    pub fn delay_cap(&self) -> Duration {
        Duration::from_millis(self.settings.delay_cap_ms)
    }

    /// A receiver that changes whenever `peer` is ejected.
    pub fn ejection_signal(&self, peer: &NodeId) -> Option<watch::Receiver<u64>> {
        lock(&self.peers)
            .get(peer)
            .map(|tail| tail.ejected_generation.subscribe())
    }

    /// A call to `peer` that could have been hedged (but the budget was spent) is still
    /// unanswered after `waited`: when that is `eject_ratio` times its team's median, it
    /// counts like a lost hedge, so a hung peer is ejected even with the budget spent.
    pub fn record_late(&self, peer: &NodeId, waited: Duration) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut peers = lock(&self.peers);
        // Only mates answering now count: a mate hung too has an old, fast median.
        let Some(team_median) = self.team_median(&peers, peer, now, Some(waited)) else {
            return;
        };
        if waited.as_secs_f64() < self.rules.ratio * team_median.as_secs_f64() {
            return;
        }
        let verdict = peers
            .get_mut(peer)
            .and_then(|tail| tail.outlier.on_lost_hedge(&self.rules));
        if let Some(reason) = verdict {
            self.eject(&mut peers, peer, now, reason);
        }
    }

    /// `peer` lost a hedge (another holder answered first); may eject it.
    pub fn record_lost_hedge(&self, peer: &NodeId) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut peers = lock(&self.peers);
        let verdict = peers
            .get_mut(peer)
            .and_then(|tail| tail.outlier.on_lost_hedge(&self.rules));
        if let Some(reason) = verdict {
            self.eject(&mut peers, peer, now, reason);
        }
    }

    /// Whether routing should pass `peer` by now; an ejection past its end is lifted (and
    /// logged) here.
    pub fn is_ejected(&self, peer: &NodeId) -> bool {
        if !self.enabled() {
            return false;
        }
        let mut peers = lock(&self.peers);
        let Some(tail) = peers.get_mut(peer) else {
            return false;
        };
        match tail.outlier.ejected(Instant::now()) {
            Ejected::Yes => true,
            Ejected::No => false,
            Ejected::JustEnded => {
                tracing::info!(
                    "[Outlier] {} tries {peer} again after its ejection",
                    self.own_id
                );
                false
            }
        }
    }

    /// Ejections since start.
    pub fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// Peers ejected now.
    pub fn ejected_now(&self) -> u32 {
        let now = Instant::now();
        lock(&self.peers)
            .values()
            .filter(|p| p.outlier.is_ejected_at(now))
            .count() as u32
    }

    /// The median of the medians of `peer`'s team mates of its role (not `peer`, not this
    /// node, not the ejected, and with `answered_within` only those that answered that
    /// recently), from this node's view; `None` when none has enough recent answers.
    fn team_median(
        &self,
        peers: &HashMap<NodeId, PeerTail>,
        peer: &NodeId,
        now: Instant,
        answered_within: Option<Duration>,
    ) -> Option<Duration> {
        let team = self.team_of.get(peer)?;
        let medians: Vec<Duration> = peers
            .iter()
            .filter(|(id, _)| *id != peer && self.team_of.get(*id) == Some(team))
            .filter(|(_, tail)| !tail.outlier.is_ejected_at(now))
            .filter(|(_, tail)| {
                answered_within.is_none_or(|within| {
                    tail.last_answer
                        .is_some_and(|at| now.saturating_duration_since(at) <= within)
                })
            })
            .filter_map(|(_, tail)| tail.window.quantile(now, 0.5))
            .collect();
        median(medians)
    }

    /// Ejects `peer` unless that would eject more of its team than allowed.
    fn eject(
        &self,
        peers: &mut HashMap<NodeId, PeerTail>,
        peer: &NodeId,
        now: Instant,
        reason: EjectReason,
    ) {
        let team = self
            .team_of
            .get(peer)
            .map(|(team, _)| team.clone())
            .unwrap_or_default();
        let already = peers
            .iter()
            .filter(|(id, tail)| {
                self.team_of.get(*id).is_some_and(|(t, _)| *t == team)
                    && tail.outlier.is_ejected_at(now)
            })
            .count();
        let size = self.team_size.get(&team).copied().unwrap_or(1);
        if already >= allowed_ejections(size, self.settings.max_ejected_share) {
            tracing::debug!(
                "[Outlier] {} leaves {peer} in: {already} of team {team} already ejected",
                self.own_id
            );
            return;
        }
        let Some(tail) = peers.get_mut(peer) else {
            return;
        };
        if tail.outlier.is_ejected_at(now) {
            return;
        }
        tail.outlier.eject(now, &self.rules);
        tail.ejected_generation.send_modify(|g| *g += 1);
        self.ejections.fetch_add(1, Ordering::Relaxed);
        let for_ms = self.settings.eject_for_ms;
        tracing::warn!(
            "[Outlier] {} ejected {peer} for {for_ms} ms: {reason}",
            self.own_id
        );
        self.hooks.emit(EventKind::PeerEjected, |e| {
            e.with("neighbor", peer.as_str())
                .with("reason", reason.name())
                .with("detail", reason.to_string())
                .with("for_ms", for_ms)
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookSettings;

    const MS: Duration = Duration::from_millis(1);

    fn tail(edit: impl FnOnce(&mut Hedge)) -> TailTolerance {
        tail_of("E", edit)
    }

    /// The tail tolerance of node `own` of the shipped config.
    fn tail_of(own: &str, edit: impl FnOnce(&mut Hedge)) -> TailTolerance {
        let mut config =
            ClusterConfig::from_json(include_str!("../../../configs/one_host_config.json"))
                .unwrap();
        edit(&mut config.hedge);
        TailTolerance::new(
            NodeId(own.into()),
            &config,
            HookPool::new(own, HookSettings::default()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_team_leader_is_not_judged_against_the_workers_below_it() {
        // From A: B answers for its whole branch, C (asked directly by hedges) for its slice.
        let t = tail_of("A", |h| h.eject_after_ms = 1000);
        for _ in 0..30 {
            t.record_answer(&id("B"), 40 * MS);
            t.record_answer(&id("C"), 2 * MS);
            tokio::time::advance(100 * MS).await;
        }
        assert!(!t.is_ejected(&id("B")));
        assert_eq!(t.ejections(), 0);
    }

    fn id(s: &str) -> NodeId {
        NodeId(s.into())
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_losing_hedges_is_ejected_for_a_while_but_never_all_its_team() {
        let t = tail(|h| h.eject_lost_hedges = 2);
        t.record_lost_hedge(&id("D"));
        assert!(!t.is_ejected(&id("D")));
        t.record_lost_hedge(&id("D"));
        assert!(t.is_ejected(&id("D")));
        assert_eq!((t.ejections(), t.ejected_now()), (1, 1));
        // Team pink has three members and may lose one at a time (share 0.5).
        t.record_lost_hedge(&id("F"));
        t.record_lost_hedge(&id("F"));
        assert!(!t.is_ejected(&id("F")));
        tokio::time::advance(Duration::from_millis(5000)).await;
        assert!(!t.is_ejected(&id("D")), "tried again after eject_for_ms");
        assert_eq!(t.ejected_now(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_slower_than_its_team_for_long_enough_is_ejected() {
        let t = tail(|h| h.eject_after_ms = 1000);
        for _ in 0..20 {
            t.record_answer(&id("F"), 2 * MS);
            t.record_answer(&id("D"), 40 * MS);
            tokio::time::advance(100 * MS).await;
        }
        assert!(t.is_ejected(&id("D")));
        assert!(!t.is_ejected(&id("F")));
        // A node's own team mates only: C (green) is judged against green alone, where it
        // has no mate with answers here.
        for _ in 0..50 {
            t.record_answer(&id("C"), 500 * MS);
            tokio::time::advance(100 * MS).await;
        }
        assert!(!t.is_ejected(&id("C")));
    }

    #[tokio::test(start_paused = true)]
    async fn late_calls_eject_only_against_a_faster_team_and_signal_waiting_calls() {
        let t = tail(|h| h.eject_lost_hedges = 3);
        // Nothing known of D's team mates: lateness says nothing.
        for _ in 0..5 {
            t.record_late(&id("D"), 500 * MS);
        }
        assert!(!t.is_ejected(&id("D")));
        for _ in 0..10 {
            t.record_answer(&id("F"), 4 * MS);
        }
        let signal = t.ejection_signal(&id("D")).unwrap();
        // 15 ms is under 5 × 4 ms: not late.
        for _ in 0..5 {
            t.record_late(&id("D"), 15 * MS);
        }
        assert!(!t.is_ejected(&id("D")));
        for _ in 0..3 {
            t.record_late(&id("D"), 100 * MS);
        }
        assert!(t.is_ejected(&id("D")));
        assert!(signal.has_changed().unwrap());
        // A mate that stopped answering (hung too) is no yardstick.
        let stale = tail(|h| h.eject_lost_hedges = 1);
        for _ in 0..10 {
            stale.record_answer(&id("F"), 4 * MS);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        stale.record_late(&id("D"), 200 * MS);
        assert!(!stale.is_ejected(&id("D")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_silent_for_ratio_times_its_median_while_others_answer_is_suspected() {
        let t = tail(|_| {});
        let sent = Instant::now();
        // Nothing known of D: no suspicion, only the budgeted hedge.
        assert_eq!(t.silence(&id("D"), sent), Silence::Unjudged);
        for _ in 0..10 {
            t.record_answer(&id("D"), 10 * MS);
        }
        // Median 10 ms, ratio 5: 50 ms of silence (more than the 10 ms hedge delay).
        let sent = Instant::now();
        assert_eq!(t.silence(&id("D"), sent), Silence::Until(sent + 50 * MS));
        // An answer to another call restarts the silence: a busy peer is not suspected.
        tokio::time::advance(30 * MS).await;
        t.record_answer(&id("D"), 10 * MS);
        let last = Instant::now();
        assert_eq!(t.silence(&id("D"), sent), Silence::Until(last + 50 * MS));
        // Silent long enough, but nobody else answered either: this node or the machine
        // stalled, so nobody is suspected; it looks again shortly.
        tokio::time::advance(60 * MS).await;
        assert_eq!(
            t.silence(&id("D"), sent),
            Silence::Until(Instant::now() + 5 * MS)
        );
        t.record_answer(&id("F"), 4 * MS);
        assert_eq!(t.silence(&id("D"), sent), Silence::Suspected);
        // A call sent after the last answer counts from its own sending.
        let later = Instant::now();
        assert_eq!(t.silence(&id("D"), later), Silence::Until(later + 50 * MS));
        // Slow answers raise the bar with them (a cluster-wide slowdown hedges nothing more).
        for _ in 0..40 {
            t.record_answer(&id("D"), 80 * MS);
        }
        let now = Instant::now();
        assert_eq!(t.silence(&id("D"), now), Silence::Until(now + 400 * MS));
        let off = tail(|h| h.enabled = false);
        assert_eq!(off.silence(&id("D"), now), Silence::Unjudged);
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_means_no_delay_and_no_ejection() {
        let t = tail(|h| {
            h.enabled = false;
            h.eject_lost_hedges = 1;
        });
        assert_eq!(t.hedge_delay(&id("D")), None);
        t.record_lost_hedge(&id("D"));
        assert!(!t.is_ejected(&id("D")));
        let on = tail(|_| {});
        assert_eq!(on.hedge_delay(&id("D")), Some(100 * MS));
    }
}
