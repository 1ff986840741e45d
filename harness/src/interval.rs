//! Medians of repetitions and their confidence intervals, and the difference of two such
//! medians (what `harness compare` reports).
//!
//! Each repetition of a step gives one value of a figure (throughput, a p99, a team's served
//! share...). The point estimate is the **median** of those values; its interval is a
//! **percentile bootstrap** (B. Efron, R. Tibshirani, *An Introduction to the Bootstrap*,
//! 1993, ch. 13): the values are resampled with replacement [`RESAMPLES`] times, the median
//! of every resample is taken, and the interval runs from the `(1 − c)/2` to the
//! `(1 + c)/2` quantile of those medians, for confidence level `c`. The resampling is seeded,
//! so the same values always give the same interval. With one repetition there is no
//! interval: the value is reported as `n=1`, and a difference cannot be told from noise.
//!
//! A difference of two figures (run B − run A) resamples both sides independently and takes
//! the same quantiles of `median(B*) − median(A*)`; it is **inside the noise** when that
//! interval contains 0. A ratio of two figures (overlay ÷ one-hop baseline) is the same
//! difference taken over their logarithms.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2_000;
/// Seed of the resampling (fixed: reports are reproducible).
const SEED: u64 = 0x5eed_b007;
/// The confidence level used when a workload does not set one.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// How the intervals are computed, for reports and chart captions.
pub const METHOD: &str = "median of the repetitions; percentile-bootstrap interval";

/// A median and its confidence interval (`low == high == median` with one value).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Median of the values.
    pub median: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Values it was computed from.
    pub n: usize,
}

impl Estimate {
    /// `12.3 [11.0–13.5]` with `decimals` places; `12.3 (n=1)` without an interval.
    pub fn text(&self, decimals: usize) -> String {
        if self.n < 2 {
            format!("{:.*} (n=1)", decimals, self.median)
        } else {
            format!(
                "{:.*} [{:.*}–{:.*}]",
                decimals, self.median, decimals, self.low, decimals, self.high
            )
        }
    }

    /// The same estimate with every figure multiplied by `k` (a share as a percentage).
    pub fn scaled(self, k: f64) -> Estimate {
        Estimate {
            median: self.median * k,
            low: self.low * k,
            high: self.high * k,
            n: self.n,
        }
    }
}

/// The difference run B − run A of one figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delta {
    /// median(B) − median(A).
    pub delta: f64,
    /// Lower end of its interval.
    pub low: f64,
    /// Upper end of its interval.
    pub high: f64,
    /// Both sides had at least two repetitions, so there is an interval at all.
    pub has_interval: bool,
}

impl Delta {
    /// The interval contains 0 (or there is no interval): the difference may be noise.
    pub fn inside_noise(&self) -> bool {
        !self.has_interval || (self.low <= 0.0 && self.high >= 0.0)
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median of `values` with its bootstrap interval at `confidence` (in (0, 1)); `None`
/// when there is no finite value.
pub fn estimate(values: &[f64], confidence: f64) -> Option<Estimate> {
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = median(&finite)?;
    if finite.len() < 2 {
        return Some(Estimate {
            median: m,
            low: m,
            high: m,
            n: finite.len(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| resampled_median(&mut rng, &finite))
        .collect();
    let (low, high) = quantiles(medians, confidence);
    Some(Estimate {
        median: m,
        low,
        high,
        n: finite.len(),
    })
}

/// median(b) − median(a) with the bootstrap interval of the difference at `confidence`;
/// `None` when either side has no finite value.
pub fn delta(a: &[f64], b: &[f64], confidence: f64) -> Option<Delta> {
    let a: Vec<f64> = a.iter().copied().filter(|x| x.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|x| x.is_finite()).collect();
    let d = median(&b)? - median(&a)?;
    if a.len() < 2 || b.len() < 2 {
        return Some(Delta {
            delta: d,
            low: d,
            high: d,
            has_interval: false,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| resampled_median(&mut rng, &b) - resampled_median(&mut rng, &a))
        .collect();
    let (low, high) = quantiles(diffs, confidence);
    Some(Delta {
        delta: d,
        low,
        high,
        has_interval: true,
    })
}

/// The ratio median(b) / median(a) of two positive figures with its interval at
/// `confidence`: the [`delta`] of their logarithms, turned back (so the interval of a ratio is
/// not symmetric around it); `None` when either side has no positive value. `n` is the smaller
/// side's count, below 2 when there is no interval.
pub fn ratio(a: &[f64], b: &[f64], confidence: f64) -> Option<Estimate> {
    let positive = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .collect()
    };
    let (a, b) = (positive(a), positive(b));
    let ln = |v: &[f64]| -> Vec<f64> { v.iter().map(|x| x.ln()).collect() };
    let d = delta(&ln(&a), &ln(&b), confidence)?;
    Some(Estimate {
        median: median(&b)? / median(&a)?,
        low: d.low.exp(),
        high: d.high.exp(),
        n: if d.has_interval {
            a.len().min(b.len())
        } else {
            1
        },
    })
}

/// The median of one resample (with replacement) of `values` (not empty).
fn resampled_median(rng: &mut ChaCha8Rng, values: &[f64]) -> f64 {
    let sample: Vec<f64> = (0..values.len())
        .map(|_| values[rng.random_range(0..values.len())])
        .collect();
    median(&sample).unwrap_or(0.0)
}

/// The `(1 − c)/2` and `(1 + c)/2` quantiles of `values` (nearest rank).
fn quantiles(mut values: Vec<f64>, confidence: f64) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    let rank = |q: f64| {
        let i = (q * values.len() as f64).ceil() as usize;
        values[i.clamp(1, values.len()) - 1]
    };
    (rank(tail), rank(1.0 - tail))
}

#[cfg(test)]
mod tests;
