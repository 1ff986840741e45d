//! Pass or fail: a workload's `[thresholds]` (as k6 has them), such as
//! `p99_ms = "< 100"`, `"served_share.pink" = "> 0.9"` or `wrong = "== 0"`, checked before
//! the run starts; evaluated on every measured step of every strategy (not the baseline) by
//! `run::thresholds`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What a threshold measures, per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Time to answer, percentile in (0, 100), ms: `p50_ms`, `p95_ms`, `p99_ms`, `p99.9_ms`.
    AnswerPercentileMs(f64),
    /// Success latency (answered attempts only), ms: `success_p99_ms` and the like.
    SuccessPercentileMs(f64),
    /// Answered requests per second: `ok_per_s`.
    OkPerS,
    /// Answered share of requests, 0 to 1: `answered`.
    Answered,
    /// Rejected share of attempts, 0 to 1: `rejected_share`.
    RejectedShare,
    /// Requests timed out: `timed_out`.
    TimedOut,
    /// Requests failed with an error: `failed`.
    Failed,
    /// Wrong aggregate answers: `wrong`.
    Wrong,
    /// Silently partial aggregate answers: `partial_silent`.
    PartialSilent,
    /// Demand-aware fairness index: `fairness`.
    Fairness,
    /// One team's served share of its demand, 0 to 1: `served_share.<team>`.
    ServedShare(String),
}

/// How a value is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
}

impl Op {
    /// Whether `left <op> right` holds.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => (left - right).abs() < 1e-9,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// One checked threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The key as written.
    pub key: String,
    /// What it measures.
    pub metric: Metric,
    /// The comparison.
    pub op: Op,
    /// The bound.
    pub value: f64,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.key, self.op.text(), self.value)
    }
}

/// The metric names a threshold may use (for error messages).
pub const METRICS: &str = "p<N>_ms (time to answer, e.g. p99_ms), success_p<N>_ms, ok_per_s, answered, rejected_share, timed_out, failed, wrong, partial_silent, fairness, served_share.<team>";

/// Parses `[thresholds]` against the workload's teams; the error names the key.
pub fn parse(
    table: &BTreeMap<String, String>,
    teams: &[String],
) -> Result<Vec<Threshold>, (String, String)> {
    table
        .iter()
        .map(|(key, condition)| {
            let full_key = format!("thresholds.\"{key}\"");
            let metric = metric(key, teams).map_err(|m| (full_key.clone(), m))?;
            let (op, value) = condition_of(condition).map_err(|m| (full_key.clone(), m))?;
            Ok(Threshold {
                key: key.clone(),
                metric,
                op,
                value,
            })
        })
        .collect()
}

fn metric(key: &str, teams: &[String]) -> Result<Metric, String> {
    let percentile = |text: &str| -> Option<f64> {
        let p: f64 = text.strip_prefix('p')?.strip_suffix("_ms")?.parse().ok()?;
        (p > 0.0 && p < 100.0).then_some(p)
    };
    if let Some(team) = key.strip_prefix("served_share.") {
        if teams.iter().any(|t| t == team) {
            return Ok(Metric::ServedShare(team.to_string()));
        }
        return Err(format!(
            "team '{team}' is not a [[tenant]] of this workload (teams: {})",
            teams.join(", ")
        ));
    }
    if let Some(p) = key.strip_prefix("success_").and_then(percentile) {
        return Ok(Metric::SuccessPercentileMs(p));
    }
    if let Some(p) = percentile(key) {
        return Ok(Metric::AnswerPercentileMs(p));
    }
    Ok(match key {
        "ok_per_s" => Metric::OkPerS,
        "answered" => Metric::Answered,
        "rejected_share" => Metric::RejectedShare,
        "timed_out" => Metric::TimedOut,
        "failed" => Metric::Failed,
        "wrong" => Metric::Wrong,
        "partial_silent" => Metric::PartialSilent,
        "fairness" => Metric::Fairness,
        _ => return Err(format!("unknown metric '{key}'; known: {METRICS}")),
    })
}

fn condition_of(text: &str) -> Result<(Op, f64), String> {
    let t = text.trim();
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (*op, rest)))
    .ok_or_else(|| format!("'{text}' must be a comparison such as \"< 100\" (<, <=, >, >=, ==)"))?;
    let value: f64 = rest
        .trim()
        .parse()
        .map_err(|_| format!("'{text}': '{}' is not a number", rest.trim()))?;
    if !value.is_finite() {
        return Err(format!("'{text}': the bound must be finite"));
    }
    Ok((op, value))
}

/// One threshold on one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCheck {
    /// Strategy.
    pub strategy: String,
    /// Concurrency level.
    pub concurrency: u32,
    /// Repetition.
    pub repetition: u32,
    /// The threshold, as text.
    pub threshold: String,
    /// The measured value (`None`: nothing to measure, which fails).
    pub value: Option<f64>,
    /// It held.
    pub passed: bool,
}

/// One line per check: `PASS strict c=16 r0: p99_ms < 100 (measured 42.1)`.
pub fn lines(checks: &[ThresholdCheck]) -> Vec<String> {
    checks
        .iter()
        .map(|c| {
            format!(
                "{} {} c={} r{}: {} (measured {})",
                if c.passed { "PASS" } else { "FAIL" },
                c.strategy,
                c.concurrency,
                c.repetition,
                c.threshold,
                c.value.map_or("nothing".to_string(), |v| format!("{v:.4}"))
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn thresholds_parse_and_bad_ones_name_the_key() {
        let teams = vec!["green".to_string(), "pink".to_string()];
        let ok = parse(
            &table(&[
                ("p99_ms", "< 100"),
                ("served_share.pink", "> 0.9"),
                ("wrong", "== 0"),
                ("success_p99.9_ms", "<= 5"),
            ]),
            &teams,
        )
        .unwrap();
        assert_eq!(ok.len(), 4);
        assert!(ok
            .iter()
            .any(|t| t.metric == Metric::AnswerPercentileMs(99.0)
                && t.op == Op::Lt
                && t.value == 100.0));
        assert!(ok
            .iter()
            .any(|t| t.metric == Metric::ServedShare("pink".into())));
        assert!(ok
            .iter()
            .any(|t| t.metric == Metric::SuccessPercentileMs(99.9) && t.op == Op::Le));

        let err = parse(&table(&[("served_share.blue", "> 0.9")]), &teams).unwrap_err();
        assert_eq!(err.0, "thresholds.\"served_share.blue\"");
        assert!(err.1.contains("'blue'"), "{}", err.1);
        let err = parse(&table(&[("latency", "< 1")]), &teams).unwrap_err();
        assert!(err.0.contains("latency") && err.1.contains("unknown metric"));
        let err = parse(&table(&[("p99_ms", "about 100")]), &teams).unwrap_err();
        assert!(err.1.contains("comparison"));
        let err = parse(&table(&[("p100_ms", "< 1")]), &teams).unwrap_err();
        assert!(err.1.contains("unknown metric"));
        assert!(parse(&table(&[("wrong", "== x")]), &teams).is_err());
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(1.0, 0.0));
    }
}
