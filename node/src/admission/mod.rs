//! Per-team admission control: decides whether a node runs a query now,
//! rejects it, or (under `fair_queue`) lets it wait for a slot.
//!
//! A node keeps one [`Admission`] (in an `Arc`). Every incoming query calls
//! [`Admission::admit`] with its team name; on success it holds the returned
//! [`Permit`] while it runs, and dropping the permit frees the slot. On
//! failure the [`Rejection`] says why (the services map it to their wire statuses).
//!
//! Files: `strategy` (the strategies and the pure decision), `state` (the lock-protected
//! state and its transitions), `queue` and `wait` (`fair_queue`: per-team FIFOs by smooth
//! weighted round robin, and the waiting half), `permit` ([`Permit`], [`Rejection`]),
//! `limits` ([`AdmissionLimits`]), `counters` (per-team bookkeeping, the metrics snapshot).
//!
//! # Vocabulary
//!
//! * `total_active`: admitted queries not yet released, all teams.
//! * `team_active`: the same, for the requesting team.
//! * "others": `total_active - team_active`.
//!
//! Limits come from [`AdmissionLimits`]: `max_active` (node-wide),
//! `per_team_limit`, `hybrid_threshold`, `team_weights`, `queue_capacity` and
//! `queue_timeout`.
//!
//! # Strategies
//!
//! ## `strict`
//!
//! Reject when `total_active >= max_active` ([`RejectReason::TotalLimit`]) or
//! `team_active >= per_team_limit` ([`RejectReason::TeamLimit`]); admit
//! otherwise. Predictable, but a lone busy team cannot use idle capacity.
//!
//! ## `weighted`
//!
//! Reject when `total_active >= max_active`, or when the team is at or over its
//! limit (`team_active >= per_team_limit`) *and* the others are busy
//! (`others > 0.8 × per_team_limit`, computed exactly in integers). So a team
//! may exceed its own limit and borrow capacity while the other teams are
//! nearly idle; as soon as they pick up, the borrower is capped again (its
//! running queries are not affected, only new ones).
//!
//! ## `hybrid`
//!
//! Look at the load ratio `total_active / max_active` (as `f64`): from
//! `hybrid_threshold` upwards (exactly at the threshold included) apply
//! `strict`, below it apply `weighted`. Borrowing is allowed while the node
//! has headroom and stops when it gets crowded.
//!
//! ## `fair_queue`
//!
//! Instead of rejecting, over-limit queries wait. A query is admitted at once
//! when `total_active < max_active`, `team_active < per_team_limit` and nobody
//! waits in any queue (so newcomers cannot overtake waiters). Otherwise it
//! joins the back of its team's FIFO queue; if that queue already holds
//! `queue_capacity` waiters it is rejected at once with
//! [`Rejection::QueueFull`].
//!
//! Whenever a slot frees up (or a query is queued), waiters are admitted while
//! the node has capacity. The next team is chosen by *smooth weighted round
//! robin* over the teams that have waiters and are below their
//! `per_team_limit`, using `team_weights` (missing team: weight 1): while two
//! teams of weights 2 and 1 both have waiters they are served `a b a a b a …`.
//! Within a team, waiters are served first come, first served.
//!
//! A waiter gives up at its deadline (the `deadline` passed to `admit`, or
//! `queue_timeout` when `None`), leaves the queue and gets
//! [`Rejection::QueueTimeout`]. A waiter whose future is dropped (the client
//! went away) leaves the queue too; if it had been granted a slot in the
//! instant before, that slot is released again, so nothing leaks.
//!
//! Changing the strategy with [`Admission::set_strategy`] affects the next
//! `admit`. Queries still waiting from a `fair_queue` period keep their place
//! and are admitted as slots free up (or time out).
//!
//! # Counters
//!
//! Per team: `active` and its `peak_active`, `admitted`, `rejected` split by
//! reason (team limit, total limit, full queue, queue timeout), `queued`, the
//! mean and longest wait, `completed` (every release) and `succeeded` (releases
//! of permits marked with [`Permit::mark_succeeded`]; the numerator of a team's
//! goodput). Per node: the peak of `total_active` and the rejections counted by
//! the strategy in force at the moment of each rejection. A snapshot of all of
//! it is what `GetMetrics` reports.
//!
//! # Implementation notes
//!
//! All state sits behind one `std::sync::Mutex` that is never held across an
//! `.await`; a slot granted to a waiter is handed over as a ready-made
//! [`Permit`] through a `tokio::sync::oneshot` channel, so the count is always
//! owned by exactly one permit.

mod counters;
mod limits;
mod permit;
mod queue;
mod state;
mod strategy;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

pub use counters::{AdmissionSnapshot, StrategyRejections, TeamCounters};
pub use limits::AdmissionLimits;
pub use permit::{Permit, Rejection};
pub use strategy::{decide, Decision, RejectReason, Strategy};

use state::{Entry, Shared};
use wait::Waiting;

/// Shared admission state of one node (put it in an `Arc`; all methods take `&self`).
#[derive(Debug)]
pub struct Admission {
    shared: Arc<Shared>,
}

impl Admission {
    /// Creates the admission state of a node, with nothing active or queued.
    pub fn new(strategy: Strategy, limits: AdmissionLimits) -> Self {
        Admission {
            shared: Shared::new(strategy, limits),
        }
    }

    /// Admits a query of `team` or says why not.
    ///
    /// Under `fair_queue` this may wait, at most `deadline` (or
    /// `limits.queue_timeout` when `None`). Dropping the returned future while
    /// it waits withdraws the query without leaking a slot.
    pub async fn admit(&self, team: &str, deadline: Option<Duration>) -> Result<Permit, Rejection> {
        let result = match self.shared.enter(team) {
            Ok(Entry::Admitted(permit)) => Ok(permit),
            Ok(Entry::Queued { id, rx }) => {
                let limit = deadline.unwrap_or(self.shared.limits.queue_timeout);
                Waiting::new(&self.shared, team, id, rx)
                    .wait(limit)
                    .instrument(crate::trace::span!("queue", team))
                    .await
            }
            Err(rejection) => Err(rejection),
        };
        if let Err(rejection) = &result {
            tracing::debug!(team, ?rejection, "admission: {rejection}");
        }
        result
    }

    /// The strategy in force.
    pub fn strategy(&self) -> Strategy {
        self.shared.strategy()
    }

    /// Switches the strategy; takes effect for the next `admit`.
    pub fn set_strategy(&self, strategy: Strategy) {
        self.shared.set_strategy(strategy);
        tracing::info!(%strategy, "admission: strategy changed");
    }

    /// Admitted, unreleased queries of all teams.
    pub fn total_active(&self) -> u32 {
        self.shared.total_active()
    }

    /// Queries waiting in the fair queue, all teams.
    pub fn queued(&self) -> u32 {
        self.shared.queued()
    }

    /// Counters of the node and of every team ever seen, for metrics.
    pub fn snapshot(&self) -> AdmissionSnapshot {
        self.shared.snapshot()
    }

    /// The limits this admission enforces.
    pub fn limits(&self) -> &AdmissionLimits {
        &self.shared.limits
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Poll;

    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use super::*;

    const LONG: Option<Duration> = Some(Duration::from_secs(3600));

    fn limits(max_active: u32, per_team_limit: u32) -> AdmissionLimits {
        AdmissionLimits {
            max_active,
            per_team_limit,
            ..AdmissionLimits::default()
        }
    }

    fn node(strategy: Strategy, limits: AdmissionLimits) -> Arc<Admission> {
        Arc::new(Admission::new(strategy, limits))
    }

    /// Lets spawned tasks (current-thread runtime) run until they block.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    fn team(adm: &Admission, name: &str) -> TeamCounters {
        let snap = adm.snapshot();
        let found = snap.teams.into_iter().find(|t| t.team == name);
        found.unwrap_or_else(|| panic!("team {name} missing"))
    }

    /// Nothing active or queued, and every team's `active` is 0.
    fn assert_idle(adm: &Admission) {
        assert_eq!(adm.total_active(), 0);
        assert_eq!(adm.queued(), 0);
        for t in adm.snapshot().teams {
            assert_eq!((t.active, t.queued), (0, 0), "{t:?}");
            assert_eq!(t.completed, t.admitted, "{t:?}");
        }
    }

    fn spawn_waiter(
        adm: &Arc<Admission>,
        name: &'static str,
        deadline: Option<Duration>,
    ) -> tokio::task::JoinHandle<Result<Permit, Rejection>> {
        let adm = Arc::clone(adm);
        tokio::spawn(async move { adm.admit(name, deadline).await })
    }

    #[test]
    fn admit_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let adm = Admission::new(Strategy::FairQueue, AdmissionLimits::default());
        assert_send(&adm.admit("a", None));
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Admission>();
        assert_sync::<Permit>();
    }

    #[tokio::test]
    async fn strict_counts_and_dropped_permits_return_to_zero() {
        let adm = node(Strategy::Strict, limits(3, 2));
        let a1 = adm.admit("a", None).await.unwrap();
        let a2 = adm.admit("a", None).await.unwrap();
        let err = adm.admit("a", None).await.unwrap_err();
        assert_eq!(err, Rejection::AtLimit(RejectReason::TeamLimit));
        let b1 = adm.admit("b", None).await.unwrap();
        let err = adm.admit("c", None).await.unwrap_err();
        assert_eq!(err, Rejection::AtLimit(RejectReason::TotalLimit));
        assert_eq!(
            (adm.total_active(), a1.team(), b1.waited()),
            (3, "a", Duration::ZERO)
        );

        let snap = adm.snapshot();
        let names: Vec<&str> = snap.teams.iter().map(|t| t.team.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!((snap.total_active, snap.max_active), (3, 3));
        let a = team(&adm, "a");
        assert_eq!(
            (a.active, a.admitted, a.rejected, a.rejected_queue_full),
            (2, 2, 1, 0)
        );
        assert_eq!((team(&adm, "c").rejected, team(&adm, "c").admitted), (1, 0));

        drop((a1, a2, b1));
        assert_idle(&adm);
        assert_eq!(team(&adm, "a").completed, 2);
    }

    #[tokio::test]
    async fn aborted_task_releases_its_permit() {
        let adm = node(Strategy::Strict, limits(10, 10));
        let held = Arc::clone(&adm);
        let task = tokio::spawn(async move {
            let _permit = held.admit("a", None).await;
            std::future::pending::<()>().await;
        });
        settle().await;
        assert_eq!(adm.total_active(), 1);
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_idle(&adm);
        assert_eq!(team(&adm, "a").completed, 1);
    }

    #[tokio::test]
    async fn panicking_task_releases_its_permit() {
        let adm = node(Strategy::Weighted, limits(10, 10));
        let held = Arc::clone(&adm);
        let task = tokio::spawn(async move {
            let _permit = held.admit("a", None).await;
            panic!("query handler panicked");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_waiter_leaves_the_queue() {
        let adm = node(Strategy::FairQueue, limits(1, 1));
        let seed = adm.admit("seed", None).await.unwrap();
        let waiter = spawn_waiter(&adm, "a", LONG);
        settle().await;
        assert_eq!((adm.queued(), team(&adm, "a").queued), (1, 1));
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(adm.queued(), 0);
        drop(seed);
        assert_idle(&adm);
        let a = team(&adm, "a");
        assert_eq!((a.admitted, a.rejected), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_dropped_right_after_its_grant_releases_the_slot() {
        let adm = node(Strategy::FairQueue, limits(1, 1));
        let seed = adm.admit("seed", None).await.unwrap();
        let mut fut = Box::pin(adm.admit("a", None));
        let pending = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending()));
        assert!(pending.await);
        assert_eq!(adm.queued(), 1);
        drop(seed); // grants the slot to the waiter, which never polls again
        assert_eq!((adm.total_active(), adm.queued()), (1, 0));
        drop(fut);
        assert_idle(&adm);
        let a = team(&adm, "a");
        assert_eq!((a.admitted, a.completed), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_times_out_at_its_deadline() {
        let adm = node(Strategy::FairQueue, limits(1, 1));
        let seed = adm.admit("seed", None).await.unwrap();
        let start = Instant::now();
        let err = adm
            .admit("a", Some(Duration::from_millis(100)))
            .await
            .unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err, Rejection::QueueTimeout);
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(110));
        let a = team(&adm, "a");
        assert_eq!((a.rejected, a.rejected_queue_timeout, a.queued), (1, 1, 0));
        assert_eq!((a.admitted, a.active, a.rejected_queue_full), (0, 0, 0));
        drop(seed);
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn missing_deadline_waits_queue_timeout() {
        let adm = node(Strategy::FairQueue, limits(1, 1));
        let _seed = adm.admit("seed", None).await.unwrap();
        let start = Instant::now();
        let waiter = spawn_waiter(&adm, "a", None);
        tokio::time::sleep(Duration::from_millis(1990)).await;
        assert_eq!(adm.queued(), 1);
        let err = waiter.await.unwrap().unwrap_err();
        assert_eq!(err, Rejection::QueueTimeout);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(2) && waited < Duration::from_millis(2010));
        assert_eq!(adm.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn full_team_queue_rejects_at_once() {
        let lim = AdmissionLimits {
            queue_capacity: 2,
            ..limits(1, 1)
        };
        let adm = node(Strategy::FairQueue, lim);
        let seed = adm.admit("seed", None).await.unwrap();
        let w1 = spawn_waiter(&adm, "a", LONG);
        let w2 = spawn_waiter(&adm, "a", LONG);
        settle().await;
        assert_eq!(adm.queued(), 2);
        let start = Instant::now();
        let err = adm.admit("a", LONG).await.unwrap_err();
        assert_eq!(err, Rejection::QueueFull);
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Capacity is per team: another team may still queue.
        let w3 = spawn_waiter(&adm, "b", LONG);
        settle().await;
        assert_eq!(adm.queued(), 3);
        let a = team(&adm, "a");
        assert_eq!((a.rejected, a.rejected_queue_full, a.queued), (1, 1, 2));
        for w in [&w1, &w2, &w3] {
            w.abort();
        }
        drop(seed);
        settle().await;
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn weights_two_to_one_and_fifo_within_team() {
        let mut lim = limits(1, 100);
        lim.team_weights.insert("a".into(), 2);
        let adm = node(Strategy::FairQueue, lim);
        let mut current = adm.admit("seed", None).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for (name, count) in [("a", 12), ("b", 6)] {
            for i in 0..count {
                let (adm, tx) = (Arc::clone(&adm), tx.clone());
                tokio::spawn(async move {
                    let permit = adm.admit(name, LONG).await;
                    let _ = tx.send((name, i, permit));
                });
                settle().await;
            }
        }
        assert_eq!(adm.queued(), 18);
        let mut order = String::new();
        let mut seen: Vec<(&str, i32)> = Vec::new();
        for _ in 0..18 {
            drop(current); // frees the only slot: exactly one waiter is admitted
            let (name, i, permit) = rx.recv().await.unwrap();
            current = permit.unwrap();
            order.push_str(name);
            seen.push((name, i));
        }
        assert_eq!(order, "aba".repeat(6));
        for name in ["a", "b"] {
            let idx: Vec<i32> = seen.iter().filter(|s| s.0 == name).map(|s| s.1).collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{name}: {idx:?}");
        }
        drop(current);
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn team_at_its_limit_is_skipped_and_others_get_the_free_slot() {
        let adm = node(Strategy::FairQueue, limits(10, 1));
        let a1 = adm.admit("a", None).await.unwrap();
        let a2 = spawn_waiter(&adm, "a", LONG);
        settle().await;
        assert_eq!(adm.queued(), 1);
        // The queue is not empty, so b is queued, but it is the only eligible
        // team and is admitted straight away, even with a zero deadline.
        let b = adm.admit("b", Some(Duration::ZERO)).await.unwrap();
        assert_eq!((b.waited(), adm.queued()), (Duration::ZERO, 1));
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(a1);
        let a2 = a2.await.unwrap().unwrap();
        assert_eq!(a2.waited(), Duration::from_millis(30));
        let a = team(&adm, "a");
        assert!((a.avg_wait_ms - 15.0).abs() < 1e-9, "{a:?}");
        assert_eq!(team(&adm, "b").avg_wait_ms, 0.0);
        drop((a2, b));
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn weighted_lets_a_lone_team_borrow() {
        let adm = node(Strategy::Weighted, limits(4, 2));
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(adm.admit("a", None).await.unwrap());
        }
        let err = adm.admit("b", None).await.unwrap_err();
        assert_eq!(err, Rejection::AtLimit(RejectReason::TotalLimit));
        drop(held);
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn set_strategy_switches_behaviour() {
        let adm = node(Strategy::Strict, limits(10, 1));
        assert_eq!(adm.strategy(), Strategy::Strict);
        let a1 = adm.admit("a", None).await.unwrap();
        let err = adm.admit("a", None).await.unwrap_err();
        assert_eq!(err, Rejection::AtLimit(RejectReason::TeamLimit));

        adm.set_strategy(Strategy::Weighted);
        assert_eq!(adm.snapshot().strategy, Strategy::Weighted);
        let a2 = adm.admit("a", None).await.unwrap();

        adm.set_strategy(Strategy::FairQueue);
        let waiter = spawn_waiter(&adm, "a", LONG);
        settle().await;
        assert_eq!(adm.queued(), 1);

        // Back to strict: the waiter keeps its place and gets a freed slot.
        adm.set_strategy(Strategy::Strict);
        drop((a1, a2));
        let a3 = waiter.await.unwrap().unwrap();
        assert_eq!(adm.total_active(), 1);
        drop(a3);
        assert_idle(&adm);
        assert_eq!(team(&adm, "a").rejected, 1);
    }

    #[tokio::test]
    async fn strict_peak_stays_at_the_team_limit_and_weighted_borrows() {
        let adm = node(Strategy::Strict, limits(6, 3));
        let mut held = Vec::new();
        for _ in 0..5 {
            if let Ok(permit) = adm.admit("a", None).await {
                held.push(permit);
            }
        }
        let a = team(&adm, "a");
        assert_eq!(
            (a.peak_active, a.rejected, a.rejected_team_limit),
            (3, 2, 2)
        );

        adm.set_strategy(Strategy::Weighted);
        for _ in 0..4 {
            if let Ok(permit) = adm.admit("a", None).await {
                held.push(permit);
            }
        }
        let a = team(&adm, "a");
        assert_eq!((a.peak_active, a.rejected_total_limit), (6, 1));
        drop(held);
        let snap = adm.snapshot();
        assert_eq!((snap.total_active, snap.peak_total_active), (0, 6));
        assert_eq!(team(&adm, "a").peak_active, 6, "the peak outlives the load");
    }

    #[tokio::test]
    async fn hybrid_borrows_only_below_the_threshold() {
        // Strict from 5 of 6 active (5/6 >= 0.8), weighted below.
        let adm = node(Strategy::Hybrid, limits(6, 3));
        let mut held = Vec::new();
        for _ in 0..6 {
            if let Ok(permit) = adm.admit("a", None).await {
                held.push(permit);
            }
        }
        let a = team(&adm, "a");
        assert_eq!(
            (a.peak_active, a.admitted, a.rejected_team_limit),
            (5, 5, 1)
        );
        drop(held);
        assert_idle(&adm);
    }

    #[tokio::test]
    async fn rejections_are_counted_under_the_strategy_in_force() {
        let adm = node(Strategy::Strict, limits(1, 1));
        let _held = adm.admit("a", None).await.unwrap();
        for strategy in [Strategy::Strict, Strategy::Weighted, Strategy::Weighted] {
            adm.set_strategy(strategy);
            adm.admit("b", None).await.unwrap_err();
        }
        let counts: Vec<(Strategy, u64)> = adm
            .snapshot()
            .rejected_by_strategy
            .iter()
            .map(|r| (r.strategy, r.rejected))
            .collect();
        assert_eq!(
            counts,
            [
                (Strategy::Strict, 1),
                (Strategy::Weighted, 2),
                (Strategy::Hybrid, 0),
                (Strategy::FairQueue, 0)
            ]
        );
        let b = team(&adm, "b");
        assert_eq!((b.rejected, b.rejected_total_limit), (3, 3));
    }

    #[tokio::test]
    async fn only_marked_permits_count_as_succeeded() {
        let adm = node(Strategy::Strict, limits(10, 10));
        let mut ok = adm.admit("a", None).await.unwrap();
        ok.mark_succeeded();
        let failed = adm.admit("a", None).await.unwrap();
        drop((ok, failed));
        let a = team(&adm, "a");
        assert_eq!((a.admitted, a.completed, a.succeeded), (2, 2, 1));
        assert_idle(&adm);
    }

    #[tokio::test(start_paused = true)]
    async fn queue_timeouts_count_under_fair_queue() {
        let adm = node(Strategy::FairQueue, limits(1, 1));
        let _seed = adm.admit("seed", None).await.unwrap();
        let err = adm.admit("a", Some(Duration::from_millis(10))).await;
        assert_eq!(err.unwrap_err(), Rejection::QueueTimeout);
        let snap = adm.snapshot();
        let fair_queue = snap.rejected_by_strategy[3];
        assert_eq!(
            (fair_queue.strategy, fair_queue.rejected),
            (Strategy::FairQueue, 1)
        );
    }

    /// Real threads, real time: grants racing deadlines and cancellations
    /// must never leak a slot or leave a waiter behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_churn_leaves_nothing_behind() {
        let mut lim = limits(3, 2);
        lim.queue_capacity = 8;
        lim.team_weights.insert("t0".into(), 3);
        let adm = node(Strategy::FairQueue, lim);
        let mut tasks = Vec::new();
        for i in 0..300u64 {
            let adm = Arc::clone(&adm);
            let name = ["t0", "t1", "t2"][(i % 3) as usize];
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i % 40)).await;
                let deadline = Duration::from_millis(1 + (i * 7) % 6);
                if let Ok(permit) = adm.admit(name, Some(deadline)).await {
                    tokio::time::sleep(Duration::from_millis((i * 5) % 3)).await;
                    drop(permit);
                }
            }));
        }
        for round in 0..40u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            for (i, task) in tasks.iter().enumerate() {
                if i as u64 % 11 == round % 11 && round % 3 == 0 {
                    task.abort();
                }
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        assert_idle(&adm);
        let snap = adm.snapshot();
        let seen: u64 = snap.teams.iter().map(|t| t.admitted + t.rejected).sum();
        assert!(seen > 0 && seen <= 300, "{snap:?}");
    }
}
