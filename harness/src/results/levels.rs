//! One strategy at one level across its repetitions, and the figures tables and charts
//! estimate from them: each repetition gives one value, and the reports show their median with
//! a confidence interval ([`crate::interval`]).

use super::{merge_into, RunResults, StrategyRun};
use crate::interval::{estimate, Estimate};
use crate::stats::StepMeasure;

/// A strategy's steps at one concurrency level.
#[derive(Clone, Debug)]
pub struct Level {
    /// Concurrency.
    pub level: u32,
    /// Each repetition's measure, in order.
    pub repetitions: Vec<StepMeasure>,
    /// Every repetition merged (counts add up; for totals and distributions).
    pub merged: StepMeasure,
}

/// A figure measured once per repetition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Successful queries per second.
    Throughput,
    /// Time to answer, 50th percentile, ms.
    AnswerP50,
    /// Time to answer, 99th percentile, ms.
    AnswerP99,
    /// Success latency, 99th percentile, ms.
    SuccessP99,
    /// Answered requests, % of requests.
    AnsweredPct,
    /// Rejected attempts, % of attempts.
    RejectedPct,
    /// The demand-aware fairness index.
    DemandIndex,
    /// Jain's index over goodput ÷ weight.
    PlainIndex,
    /// A team's served share of its own demand, %.
    ServedPct(String),
    /// A team's goodput, per second.
    TeamGoodput(String),
    /// A team's rejected attempts, % of its attempts.
    TeamRejectedPct(String),
    /// A team's time to answer, 99th percentile, ms.
    TeamAnswerP99(String),
}

impl StrategyRun {
    /// The steps grouped by concurrency level, in sweep order.
    pub fn levels(&self) -> Vec<Level> {
        let mut levels: Vec<Level> = Vec::new();
        for step in &self.steps {
            match levels.iter_mut().find(|l| l.level == step.concurrency) {
                Some(l) => {
                    merge_into(&mut l.merged, &step.measure);
                    l.repetitions.push(step.measure.clone());
                }
                None => levels.push(Level {
                    level: step.concurrency,
                    repetitions: vec![step.measure.clone()],
                    merged: step.measure.clone(),
                }),
            }
        }
        levels
    }

    /// The level `level`, when measured.
    pub fn level(&self, level: u32) -> Option<Level> {
        self.levels().into_iter().find(|l| l.level == level)
    }
}

impl RunResults {
    /// The value of `figure` in each repetition of `level` (a repetition without the figure,
    /// such as a p99 of no answers, is left out).
    pub fn values(&self, level: &Level, figure: &Figure) -> Vec<f64> {
        level
            .repetitions
            .iter()
            .filter_map(|m| self.value(level.level, m, figure))
            .collect()
    }

    /// The median of `figure` over the repetitions of `level`, with its interval at the
    /// workload's confidence level.
    pub fn estimate(&self, level: &Level, figure: &Figure) -> Option<Estimate> {
        estimate(&self.values(level, figure), self.workload.confidence)
    }

    /// `figure` of one repetition's measure `m` at concurrency `level`.
    fn value(&self, level: u32, m: &StepMeasure, figure: &Figure) -> Option<f64> {
        let pct = |part: u64, whole: u64| (whole > 0).then(|| part as f64 * 100.0 / whole as f64);
        let team = |name: &str| m.teams.get(name).cloned().unwrap_or_default();
        match figure {
            Figure::Throughput => Some(m.throughput()),
            Figure::AnswerP50 => nonempty(&m.overall.answer).map(|s| s.p50_ms),
            Figure::AnswerP99 => nonempty(&m.overall.answer).map(|s| s.p99_ms),
            Figure::SuccessP99 => nonempty(&m.overall.ok).map(|s| s.p99_ms),
            Figure::AnsweredPct => pct(m.overall.ok.count(), m.overall.total()),
            Figure::RejectedPct => pct(m.overall.rejected_attempts, m.overall.attempts),
            Figure::DemandIndex => self.fairness(level, m).demand_index,
            Figure::PlainIndex => self.fairness(level, m).plain_index,
            Figure::ServedPct(name) => self
                .fairness(level, m)
                .teams
                .iter()
                .find(|t| &t.team == name)
                .map(|t| t.served_share() * 100.0),
            Figure::TeamGoodput(name) => {
                Some(crate::stats::per_second(team(name).ok.count(), m.elapsed_s))
            }
            Figure::TeamRejectedPct(name) => {
                let s = team(name);
                pct(s.rejected_attempts, s.attempts)
            }
            Figure::TeamAnswerP99(name) => nonempty(&team(name).answer).map(|s| s.p99_ms),
        }
    }
}

/// The summary of a histogram that holds something.
fn nonempty(h: &crate::stats::HistData) -> Option<crate::latency::LatencySummary> {
    (h.count() > 0).then(|| h.summary())
}

/// `text` of an estimate, `-` when there is none.
pub fn estimate_text(e: Option<Estimate>, decimals: usize) -> String {
    e.map_or("-".to_string(), |e| e.text(decimals))
}
