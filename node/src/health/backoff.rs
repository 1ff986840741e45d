//! Exponential backoff with "equal jitter" for retrying a call.
//!
//! Retry `attempt` (0 = first retry) waits between half and all of its ceiling,
//! `min(max, base × factor^attempt)`: half is fixed so retries keep spreading out, half is
//! random so many callers do not retry in step. The jitter is an argument, so tests are
//! deterministic; [`Backoff::delay_random`] draws it.

use std::time::Duration;

use rand::Rng;

/// Backoff policy: `base` × `factor`^attempt, capped at `max`, with equal jitter.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// Ceiling of the first retry's delay.
    pub base: Duration,
    /// Largest ceiling, whatever the attempt.
    pub max: Duration,
    /// Growth of the ceiling per attempt.
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            factor: 2.0,
        }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (0 = first retry): ceiling = min(max, base ×
    /// factor^attempt); "equal jitter": ceiling/2 + jitter × ceiling/2 with `jitter` in [0, 1)
    /// (clamped to [0, 1]; NaN counts as 0), rounded to the nanosecond, so the delay lies in
    /// [ceiling/2, ceiling]. Never overflows for large attempts; a non-finite growth is capped at
    /// `max`, a negative one floored at zero.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling_nanos(attempt);
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let nanos = ceiling / 2.0 + jitter * ceiling / 2.0;
        // `as` saturates: a `max` beyond u64 nanoseconds (584 years) is cut there.
        Duration::from_nanos(nanos.round() as u64)
    }

    /// Same with a jitter drawn from [`rand::rng`].
    pub fn delay_random(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::rng().random::<f64>())
    }

    /// min(max, base × factor^attempt) in nanoseconds, never negative, never NaN.
    fn ceiling_nanos(&self, attempt: u32) -> f64 {
        if self.base.is_zero() {
            return 0.0; // 0 × inf would be NaN
        }
        let base = self.base.as_nanos() as f64;
        let max = self.max.as_nanos() as f64;
        // powi takes an i32: powf keeps attempts above i32::MAX growing instead of wrapping.
        let grown = base * self.factor.powf(f64::from(attempt));
        // f64::min/max return the non-NaN operand, so NaN growth ends at `max`.
        grown.min(max).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceiling_grows_by_factor_and_jitter_spans_its_upper_half() {
        let b = Backoff::default();
        for (attempt, ceiling) in [(0, 10), (1, 20), (2, 40), (3, 80), (4, 160)] {
            assert_eq!(b.delay(attempt, 0.0), ms(ceiling) / 2, "attempt {attempt}");
            assert_eq!(
                b.delay(attempt, 0.5),
                ms(ceiling) * 3 / 4,
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn ceiling_is_capped_at_max() {
        let b = Backoff::default();
        for attempt in [5, 6, 10, 31] {
            assert_eq!(b.delay(attempt, 0.0), ms(100), "attempt {attempt}");
        }
        let over = Backoff {
            base: ms(500),
            ..Backoff::default()
        };
        assert_eq!(over.delay(0, 0.0), ms(100));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let b = Backoff::default();
        let just_below_one = 1.0 - f64::EPSILON;
        assert!(b.delay(4, just_below_one) <= ms(160));
        assert!(b.delay(4, just_below_one) >= ms(159));
        assert_eq!(b.delay(4, 7.0), ms(160));
        assert_eq!(b.delay(4, -3.0), ms(80));
        assert_eq!(b.delay(4, f64::NAN), ms(80));
    }

    #[test]
    fn huge_attempts_never_overflow() {
        let b = Backoff::default();
        for attempt in [
            64,
            1_000,
            1_025,
            i32::MAX as u32,
            i32::MAX as u32 + 1,
            u32::MAX,
        ] {
            assert_eq!(b.delay(attempt, 0.0), ms(100), "attempt {attempt}");
            assert_eq!(
                b.delay(attempt, 0.999),
                Duration::from_micros(199_900),
                "attempt {attempt}"
            );
        }
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
            factor: 1e300,
        };
        assert_eq!(huge.delay(u32::MAX, 0.999), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn odd_factors_stay_in_range() {
        let shrink = Backoff {
            factor: 0.5,
            ..Backoff::default()
        };
        assert_eq!(shrink.delay(1, 0.0), Duration::from_micros(2_500));
        assert_eq!(shrink.delay(u32::MAX, 0.0), Duration::ZERO);
        let negative = Backoff {
            factor: -2.0,
            ..Backoff::default()
        };
        assert_eq!(negative.delay(1, 0.5), Duration::ZERO);
        let nan = Backoff {
            factor: f64::NAN,
            ..Backoff::default()
        };
        assert_eq!(nan.delay(3, 0.0), ms(100));
        let zero = Backoff {
            base: Duration::ZERO,
            ..Backoff::default()
        };
        assert_eq!(zero.delay(u32::MAX, 0.5), Duration::ZERO);
    }

    #[test]
    fn random_delay_stays_within_bounds() {
        let b = Backoff::default();
        for attempt in [0, 2, 40] {
            let ceiling = b.delay(attempt, 0.0) * 2;
            for _ in 0..200 {
                let d = b.delay_random(attempt);
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
            }
        }
    }
}
