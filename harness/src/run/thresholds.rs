//! A workload's `[thresholds]` evaluated on every measured step of every strategy (not the
//! baseline).

use crate::results::{RunResults, Step};
use crate::stats::HistData;
use crate::thresholds::{Metric, ThresholdCheck};

/// The measured value of `metric` in `step` (`None`: nothing to measure).
fn value(results: &RunResults, step: &Step, metric: &Metric) -> Option<f64> {
    let m = &step.measure;
    let o = &m.overall;
    let percentile = |h: &HistData, p: f64| {
        let h = h.histogram();
        (!h.is_empty()).then(|| h.value_at_quantile(p / 100.0) as f64 / 1000.0)
    };
    let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    match metric {
        Metric::AnswerPercentileMs(p) => percentile(&o.answer, *p),
        Metric::SuccessPercentileMs(p) => percentile(&o.ok, *p),
        Metric::OkPerS => Some(m.throughput()),
        Metric::Answered => share(o.ok.count(), o.total()),
        Metric::RejectedShare => share(o.rejected_attempts, o.attempts),
        Metric::TimedOut => Some(o.timed_out as f64),
        Metric::Failed => Some(o.failed.count() as f64),
        Metric::Wrong => Some(m.correctness.wrong as f64),
        Metric::PartialSilent => Some(m.correctness.partial_silent as f64),
        Metric::Fairness => results.fairness(step.concurrency, m).demand_index,
        Metric::ServedShare(team) => m
            .teams
            .get(team)
            .and_then(|s| share(s.ok.count(), s.total())),
    }
}

/// Every threshold on every measured step of every strategy.
pub fn evaluate(results: &RunResults) -> Vec<ThresholdCheck> {
    let mut checks = Vec::new();
    for run in &results.strategies {
        for step in &run.steps {
            for t in &results.workload.thresholds {
                let value = value(results, step, &t.metric);
                checks.push(ThresholdCheck {
                    strategy: run.strategy.clone(),
                    concurrency: step.concurrency,
                    repetition: step.repetition,
                    threshold: t.to_string(),
                    passed: value.is_some_and(|v| t.op.holds(v, t.value)),
                    value,
                });
            }
        }
    }
    checks
}
