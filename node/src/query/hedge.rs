//! Hedged slice calls: a call still unanswered after its hedge delay has its slices asked of
//! another holder (or served from this node's own copy); the first answer for each slice
//! wins, and a leg no longer needed is dropped, which cancels the call (the peer sees its
//! caller go, stops the scan and frees the permit).
//!
//! Two things start the hedge. After the hedge delay it is a speculation, paid from the
//! hedge budget (which may refuse). Once the peer is suspected (it went silent, or was
//! ejected) it is no longer a speculation: the call is hedged at once, free of the budget, so
//! that a budget spent by ordinary slow calls never leaves the calls of a hung peer waiting.
//!
//! [`race`] is the timing logic alone, over any futures, so it is tested with paused time;
//! the router supplies the legs and does the bookkeeping.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use overlay::config::NodeId;
use overlay::proto::{SliceResult, SliceTask};
use tokio::time::Instant;

use super::failure::is_served;
use super::peer_call::CallError;

/// How a hedge is paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pay {
    /// A speculation: from the hedge budget, which may refuse.
    Budget,
    /// The peer is suspected: free of the budget.
    Free,
}

/// A future that resolves when the peer called is suspected (never, for none).
pub type Suspicion<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// When a call is hedged.
pub struct HedgeWhen<'a> {
    /// After this long unanswered, hedge within the budget; `None`: never speculatively.
    pub delay: Option<Duration>,
    /// Resolves once the peer is suspected: hedge at once, free of the budget.
    pub suspected: Suspicion<'a>,
}

impl HedgeWhen<'_> {
    /// Hedged after `delay` only (`None`: never hedged).
    pub fn after(delay: Option<Duration>) -> Self {
        HedgeWhen {
            delay,
            suspected: Box::pin(std::future::pending()),
        }
    }
}

/// One leg of a hedged call: its answer, or why it failed.
pub type LegFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SliceResult>, CallError>> + Send + 'a>>;

/// Where a hedge goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// Another holder (or the relay toward it).
    Peer(NodeId),
    /// This node's own copy.
    Local,
}

/// A hedge: some slices of the first call, sent elsewhere.
pub struct HedgeLeg<'a> {
    /// Where.
    pub target: Target,
    /// Which slices.
    pub tasks: Vec<SliceTask>,
    /// The call (or local scan), not started until polled.
    pub call: LegFuture<'a>,
}

/// What a hedged call came to.
#[derive(Debug, Default)]
pub struct Raced {
    /// One result per slice answered, whichever leg answered it first.
    pub served: Vec<SliceResult>,
    /// The first call's error and the slices no leg answered, when it failed.
    pub failed: Option<(CallError, Vec<SliceTask>)>,
    /// How long the first call took, when it answered.
    pub primary_took: Option<Duration>,
    /// The first call was cancelled: hedges answered all its slices first.
    pub primary_lost: bool,
    /// Some hedge to another peer (not a local copy) answered before the first call.
    pub beaten_by_peer: bool,
    /// Hedge legs sent.
    pub hedges_sent: u32,
    /// Of them, legs sent free of the budget because the peer was suspected.
    pub hedges_free: u32,
    /// Hedge legs that answered a slice before the first call did.
    pub hedges_won: u32,
    /// Legs dropped unfinished (the first call or hedges).
    pub cancelled: u32,
    /// How long each hedge to a peer took, when it answered.
    pub hedge_answers: Vec<(NodeId, Duration)>,
}

/// A leg's outcome, tagged with its index (0: the first call; hedge `i` is index `i + 1`).
type Tagged<'a> =
    Pin<Box<dyn Future<Output = (usize, Result<Vec<SliceResult>, CallError>)> + Send + 'a>>;

fn tag<'a>(index: usize, call: LegFuture<'a>) -> Tagged<'a> {
    Box::pin(async move { (index, call.await) })
}

/// The bookkeeping of one race: which legs run, which slices are covered and by whom.
struct Race<'t> {
    tasks: &'t [SliceTask],
    started: Instant,
    raced: Raced,
    /// Per hedge leg (index − 1): its target, its slices, when it started.
    hedges: Vec<(Target, BTreeSet<String>, Instant)>,
    /// Legs still running, by index.
    running: BTreeSet<usize>,
    /// The first answer per slice owner.
    covered: BTreeMap<String, SliceResult>,
    primary_error: Option<CallError>,
}

impl<'t> Race<'t> {
    fn new(tasks: &'t [SliceTask]) -> Self {
        Race {
            tasks,
            started: Instant::now(),
            raced: Raced::default(),
            hedges: Vec::new(),
            running: BTreeSet::from([0]),
            covered: BTreeMap::new(),
            primary_error: None,
        }
    }

    fn primary_running(&self) -> bool {
        self.running.contains(&0)
    }

    /// Takes one leg's outcome.
    fn on_answer(&mut self, index: usize, outcome: Result<Vec<SliceResult>, CallError>) {
        let primary_running = self.primary_running();
        self.running.remove(&index);
        if index == 0 {
            match outcome {
                Ok(results) => {
                    self.raced.primary_took = Some(self.started.elapsed());
                    for result in results {
                        self.covered.entry(result.owner.clone()).or_insert(result);
                    }
                }
                Err(why) => self.primary_error = Some(why),
            }
            return;
        }
        let Ok(results) = outcome else { return };
        let (target, _, leg_started) = &self.hedges[index - 1];
        if let Target::Peer(peer) = target {
            self.raced
                .hedge_answers
                .push((peer.clone(), leg_started.elapsed()));
        }
        let mut won = false;
        for result in results.into_iter().filter(is_served) {
            if !self.covered.contains_key(&result.owner) {
                won |= primary_running;
                self.covered.insert(result.owner.clone(), result);
            }
        }
        self.raced.hedges_won += u32::from(won);
        self.raced.beaten_by_peer |= won && matches!(target, Target::Peer(_));
    }

    /// Starts the hedge legs; returns them tagged for the race.
    fn start_hedges<'a>(&mut self, legs: Vec<HedgeLeg<'a>>, pay: Pay) -> Vec<Tagged<'a>> {
        if pay == Pay::Free {
            self.raced.hedges_free += legs.len() as u32;
        }
        legs.into_iter()
            .map(|leg| {
                let owners = leg.tasks.iter().map(|t| t.owner.clone()).collect();
                self.hedges.push((leg.target, owners, Instant::now()));
                self.running.insert(self.hedges.len());
                self.raced.hedges_sent += 1;
                tag(self.hedges.len(), leg.call)
            })
            .collect()
    }

    /// True when every slice is answered, or the first call is over and no running hedge
    /// can answer what is left.
    fn is_over(&self) -> bool {
        let uncovered: Vec<&SliceTask> = self
            .tasks
            .iter()
            .filter(|t| !self.covered.contains_key(&t.owner))
            .collect();
        if uncovered.is_empty() {
            return true;
        }
        if self.primary_running() {
            return false;
        }
        !self.running.iter().any(|&index| {
            let owners = &self.hedges[index - 1].1;
            uncovered.iter().any(|t| owners.contains(&t.owner))
        })
    }

    /// What the race came to, the legs still running being dropped (cancelled).
    fn finish(mut self) -> Raced {
        self.raced.primary_lost = self.primary_running();
        self.raced.cancelled = self.running.len() as u32;
        if let Some(why) = self.primary_error.take() {
            let unanswered: Vec<SliceTask> = self
                .tasks
                .iter()
                .filter(|t| !self.covered.contains_key(&t.owner))
                .cloned()
                .collect();
            if !unanswered.is_empty() {
                self.raced.failed = Some((why, unanswered));
            }
        }
        // In the order of the tasks, as the unhedged call answered.
        let mut served: Vec<SliceResult> = self
            .tasks
            .iter()
            .filter_map(|t| self.covered.remove(&t.owner))
            .collect();
        served.extend(std::mem::take(&mut self.covered).into_values());
        self.raced.served = served;
        self.raced
    }
}

/// Runs `primary` for `tasks`, hedging it with the legs `plan` returns (none: no hedge) once
/// `when` says so: after its delay, paid from the budget (once; a refusal is final), or as
/// soon as the peer is suspected, free (once, unless already hedged). Returns once every slice
/// is answered, or the first call failed and no hedge left running can answer the rest.
pub async fn race<'a>(
    tasks: &[SliceTask],
    primary: LegFuture<'a>,
    when: HedgeWhen<'a>,
    mut plan: impl FnMut(Pay) -> Vec<HedgeLeg<'a>>,
) -> Raced {
    let mut race = Race::new(tasks);
    let mut legs: FuturesUnordered<Tagged<'a>> = FuturesUnordered::new();
    legs.push(tag(0, primary));
    let (mut speculated, mut suspected) = (false, false);
    let timer = async {
        match when.delay {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timer);
    let mut suspicion = when.suspected;
    loop {
        let hedged = race.raced.hedges_sent > 0;
        let waiting = !hedged && race.primary_running();
        tokio::select! {
            Some((index, outcome)) = legs.next() => race.on_answer(index, outcome),
            () = &mut timer, if waiting && !speculated => {
                speculated = true;
                legs.extend(race.start_hedges(plan(Pay::Budget), Pay::Budget));
            }
            () = &mut suspicion, if waiting && !suspected => {
                suspected = true;
                legs.extend(race.start_hedges(plan(Pay::Free), Pay::Free));
            }
            else => break,
        }
        if race.is_over() {
            break;
        }
    }
    drop(legs);
    race.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn task(owner: &str) -> SliceTask {
        SliceTask {
            owner: owner.to_string(),
            ..Default::default()
        }
    }

    fn answer(after: Duration, owners: &[&str], by: &str) -> LegFuture<'static> {
        let results: Vec<SliceResult> = owners
            .iter()
            .map(|o| SliceResult {
                owner: o.to_string(),
                served_by: by.to_string(),
                ..Default::default()
            })
            .collect();
        Box::pin(async move {
            tokio::time::sleep(after).await;
            Ok(results)
        })
    }

    fn fail(after: Duration) -> LegFuture<'static> {
        Box::pin(async move {
            tokio::time::sleep(after).await;
            Err(CallError::Transport {
                peer: NodeId("D".into()),
                code: tonic::Code::Unavailable,
                message: "reset".to_string(),
            })
        })
    }

    fn leg(to: &str, owners: &[&str], call: LegFuture<'static>) -> HedgeLeg<'static> {
        HedgeLeg {
            target: Target::Peer(NodeId(to.into())),
            tasks: owners.iter().map(|o| task(o)).collect(),
            call,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_call_is_never_hedged() {
        let tasks = [task("D")];
        let raced = race(
            &tasks,
            answer(5 * MS, &["D"], "D"),
            HedgeWhen::after(Some(20 * MS)),
            |_| panic!("no hedge before the delay"),
        )
        .await;
        assert_eq!(raced.served[0].served_by, "D");
        assert_eq!((raced.hedges_sent, raced.cancelled), (0, 0));
        assert_eq!(raced.primary_took, Some(5 * MS));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_is_hedged_after_the_delay_and_loses() {
        let tasks = [task("D")];
        let begun = Instant::now();
        let raced = race(
            &tasks,
            answer(200 * MS, &["D"], "D"),
            HedgeWhen::after(Some(20 * MS)),
            |_| vec![leg("F", &["D"], answer(3 * MS, &["D"], "F"))],
        )
        .await;
        assert_eq!(begun.elapsed(), 23 * MS, "the hedge's answer ends the race");
        assert_eq!(raced.served[0].served_by, "F");
        assert!(raced.primary_lost);
        assert_eq!(
            (raced.hedges_sent, raced.hedges_won, raced.cancelled),
            (1, 1, 1)
        );
        assert_eq!(raced.hedge_answers, vec![(NodeId("F".into()), 3 * MS)]);
        assert!(raced.failed.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_call_answering_first_cancels_the_hedge() {
        let tasks = [task("D")];
        let raced = race(
            &tasks,
            answer(30 * MS, &["D"], "D"),
            HedgeWhen::after(Some(20 * MS)),
            |_| vec![leg("F", &["D"], answer(50 * MS, &["D"], "F"))],
        )
        .await;
        assert_eq!(raced.served[0].served_by, "D");
        assert!(!raced.primary_lost);
        assert_eq!(
            (raced.hedges_sent, raced.hedges_won, raced.cancelled),
            (1, 0, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_first_call_waits_for_its_hedge_or_reports_what_is_left() {
        let tasks = [task("D"), task("F")];
        let raced = race(
            &tasks,
            fail(40 * MS),
            HedgeWhen::after(Some(10 * MS)),
            |_| vec![leg("E", &["D"], answer(50 * MS, &["D"], "E"))],
        )
        .await;
        assert_eq!(raced.served.len(), 1);
        assert_eq!(raced.served[0].served_by, "E");
        let (why, left) = raced.failed.expect("F was answered by nobody");
        assert_eq!(
            (why.to_string().as_str(), left.len(), left[0].owner.as_str()),
            ("D: reset", 1, "F")
        );
        // Without a hedge the failure comes back at once.
        let raced = race(
            &tasks,
            fail(5 * MS),
            HedgeWhen::after(Some(10 * MS)),
            |_| Vec::new(),
        )
        .await;
        assert_eq!(raced.failed.map(|(_, left)| left.len()), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspected_peer_is_hedged_free_when_the_budget_refused() {
        let tasks = [task("D")];
        let begun = Instant::now();
        let suspected = Box::pin(tokio::time::sleep(50 * MS));
        let when = HedgeWhen {
            delay: Some(10 * MS),
            suspected,
        };
        let mut asked = Vec::new();
        let raced = race(&tasks, answer(900 * MS, &["D"], "D"), when, |pay| {
            asked.push((pay, begun.elapsed()));
            match pay {
                Pay::Budget => Vec::new(),
                Pay::Free => vec![leg("F", &["D"], answer(3 * MS, &["D"], "F"))],
            }
        })
        .await;
        assert_eq!(asked, [(Pay::Budget, 10 * MS), (Pay::Free, 50 * MS)]);
        assert_eq!(begun.elapsed(), 53 * MS);
        assert_eq!(raced.served[0].served_by, "F");
        assert_eq!((raced.hedges_sent, raced.hedges_free), (1, 1));
        assert!(raced.primary_lost);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_already_hedged_is_not_hedged_again_when_suspected() {
        let tasks = [task("D")];
        let when = HedgeWhen {
            delay: Some(10 * MS),
            suspected: Box::pin(tokio::time::sleep(20 * MS)),
        };
        let mut plans = 0;
        let raced = race(&tasks, answer(40 * MS, &["D"], "D"), when, |_| {
            plans += 1;
            vec![leg("F", &["D"], answer(100 * MS, &["D"], "F"))]
        })
        .await;
        assert_eq!(plans, 1);
        assert_eq!(raced.served[0].served_by, "D");
        assert_eq!((raced.hedges_sent, raced.hedges_free), (1, 0));
        // Suspected before the delay: hedged at once, free, and not again at the delay.
        let when = HedgeWhen {
            delay: Some(30 * MS),
            suspected: Box::pin(tokio::time::sleep(5 * MS)),
        };
        let raced = race(&tasks, answer(400 * MS, &["D"], "D"), when, |pay| {
            assert_eq!(pay, Pay::Free);
            vec![leg("F", &["D"], answer(100 * MS, &["D"], "F"))]
        })
        .await;
        assert_eq!((raced.hedges_sent, raced.hedges_free), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hedge_with_an_error_result_does_not_win() {
        let tasks = [task("D")];
        let mut refused: Option<LegFuture<'static>> = Some(Box::pin(async {
            Ok(vec![crate::query::failure::failed(
                "D",
                overlay::proto::SliceErrorKind::Rejected,
                "E is full",
            )])
        }));
        let raced = race(
            &tasks,
            answer(60 * MS, &["D"], "D"),
            HedgeWhen::after(Some(10 * MS)),
            |_| vec![leg("F", &["D"], refused.take().expect("planned once"))],
        )
        .await;
        assert_eq!(raced.served[0].served_by, "D");
        assert_eq!((raced.hedges_sent, raced.hedges_won), (1, 0));
    }
}
