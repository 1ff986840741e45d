//! `[sweep]`: the strategies and the concurrency levels.

use crate::input::{Checker, ClusterMode, WorkloadError};

/// The strategies a node knows (`overlay-node --fairness-strategy`).
pub const STRATEGIES: [&str; 4] = ["strict", "weighted", "hybrid", "fair_queue"];

/// Most concurrency a level may ask for (each worker is a task; the node caps far lower).
const MAX_CONCURRENCY: i64 = 10_000;

/// The strategies swept: known, listed once, one only against a remote cluster.
pub(super) fn check_strategies(
    c: &Checker<'_>,
    strategies: &[String],
    mode: ClusterMode,
) -> Result<Vec<String>, WorkloadError> {
    if strategies.is_empty() {
        return c.fail(
            "sweep.strategies",
            format!("is empty; list some of: {}", STRATEGIES.join(", ")),
        );
    }
    for (i, s) in strategies.iter().enumerate() {
        c.one_of(&format!("sweep.strategies[{i}]"), s, &STRATEGIES)?;
        if strategies[..i].contains(s) {
            return c.fail(
                &format!("sweep.strategies[{i}]"),
                format!("'{s}' is listed twice"),
            );
        }
    }
    if mode == ClusterMode::Remote && strategies.len() > 1 {
        return c.fail(
            "sweep.strategies",
            "a remote cluster cannot be restarted per strategy; list the one strategy it runs",
        );
    }
    Ok(strategies.to_vec())
}

/// The concurrency levels swept, each in 1..=[`MAX_CONCURRENCY`].
pub(super) fn check_concurrency(
    c: &Checker<'_>,
    levels: &[i64],
) -> Result<Vec<u32>, WorkloadError> {
    if levels.is_empty() {
        return c.fail(
            "sweep.concurrency",
            "is empty; list levels such as [1, 10, 50]",
        );
    }
    let mut out = Vec::new();
    for (i, &level) in levels.iter().enumerate() {
        let key = format!("sweep.concurrency[{i}]");
        if !(1..=MAX_CONCURRENCY).contains(&level) {
            return c.fail(
                &key,
                format!("is {level}; levels must lie in 1..={MAX_CONCURRENCY}"),
            );
        }
        out.push(level as u32);
    }
    Ok(out)
}

/// The confidence level of the intervals over repetitions: strictly between 0 and 1.
pub(super) fn check_confidence(c: &Checker<'_>, confidence: f64) -> Result<f64, WorkloadError> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(confidence)
    } else {
        c.fail(
            "sweep.confidence",
            format!("is {confidence}; it must lie strictly between 0 and 1, such as 0.95"),
        )
    }
}
