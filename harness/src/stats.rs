//! What a step measured: HDR histograms per outcome (overall and per team), per-query counts,
//! a per-second time series, and the figures derived from them.
//!
//! A *request* is one query the load generator wanted answered; it may take several
//! *attempts* when the node rejects it (the driver backs off and tries again until the
//! request's timeout). Successful, rejected and failed requests each keep their own latency
//! histogram, so a rejection that answers in 50 µs never flatters the latency of the queries
//! that ran, and no request is dropped from the counts. Beside them, every request lands in
//! the **time-to-answer** histogram: from when it was due (open loop) or first sent (closed
//! loop) to its answer, rejected attempts and backoffs included; a request never answered
//! within its timeout counts at that timeout. Every histogram holds microseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::verdict::{Correctness, Verdict};

use crate::latency::{new_histogram, record, LatencySummary};

/// How a query ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered `ready` and drained to the last chunk.
    Ok,
    /// Refused by admission (`rejected`).
    Rejected,
    /// Anything else: transport error, timeout, other status, broken chunk.
    Failed,
}

impl Outcome {
    /// How the outcome is written in the raw rows and traces: `ok`, `rejected`, `failed`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// One finished query, as phase accounting needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhaseSample {
    /// When it completed, seconds since the measured part started.
    pub at_s: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// A successful answer with days missing.
    pub partial: bool,
    /// It was sent again after a failed attempt.
    pub retried: bool,
    /// Its time to answer (from when it was due or first sent, rejected attempts and
    /// backoffs included; an unanswered request at its timeout), µs.
    pub answer_us: u64,
}

/// One query as the load generator saw it.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Index of the tenant.
    pub team: usize,
    /// Index of the mix entry.
    pub query: usize,
    /// How its last attempt ended.
    pub outcome: Outcome,
    /// Of its last attempt: from when it was due (open loop, first attempt) or sent to the
    /// last chunk.
    pub latency: Duration,
    /// Of its last attempt: from when it was actually sent to the last chunk.
    pub service: Duration,
    /// From when it was due (or first sent) to its answer, rejected attempts and backoffs
    /// included; for a request never answered, until its deadline (the timeout).
    pub answer: Duration,
    /// Attempts sent (1 unless rejected attempts were retried).
    pub attempts: u32,
    /// Attempts the node rejected.
    pub rejected_attempts: u32,
    /// The request reached its timeout unanswered.
    pub timed_out: bool,
    /// When its first attempt was sent, Unix ms.
    pub start_unix_ms: u64,
    /// Open loop: when it was due, Unix ms.
    pub due_unix_ms: Option<u64>,
    /// The node its last attempt went to, host:port.
    pub entry_node: String,
    /// Seconds since the measured window opened, at completion.
    pub at_s: f64,
    /// Records received.
    pub records: u64,
    /// The error text of a failure.
    pub error: Option<String>,
    /// The answer was declared partial.
    pub partial: bool,
    /// The query was sent again after a failed attempt (entry failover).
    pub retried: bool,
    /// The checker's verdict on an aggregate answer, and what differed.
    pub verdict: Option<(Verdict, Option<String>)>,
}

/// A histogram as stored in `results.json`: (value in **microseconds**, count) of every
/// non-empty bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HistData {
    /// Buckets.
    pub buckets: Vec<(u64, u64)>,
}

impl HistData {
    /// Captures a histogram.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        HistData {
            buckets: histogram
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }

    /// Rebuilds the histogram.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for &(value, count) in &self.buckets {
            let _ = h.record_n(value.max(1), count);
        }
        h
    }

    /// Samples held.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.1).sum()
    }

    /// Summary figures in ms.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary::of(&self.histogram())
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &HistData) {
        let mut h = self.histogram();
        let _ = h.add(other.histogram());
        *self = HistData::of(&h);
    }
}

/// The histograms of one population (all teams, or one team), one sample per request.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Series {
    /// Success latency: the answered attempt of successful requests.
    pub ok: HistData,
    /// Service time (from the actual send) of successful requests.
    pub service: HistData,
    /// Latency of the last attempt of requests that ended rejected.
    pub rejected: HistData,
    /// Latency of the last attempt of failed requests.
    pub failed: HistData,
    /// Time to answer of every request (unanswered ones at their timeout).
    #[serde(default)]
    pub answer: HistData,
    /// Attempts sent.
    #[serde(default)]
    pub attempts: u64,
    /// Attempts rejected by admission.
    #[serde(default)]
    pub rejected_attempts: u64,
    /// Requests that reached their timeout unanswered.
    #[serde(default)]
    pub timed_out: u64,
    /// Records received.
    pub records: u64,
}

impl Series {
    /// Requests counted, whatever their outcome.
    pub fn total(&self) -> u64 {
        self.ok.count() + self.rejected.count() + self.failed.count()
    }

    /// Requests not answered (rejected to the end, failed or timed out).
    pub fn unanswered(&self) -> u64 {
        self.rejected.count() + self.failed.count()
    }

    /// Attempts admitted by the node (sent and not rejected).
    pub fn admitted(&self) -> u64 {
        self.attempts.saturating_sub(self.rejected_attempts)
    }

    /// Rejected attempts as a share of all attempts, 0 to 1.
    pub fn rejection_share(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.rejected_attempts as f64 / self.attempts as f64
        }
    }

    /// Adds another population.
    pub fn merge(&mut self, other: &Series) {
        self.ok.merge(&other.ok);
        self.service.merge(&other.service);
        self.rejected.merge(&other.rejected);
        self.failed.merge(&other.failed);
        self.answer.merge(&other.answer);
        self.attempts += other.attempts;
        self.rejected_attempts += other.rejected_attempts;
        self.timed_out += other.timed_out;
        self.records += other.records;
    }
}

/// Counts of one query of the mix.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QueryCounts {
    /// Successful.
    pub ok: u64,
    /// Rejected.
    pub rejected: u64,
    /// Failed.
    pub failed: u64,
    /// Records received.
    pub records: u64,
}

/// One second of a step.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecondPoint {
    /// Second since the measured window opened.
    pub second: u32,
    /// Seconds of the window this point covers (1, less for the last, partial second).
    #[serde(default = "one")]
    pub span_s: f64,
    /// Successful queries completed in it.
    pub ok: u64,
    /// Rejections.
    pub rejected: u64,
    /// Failures.
    pub failed: u64,
    /// Median latency of its successful queries, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Successful queries per team.
    pub team_ok: BTreeMap<String, u64>,
}

fn one() -> f64 {
    1.0
}

/// Everything one step measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StepMeasure {
    /// Length of the measured window, seconds.
    pub elapsed_s: f64,
    /// Queries completed during warm-up (not in any figure below).
    pub warmup_queries: u64,
    /// All teams.
    pub overall: Series,
    /// Per team.
    pub teams: BTreeMap<String, Series>,
    /// Per query of the mix.
    pub queries: BTreeMap<String, QueryCounts>,
    /// Per second.
    pub timeline: Vec<SecondPoint>,
    /// Distinct failure messages and how often each was seen.
    pub errors: BTreeMap<String, u64>,
    /// Verdicts on the checked answers.
    #[serde(default)]
    pub correctness: Correctness,
    /// Answers declared partial, and queries sent again, over the whole step.
    #[serde(default)]
    pub partial: u64,
    /// Queries sent again after a failed attempt.
    #[serde(default)]
    pub retried: u64,
    /// Every measured query, compactly, for fault-window accounting (not saved).
    #[serde(skip)]
    pub samples: Vec<PhaseSample>,
}

impl StepMeasure {
    /// Successful queries per second.
    pub fn throughput(&self) -> f64 {
        per_second(self.overall.ok.count(), self.elapsed_s)
    }
}

/// `count / seconds`, 0 for an empty window.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Builds a [`StepMeasure`] from samples.
pub struct Recorder {
    teams: Vec<String>,
    queries: Vec<String>,
    overall: Hists,
    per_team: Vec<Hists>,
    counts: Vec<QueryCounts>,
    seconds: Vec<(Histogram<u64>, [u64; 3], Vec<u64>)>,
    errors: BTreeMap<String, u64>,
    warmup: u64,
    correctness: Correctness,
    samples: Vec<PhaseSample>,
}

struct Hists {
    ok: Histogram<u64>,
    service: Histogram<u64>,
    rejected: Histogram<u64>,
    failed: Histogram<u64>,
    answer: Histogram<u64>,
    attempts: u64,
    rejected_attempts: u64,
    timed_out: u64,
    records: u64,
}

impl Hists {
    fn new() -> Self {
        Hists {
            ok: new_histogram(),
            service: new_histogram(),
            rejected: new_histogram(),
            failed: new_histogram(),
            answer: new_histogram(),
            attempts: 0,
            rejected_attempts: 0,
            timed_out: 0,
            records: 0,
        }
    }

    fn add(&mut self, s: &Sample) {
        record(&mut self.answer, s.answer);
        self.attempts += u64::from(s.attempts);
        self.rejected_attempts += u64::from(s.rejected_attempts);
        self.timed_out += u64::from(s.timed_out);
        match s.outcome {
            Outcome::Ok => {
                record(&mut self.ok, s.latency);
                record(&mut self.service, s.service);
            }
            Outcome::Rejected => record(&mut self.rejected, s.latency),
            Outcome::Failed => record(&mut self.failed, s.latency),
        }
        self.records += s.records;
    }

    fn series(&self) -> Series {
        Series {
            ok: HistData::of(&self.ok),
            service: HistData::of(&self.service),
            rejected: HistData::of(&self.rejected),
            failed: HistData::of(&self.failed),
            answer: HistData::of(&self.answer),
            attempts: self.attempts,
            rejected_attempts: self.rejected_attempts,
            timed_out: self.timed_out,
            records: self.records,
        }
    }
}

/// Most distinct error texts kept per step (the rest are counted under "(other)").
const MAX_ERROR_KINDS: usize = 20;

impl Recorder {
    /// A recorder for these teams and mix entries (indices as in [`Sample`]).
    pub fn new(teams: Vec<String>, queries: Vec<String>) -> Self {
        Recorder {
            per_team: teams.iter().map(|_| Hists::new()).collect(),
            counts: queries.iter().map(|_| QueryCounts::default()).collect(),
            teams,
            queries,
            overall: Hists::new(),
            seconds: Vec::new(),
            errors: BTreeMap::new(),
            warmup: 0,
            correctness: Correctness::default(),
            samples: Vec::new(),
        }
    }

    /// Counts a query that completed during warm-up.
    pub fn warmup(&mut self) {
        self.warmup += 1;
    }

    /// Adds a measured sample.
    pub fn add(&mut self, mut s: Sample) {
        if let Some((verdict, detail)) = s.verdict.take() {
            self.correctness.add(verdict, detail);
        }
        self.samples.push(PhaseSample {
            at_s: s.at_s,
            outcome: s.outcome,
            partial: s.partial,
            retried: s.retried,
            answer_us: s.answer.as_micros().min(u128::from(u64::MAX)) as u64,
        });
        self.overall.add(&s);
        self.per_team[s.team].add(&s);
        let counts = &mut self.counts[s.query];
        counts.records += s.records;
        let second = s.at_s.max(0.0) as usize;
        while self.seconds.len() <= second {
            let h = Histogram::new_with_bounds(1, 60_000_000, 2).expect("static bounds");
            self.seconds.push((h, [0; 3], vec![0; self.teams.len()]));
        }
        let (hist, outcomes, team_ok) = &mut self.seconds[second];
        match s.outcome {
            Outcome::Ok => {
                counts.ok += 1;
                outcomes[0] += 1;
                team_ok[s.team] += 1;
                let _ = hist.record((s.latency.as_micros() as u64).clamp(1, 60_000_000));
            }
            Outcome::Rejected => {
                counts.rejected += 1;
                outcomes[1] += 1;
            }
            Outcome::Failed => {
                counts.failed += 1;
                outcomes[2] += 1;
                let text = s.error.unwrap_or_else(|| "failed".to_string());
                let key = if self.errors.len() < MAX_ERROR_KINDS || self.errors.contains_key(&text)
                {
                    text
                } else {
                    "(other)".to_string()
                };
                *self.errors.entry(key).or_default() += 1;
            }
        }
    }

    /// The step's figures over a measured window of `elapsed_s` seconds.
    pub fn finish(self, elapsed_s: f64) -> StepMeasure {
        let ms = |us: u64| us as f64 / 1000.0;
        let timeline = self
            .seconds
            .iter()
            .enumerate()
            .map(|(i, (h, o, team_ok))| SecondPoint {
                second: i as u32,
                span_s: (elapsed_s - i as f64).clamp(0.05, 1.0),
                ok: o[0],
                rejected: o[1],
                failed: o[2],
                p50_ms: if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(0.5))
                },
                p99_ms: if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(0.99))
                },
                team_ok: self
                    .teams
                    .iter()
                    .cloned()
                    .zip(team_ok.iter().copied())
                    .collect(),
            })
            .collect();
        StepMeasure {
            elapsed_s,
            warmup_queries: self.warmup,
            overall: self.overall.series(),
            teams: self
                .teams
                .iter()
                .cloned()
                .zip(self.per_team.iter().map(Hists::series))
                .collect(),
            queries: self.queries.iter().cloned().zip(self.counts).collect(),
            timeline,
            errors: self.errors,
            correctness: self.correctness,
            partial: self.samples.iter().filter(|s| s.partial).count() as u64,
            retried: self.samples.iter().filter(|s| s.retried).count() as u64,
            samples: self.samples,
        }
    }
}

/// Quantiles for the latency-distribution chart, up to p99.99.
pub const CURVE_QUANTILES: [f64; 13] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999,
];

/// (quantile, latency ms) points of a histogram, for a percentile curve.
pub fn percentile_curve(data: &HistData) -> Vec<(f64, f64)> {
    let h = data.histogram();
    if h.is_empty() {
        return Vec::new();
    }
    CURVE_QUANTILES
        .iter()
        .filter(|&&q| q <= 0.9999)
        .map(|&q| (q, h.value_at_quantile(q) as f64 / 1000.0))
        .collect()
}

/// Position of a quantile on a "nines" axis: −log10(1 − q) (p90 → 1, p99 → 2, p99.9 → 3).
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-6).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(team: usize, outcome: Outcome, ms: u64, at_s: f64) -> Sample {
        Sample {
            team,
            query: 0,
            outcome,
            latency: Duration::from_millis(ms),
            service: Duration::from_millis(ms / 2),
            answer: Duration::from_millis(ms),
            attempts: 1,
            rejected_attempts: u32::from(outcome == Outcome::Rejected),
            timed_out: false,
            start_unix_ms: 0,
            due_unix_ms: None,
            entry_node: String::new(),
            at_s,
            records: 10,
            error: (outcome == Outcome::Failed).then(|| "boom".to_string()),
            partial: false,
            retried: false,
            verdict: None,
        }
    }

    #[test]
    fn nines_axis_positions() {
        assert!((nines(0.9) - 1.0).abs() < 1e-9);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert!((nines(0.9999) - 4.0).abs() < 1e-6);
        assert_eq!(nines(0.0), 0.0);
    }

    #[test]
    fn recorder_keeps_every_outcome_in_its_own_series() {
        let mut r = Recorder::new(vec!["green".into(), "pink".into()], vec!["q".into()]);
        for ms in 1..=100 {
            r.add(sample(0, Outcome::Ok, ms, 0.5));
        }
        r.add(sample(1, Outcome::Rejected, 1, 1.2));
        r.add(sample(1, Outcome::Failed, 7, 1.5));
        r.warmup();
        let m = r.finish(2.0);
        assert_eq!(m.overall.ok.count(), 100);
        assert_eq!(m.overall.rejected.count(), 1);
        assert_eq!(m.overall.failed.count(), 1);
        assert_eq!(m.overall.total(), 102);
        assert_eq!(m.warmup_queries, 1);
        assert_eq!(m.teams["pink"].total(), 2);
        assert_eq!(m.teams["green"].ok.count(), 100);
        assert_eq!(m.queries["q"].ok, 100);
        assert_eq!(m.queries["q"].records, 1020);
        assert_eq!(m.errors["boom"], 1);
        assert!((m.throughput() - 50.0).abs() < 1e-9);
        let s = m.overall.ok.summary();
        assert!((s.p50_ms - 50.0).abs() < 0.1);
        assert!((s.p99_ms - 99.0).abs() < 0.1);
        assert_eq!(m.timeline.len(), 2);
        assert_eq!(m.timeline[0].ok, 100);
        assert_eq!(m.timeline[1].rejected, 1);
        assert_eq!(m.timeline[0].team_ok["green"], 100);
        // Stored and rebuilt histograms give the same figures.
        let json = serde_json::to_string(&m).unwrap();
        let back: StepMeasure = serde_json::from_str(&json).unwrap();
        assert_eq!(back.overall.ok.summary(), s);
    }

    #[test]
    fn merged_histograms_add_counts() {
        let mut a = HistData::default();
        let mut h = new_histogram();
        record(&mut h, Duration::from_millis(5));
        a.merge(&HistData::of(&h));
        a.merge(&HistData::of(&h));
        assert_eq!(a.count(), 2);
        let curve = percentile_curve(&a);
        assert!(curve.iter().all(|&(_, ms)| (ms - 5.0).abs() < 0.01));
    }
}
