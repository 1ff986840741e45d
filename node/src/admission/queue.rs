//! Per-team FIFO queues served by smooth weighted round robin (`fair_queue`).

use std::collections::{BTreeMap, VecDeque};

use tokio::time::Instant;

/// One waiting query: an id (to find it again on timeout or cancellation),
/// when it started waiting, and the payload used to hand it its slot.
#[derive(Debug)]
pub(super) struct Waiter<T> {
    pub(super) id: u64,
    pub(super) enqueued: Instant,
    pub(super) payload: T,
}

#[derive(Debug)]
struct TeamQueue<T> {
    waiters: VecDeque<Waiter<T>>,
    /// Smooth-WRR "current weight"; reset when the queue empties.
    current: i64,
}

/// Waiting queries of all teams.
///
/// Selection uses smooth weighted round robin (nginx): each round, every
/// eligible team with waiters gains its weight, the team with the highest
/// running total (ties: smallest name) is served and pays back the sum of the
/// weights. Over any stretch where the same teams have waiters, a team of
/// weight `w` gets `w / Σw` of the admissions, interleaved rather than bursty.
#[derive(Debug)]
pub(super) struct FairQueue<T> {
    teams: BTreeMap<String, TeamQueue<T>>,
    len: usize,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        FairQueue {
            teams: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<T> FairQueue<T> {
    /// Number of waiters of all teams.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether nobody waits.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of waiters of `team`.
    pub(super) fn team_len(&self, team: &str) -> usize {
        self.teams.get(team).map_or(0, |q| q.waiters.len())
    }

    /// Appends a waiter at the back of `team`'s queue.
    pub(super) fn push(&mut self, team: &str, waiter: Waiter<T>) {
        if let Some(queue) = self.teams.get_mut(team) {
            queue.waiters.push_back(waiter);
        } else {
            let queue = TeamQueue {
                waiters: VecDeque::from([waiter]),
                current: 0,
            };
            self.teams.insert(team.to_owned(), queue);
        }
        self.len += 1;
    }

    /// Removes the waiter `id` of `team`; `None` if it is no longer queued.
    pub(super) fn remove(&mut self, team: &str, id: u64) -> Option<Waiter<T>> {
        let queue = self.teams.get_mut(team)?;
        let pos = queue.waiters.iter().position(|w| w.id == id)?;
        let waiter = queue.waiters.remove(pos)?;
        if queue.waiters.is_empty() {
            self.teams.remove(team);
        }
        self.len -= 1;
        Some(waiter)
    }

    /// Takes the next waiter by weighted round robin among teams for which
    /// `eligible` holds (teams not at their own limit), with `weight` per team.
    pub(super) fn pop_next(
        &mut self,
        weight: impl Fn(&str) -> u32,
        eligible: impl Fn(&str) -> bool,
    ) -> Option<(String, Waiter<T>)> {
        let mut sum: i64 = 0;
        let mut best: Option<(&String, i64)> = None;
        for (team, queue) in self.teams.iter_mut() {
            if !eligible(team) {
                continue;
            }
            let w = i64::from(weight(team).max(1));
            queue.current += w;
            sum += w;
            if best.is_none_or(|(_, current)| queue.current > current) {
                best = Some((team, queue.current));
            }
        }
        let team = best?.0.clone();
        let queue = self.teams.get_mut(&team)?;
        queue.current -= sum;
        let waiter = queue.waiters.pop_front()?;
        if queue.waiters.is_empty() {
            self.teams.remove(&team);
        }
        self.len -= 1;
        Some((team, waiter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: u64) -> Waiter<()> {
        Waiter {
            id,
            enqueued: Instant::now(),
            payload: (),
        }
    }

    fn weights(team: &str) -> u32 {
        match team {
            "a" => 2,
            _ => 1,
        }
    }

    fn fill(q: &mut FairQueue<()>, team: &str, ids: std::ops::Range<u64>) {
        for id in ids {
            q.push(team, waiter(id));
        }
    }

    #[tokio::test]
    async fn weighted_round_robin_is_smooth_two_to_one() {
        let mut q = FairQueue::default();
        fill(&mut q, "a", 0..20);
        fill(&mut q, "b", 100..120);
        let order: String = (0..9)
            .filter_map(|_| q.pop_next(weights, |_| true))
            .map(|(team, _)| team)
            .collect();
        assert_eq!(order, "abaabaaba");
        assert_eq!(q.len(), 40 - 9);
    }

    #[tokio::test]
    async fn fifo_within_team_and_len_bookkeeping() {
        let mut q = FairQueue::default();
        fill(&mut q, "a", 0..3);
        assert_eq!((q.len(), q.team_len("a"), q.team_len("b")), (3, 3, 0));
        let ids: Vec<u64> = std::iter::from_fn(|| q.pop_next(weights, |_| true))
            .map(|(_, w)| w.id)
            .collect();
        assert_eq!(ids, [0, 1, 2]);
        assert!(q.is_empty());
        assert!(q.pop_next(weights, |_| true).is_none());
    }

    #[tokio::test]
    async fn ineligible_teams_are_skipped() {
        let mut q = FairQueue::default();
        fill(&mut q, "a", 0..2);
        fill(&mut q, "b", 10..12);
        let picked = q.pop_next(weights, |team| team != "a");
        assert_eq!(picked.map(|(t, w)| (t, w.id)), Some(("b".to_owned(), 10)));
        assert!(q.pop_next(weights, |_| false).is_none());
        assert_eq!(q.len(), 3);
    }

    #[tokio::test]
    async fn remove_by_id() {
        let mut q = FairQueue::default();
        fill(&mut q, "a", 0..3);
        assert_eq!(q.remove("a", 1).map(|w| w.id), Some(1));
        assert!(q.remove("a", 1).is_none());
        assert!(q.remove("zzz", 0).is_none());
        assert_eq!(q.len(), 2);
        q.remove("a", 0);
        q.remove("a", 2);
        assert!(q.is_empty());
        assert_eq!(q.team_len("a"), 0);
    }
}
