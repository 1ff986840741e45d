//! The hedge budget: a token bucket that every call sent fills by the allowed share and every
//! hedge empties by one, so hedges stay near that share of calls however slow the cluster is.

/// Tokens for hedges.
#[derive(Clone, Debug)]
pub struct HedgeBudget {
    tokens: f64,
    share: f64,
    burst: f64,
}

impl HedgeBudget {
    /// A full bucket of `burst` tokens, filled by `share` per call.
    pub fn new(share: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            tokens: burst,
            share: share.clamp(0.0, 1.0),
            burst,
        }
    }

    /// One call was sent.
    pub fn on_call(&mut self) {
        self.tokens = (self.tokens + self.share).min(self.burst);
    }

    /// Takes a token for one hedge; `false` (nothing taken) when the bucket is empty.
    pub fn try_take(&mut self) -> bool {
        self.try_take_n(1)
    }

    /// Takes `n` tokens at once (a hedge of `n` calls), or none.
    pub fn try_take_n(&mut self, n: u32) -> bool {
        let n = f64::from(n);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hedges_stay_within_the_share_of_calls_plus_the_burst() {
        let mut budget = HedgeBudget::new(0.05, 10);
        let mut hedged = 0;
        // Every call wants a hedge (a cluster-wide slowdown): the burst, then one in twenty.
        for _ in 0..10_000 {
            budget.on_call();
            if budget.try_take() {
                hedged += 1;
            }
        }
        assert!((500..=511).contains(&hedged), "{hedged}");
        // A calm period refills the bucket to the burst, no further.
        for _ in 0..100_000 {
            budget.on_call();
        }
        let burst = (0..100).take_while(|_| budget.try_take()).count();
        assert_eq!(burst, 10);
    }

    #[test]
    fn a_zero_share_allows_only_the_first_burst() {
        let mut budget = HedgeBudget::new(0.0, 2);
        for _ in 0..1000 {
            budget.on_call();
        }
        assert!(!budget.try_take_n(3));
        assert!(budget.try_take() && budget.try_take() && !budget.try_take());
    }
}
