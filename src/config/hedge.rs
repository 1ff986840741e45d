//! The `hedge` block: hedged slice calls and outlier ejection (tail tolerance).
//!
//! Every key is optional; a config without the block hedges with the defaults below. Values
//! out of range (negative delays, shares above 1, a floor above the cap) are refused naming the
//! key.

use serde::{Deserialize, Serialize};

/// Keys of the `hedge` block.
pub(super) const HEDGE_KEYS: &[&str] = &[
    "enabled",
    "delay_floor_ms",
    "delay_cap_ms",
    "budget_share",
    "budget_burst",
    "eject_ratio",
    "eject_after_ms",
    "eject_lost_hedges",
    "eject_for_ms",
    "max_ejected_share",
];

/// Longest delay or duration a hedge setting may name, ms.
const MAX_MS: i64 = 600_000;

/// The `hedge` block as written.
#[derive(Debug, Default, Deserialize)]
pub struct RawHedge {
    /// Default true.
    pub enabled: Option<bool>,
    /// Default 5.
    pub delay_floor_ms: Option<i64>,
    /// Default 100.
    pub delay_cap_ms: Option<i64>,
    /// Default 0.05.
    pub budget_share: Option<f64>,
    /// Default 10.
    pub budget_burst: Option<i64>,
    /// Default 5.
    pub eject_ratio: Option<f64>,
    /// Default 3000.
    pub eject_after_ms: Option<i64>,
    /// Default 5.
    pub eject_lost_hedges: Option<i64>,
    /// Default 5000.
    pub eject_for_ms: Option<i64>,
    /// Default 0.5.
    pub max_ejected_share: Option<f64>,
}

/// Hedged slice calls and outlier ejection (the `hedge` block).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hedge {
    /// Whether slow slice calls are hedged and slow peers ejected at all.
    pub enabled: bool,
    /// Least hedge delay, ms: a call is never hedged sooner.
    pub delay_floor_ms: u64,
    /// Most hedge delay, ms (also the delay toward a peer with no recent answers).
    pub delay_cap_ms: u64,
    /// Hedges allowed per call sent, long-run (a token bucket filled by this much per call).
    pub budget_share: f64,
    /// Hedges the bucket holds at most (a burst after a calm period).
    pub budget_burst: u32,
    /// A peer whose median answer time is this many times its team's median is slow.
    pub eject_ratio: f64,
    /// How long a peer must stay slow before it is ejected, ms.
    pub eject_after_ms: u64,
    /// Hedges in a row a peer loses (it did not answer before the other holder) that eject it
    /// at once.
    pub eject_lost_hedges: u32,
    /// How long an ejected peer is routed around before it is tried again, ms.
    pub eject_for_ms: u64,
    /// Most of a team that may be ejected at once (at least one member may always be).
    pub max_ejected_share: f64,
}

impl Default for Hedge {
    fn default() -> Self {
        Self {
            enabled: true,
            delay_floor_ms: 5,
            delay_cap_ms: 100,
            budget_share: 0.05,
            budget_burst: 10,
            eject_ratio: 5.0,
            eject_after_ms: 3000,
            eject_lost_hedges: 5,
            eject_for_ms: 5000,
            max_ejected_share: 0.5,
        }
    }
}

impl Hedge {
    /// Checks the relations between the settings; `name` spells a key as the caller knows it
    /// (`hedge.delay_cap_ms`, or a flag).
    pub fn check(&self, name: impl Fn(&str) -> String) -> Result<(), String> {
        if self.delay_floor_ms > self.delay_cap_ms {
            return Err(format!(
                "{} is {} but {} is {}; the floor must not exceed the cap",
                name("delay_floor_ms"),
                self.delay_floor_ms,
                name("delay_cap_ms"),
                self.delay_cap_ms
            ));
        }
        for (key, value) in [
            ("budget_share", self.budget_share),
            ("max_ejected_share", self.max_ejected_share),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("{} is {value}; it must lie in [0, 1]", name(key)));
            }
        }
        if !(self.eject_ratio > 1.0 && self.eject_ratio <= 1000.0) {
            return Err(format!(
                "{} is {}; it must lie in (1, 1000]",
                name("eject_ratio"),
                self.eject_ratio
            ));
        }
        Ok(())
    }
}

/// Validates the block, naming the key of the first value out of range.
pub(super) fn validate_hedge(raw: &RawHedge) -> Result<Hedge, String> {
    let d = Hedge::default();
    let ms = |key: &str, value: Option<i64>, default: u64, min: i64| match value {
        None => Ok(default),
        Some(v) if (min..=MAX_MS).contains(&v) => Ok(v as u64),
        Some(v) => Err(format!(
            "hedge.{key} is {v}; it must be a whole number of ms from {min} to {MAX_MS}"
        )),
    };
    let count = |key: &str, value: Option<i64>, default: u32| match value {
        None => Ok(default),
        Some(v) if (1..=10_000).contains(&v) => Ok(v as u32),
        Some(v) => Err(format!(
            "hedge.{key} is {v}; it must be a whole number from 1 to 10000"
        )),
    };
    let hedge = Hedge {
        enabled: raw.enabled.unwrap_or(d.enabled),
        delay_floor_ms: ms("delay_floor_ms", raw.delay_floor_ms, d.delay_floor_ms, 0)?,
        delay_cap_ms: ms("delay_cap_ms", raw.delay_cap_ms, d.delay_cap_ms, 1)?,
        budget_share: raw.budget_share.unwrap_or(d.budget_share),
        budget_burst: count("budget_burst", raw.budget_burst, d.budget_burst)?,
        eject_ratio: raw.eject_ratio.unwrap_or(d.eject_ratio),
        eject_after_ms: ms("eject_after_ms", raw.eject_after_ms, d.eject_after_ms, 0)?,
        eject_lost_hedges: count(
            "eject_lost_hedges",
            raw.eject_lost_hedges,
            d.eject_lost_hedges,
        )?,
        eject_for_ms: ms("eject_for_ms", raw.eject_for_ms, d.eject_for_ms, 1)?,
        max_ejected_share: raw.max_ejected_share.unwrap_or(d.max_ejected_share),
    };
    hedge.check(|key| format!("hedge.{key}"))?;
    Ok(hedge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawHedge {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_absent_block_gives_the_defaults() {
        assert_eq!(validate_hedge(&raw("{}")).unwrap(), Hedge::default());
        let h = validate_hedge(&raw(
            r#"{"enabled": false, "delay_floor_ms": 0, "delay_cap_ms": 0, "budget_share": 1, "max_ejected_share": 0}"#,
        ));
        assert!(h.is_err(), "a cap of 0 is refused");
        let h = validate_hedge(&raw(
            r#"{"enabled": false, "delay_floor_ms": 0, "delay_cap_ms": 1, "budget_share": 1, "max_ejected_share": 0}"#,
        ))
        .unwrap();
        assert!(!h.enabled);
        assert_eq!((h.delay_floor_ms, h.delay_cap_ms), (0, 1));
    }

    #[test]
    fn values_out_of_range_are_refused_naming_the_key() {
        for (json, key) in [
            (r#"{"delay_floor_ms": -1}"#, "hedge.delay_floor_ms is -1"),
            (r#"{"delay_cap_ms": -20}"#, "hedge.delay_cap_ms is -20"),
            (r#"{"eject_for_ms": 0}"#, "hedge.eject_for_ms is 0"),
            (r#"{"budget_share": 1.5}"#, "hedge.budget_share is 1.5"),
            (r#"{"budget_share": -0.1}"#, "hedge.budget_share is -0.1"),
            (
                r#"{"max_ejected_share": 2}"#,
                "hedge.max_ejected_share is 2",
            ),
            (r#"{"eject_ratio": 1}"#, "hedge.eject_ratio is 1"),
            (r#"{"budget_burst": 0}"#, "hedge.budget_burst is 0"),
            (
                r#"{"delay_floor_ms": 50, "delay_cap_ms": 20}"#,
                "hedge.delay_floor_ms is 50 but hedge.delay_cap_ms is 20",
            ),
        ] {
            let err = validate_hedge(&raw(json)).unwrap_err();
            assert!(err.contains(key), "{json}: {err}");
        }
    }
}
