//! Per-parameter value models: concentrations, raw readings, missing markers, wildfire smoke;
//! the AQI itself comes from the breakpoint tables in `aqi`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::aqi::{self, Segment};
use super::sites::Site;

/// The feed's marker for a missing AQI or category (and, times ten, for a missing value).
pub(crate) const MISSING: i64 = -999;
/// [`MISSING`] in tenths, the unit values and raw concentrations are kept in.
pub(crate) const MISSING_TENTHS: i64 = MISSING * 10;
/// Largest value written (9999.9): above the real maximum (7,294) so tails look real, and it
/// keeps one absurd draw from printing an absurd number.
const MAX_TENTHS: i64 = 99_999;
/// Typical multiplier of a smoke-affected site-day on PM (median of a log-normal).
const SMOKE_MEDIAN: f64 = 4.0;
/// Log-normal spread of the smoke multiplier: wide, so a few site-days reach the hundreds.
const SMOKE_SIGMA: f64 = 0.8;
/// Hash tags keeping the per-day hashes of the smoke model independent of each other.
const TAG_REGION: u64 = 0x5EED_0001;
/// See [`TAG_REGION`].
const TAG_SITE: u64 = 0x5EED_0002;
/// See [`TAG_REGION`].
const TAG_LEVEL: u64 = 0x5EED_0003;

/// The six pollutants of the feed, in the order a site's rows are written (alphabetical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// Carbon monoxide, PPM; the feed gives it no AQI.
    Co,
    /// Nitrogen dioxide, PPB.
    No2,
    /// Ozone, PPB, whole numbers.
    Ozone,
    /// Coarse particles, UG/M3, whole numbers.
    Pm10,
    /// Fine particles, UG/M3.
    Pm25,
    /// Sulfur dioxide, PPB.
    So2,
}

impl Param {
    /// Number of parameters.
    pub(crate) const COUNT: usize = 6;
    /// All parameters in row order.
    pub(crate) const ALL: [Param; Param::COUNT] = [
        Param::Co,
        Param::No2,
        Param::Ozone,
        Param::Pm10,
        Param::Pm25,
        Param::So2,
    ];

    /// Position in [`Param::ALL`], for per-parameter arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The parameter field text (`PM2.5`).
    pub(crate) fn label(self) -> &'static str {
        self.spec().label
    }

    /// The unit field text.
    pub(crate) fn unit(self) -> &'static str {
        self.spec().unit
    }

    /// How this parameter's numbers are drawn.
    fn spec(self) -> &'static Spec {
        &SPECS[self.index()]
    }
}

/// How one parameter's numbers are drawn.
struct Spec {
    /// The parameter field text.
    label: &'static str,
    /// The unit field text.
    unit: &'static str,
    /// Concentration of a typical site at a typical hour, in the unit.
    median: f64,
    /// Log-normal spread of site levels (some sites are dirtier than others).
    site_sigma: f64,
    /// Log-normal hour-to-hour spread.
    sigma: f64,
    /// Exponent on the smoke multiplier: 1 = fully smoke-driven, 0 = unaffected.
    smoke_weight: f64,
    /// Multiplier per file hour (UTC 01, 03, …, 23).
    diurnal: &'static [f64; 12],
    /// Reported in whole units (`31.0`), as the feed does for OZONE and PM10.
    whole: bool,
    /// The AQI uses the value to 0.1 (PM2.5) rather than truncated to a whole unit (EPA rule).
    aqi_tenths: bool,
    /// Log-normal spread of the raw concentration around the value; 0 = raw equals value.
    raw_sigma: f64,
    /// Share of rows whose value is -999 (real per-parameter rates).
    missing_value: f64,
    /// Share of valid rows whose raw concentration is -999 (real per-parameter rates).
    missing_raw: f64,
    /// Share of rows with a small negative reading (instrument zero drift, as in the feed).
    negative: f64,
    /// EPA breakpoints; empty = the feed writes -999 for AQI and category (CO).
    segments: &'static [Segment],
}

/// Flat diurnal profile: PM, SO2 and CO hourly cycles are weak next to their noise.
const FLAT: [f64; 12] = [1.0; 12];
/// Ozone peaks mid-afternoon local time (UTC 21–23 is 14–16 PDT) and bottoms out at dawn.
const OZONE_DAY: [f64; 12] = [
    1.2, 0.9, 0.72, 0.62, 0.56, 0.5, 0.45, 0.6, 0.95, 1.3, 1.5, 1.45,
];
/// NO2 is a traffic gas: high overnight and at rush hour, diluted in the afternoon.
const NO2_DAY: [f64; 12] = [
    0.8, 1.0, 1.15, 1.2, 1.15, 1.1, 1.25, 1.3, 0.95, 0.75, 0.65, 0.7,
];

/// Parameter specs in [`Param::ALL`] order; medians and spreads tuned so percentiles land
/// near the real ones (e.g. PM2.5 p50 8.6, p90 36.5, p99 241; OZONE p50 27, p90 50).
#[rustfmt::skip]
const SPECS: [Spec; Param::COUNT] = [
    Spec {
        label: "CO", unit: "PPM", median: 0.28, site_sigma: 0.3, sigma: 0.4, smoke_weight: 0.3,
        diurnal: &NO2_DAY, whole: false, aqi_tenths: false, raw_sigma: 0.0,
        missing_value: 0.0, missing_raw: 0.0, negative: 0.0, segments: &[],
    },
    Spec {
        label: "NO2", unit: "PPB", median: 5.2, site_sigma: 0.7, sigma: 0.5, smoke_weight: 0.0,
        diurnal: &NO2_DAY, whole: false, aqi_tenths: false, raw_sigma: 0.0,
        missing_value: 0.0, missing_raw: 0.0, negative: 0.007, segments: aqi::NO2,
    },
    Spec {
        label: "OZONE", unit: "PPB", median: 31.0, site_sigma: 0.16, sigma: 0.21, smoke_weight: 0.1,
        diurnal: &OZONE_DAY, whole: true, aqi_tenths: false, raw_sigma: 0.15,
        missing_value: 0.0165, missing_raw: 0.0188, negative: 0.0, segments: aqi::OZONE,
    },
    Spec {
        label: "PM10", unit: "UG/M3", median: 23.0, site_sigma: 0.4, sigma: 0.55, smoke_weight: 0.5,
        diurnal: &FLAT, whole: true, aqi_tenths: false, raw_sigma: 0.25,
        missing_value: 0.0018, missing_raw: 0.0040, negative: 0.0, segments: aqi::PM10,
    },
    Spec {
        label: "PM2.5", unit: "UG/M3", median: 7.5, site_sigma: 0.45, sigma: 0.45, smoke_weight: 1.0,
        diurnal: &FLAT, whole: false, aqi_tenths: true, raw_sigma: 0.2,
        missing_value: 0.0024, missing_raw: 0.0064, negative: 0.0, segments: aqi::PM25,
    },
    Spec {
        label: "SO2", unit: "PPB", median: 0.4, site_sigma: 0.7, sigma: 0.9, smoke_weight: 0.0,
        diurnal: &FLAT, whole: false, aqi_tenths: false, raw_sigma: 0.0,
        missing_value: 0.0, missing_raw: 0.0, negative: 0.035, segments: aqi::SO2,
    },
];

/// One row's numbers; value and raw in tenths of the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Reported value in tenths (-9990 = missing).
    pub(crate) value: i64,
    /// Raw concentration in tenths (-9990 = missing).
    pub(crate) raw: i64,
    /// AQI, or -999.
    pub(crate) aqi: i64,
    /// AQI category 1–6, or -999.
    pub(crate) category: i64,
}

/// What the file's hour and the site's day contribute to all of that site's rows in a file.
pub(crate) struct Conditions {
    /// Position of the file's hour in the day's 12 files.
    pub(crate) slot: usize,
    /// Wildfire smoke multiplier for the site that day (1 = no smoke).
    pub(crate) smoke: f64,
}

/// Draws one row's numbers for `param` at `site` under `conditions`.
pub(crate) fn sample(
    rng: &mut ChaCha8Rng,
    site: &Site,
    conditions: &Conditions,
    param: Param,
) -> Reading {
    let spec = param.spec();
    let concentration = spec.median
        * site.levels[param.index()]
        * spec.diurnal[conditions.slot % 12]
        * conditions.smoke.powf(spec.smoke_weight)
        * (spec.sigma * normal(rng)).exp();
    let roll: f64 = rng.random();
    if roll < spec.missing_value {
        // The feed keeps the raw concentration when it withholds the value.
        let raw = raw_tenths(rng, spec, concentration);
        return Reading {
            value: MISSING_TENTHS,
            raw,
            aqi: MISSING,
            category: MISSING,
        };
    }
    if roll < spec.missing_value + spec.negative {
        let value = small_negative(rng);
        return Reading {
            value,
            raw: value,
            aqi: 0,
            category: 1,
        };
    }
    let value = tenths(concentration, spec.whole);
    let raw = if rng.random::<f64>() < spec.missing_raw {
        MISSING_TENTHS
    } else if spec.raw_sigma == 0.0 {
        value
    } else {
        raw_tenths(rng, spec, concentration)
    };
    let (aqi, category) = aqi_of(spec, value);
    Reading {
        value,
        raw,
        aqi,
        category,
    }
}

/// A site's level multiplier for `param` (log-normal around 1).
pub(crate) fn site_level(rng: &mut ChaCha8Rng, param: Param) -> f64 {
    (param.spec().site_sigma * normal(rng)).exp()
}

/// How widespread smoke is on a date: the 2020 season had the August lightning complexes and
/// the much worse Labor Day fires (Sept 7–18). Mean ≈ 0.14 over the 43 dates, tuned so
/// PM2.5 p90/p95/p99 land near the real 36.5/71/241.
pub(crate) fn fire_intensity(month: u32, day: u32) -> f64 {
    match (month, day) {
        (8, 0..=16) => 0.02,
        (8, _) => 0.12,
        (9, 0..=6) => 0.08,
        (9, 7..=18) => 0.25,
        _ => 0.08,
    }
}

/// Smoke multiplier for `site` on day `day`: a regional draw (per agency) sets how smoky the
/// area is, a site draw decides whether this site is in it, a third sets how thick it is.
/// Hash-based so every file of that day sees the same smoke.
pub(crate) fn smoke_factor(seed: u64, day: u64, intensity: f64, site: &Site) -> f64 {
    let regional = unit_hash(seed, TAG_REGION, site.agency, day);
    let chance = (intensity * site.smoke_exposure * 2.0 * regional).min(0.95);
    if unit_hash(seed, TAG_SITE, site.id, day) >= chance {
        return 1.0;
    }
    let u1 = 1.0 - unit_hash(seed, TAG_LEVEL, site.id, day);
    let u2 = unit_hash(seed, TAG_LEVEL ^ 1, site.id, day);
    (SMOKE_MEDIAN * (SMOKE_SIGMA * box_muller(u1, u2)).exp()).max(1.0)
}

/// A standard normal draw.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    box_muller(u1, rng.random())
}

/// Box–Muller transform of `u1` in (0, 1] and `u2` in [0, 1).
fn box_muller(u1: f64, u2: f64) -> f64 {
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A uniform in [0, 1) determined by (`seed`, `tag`, `a`, `b`) alone.
fn unit_hash(seed: u64, tag: u64, a: u64, b: u64) -> f64 {
    let h = mix(seed ^ mix(tag ^ mix(a.wrapping_mul(0x9E37_79B9) ^ mix(b))));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A raw concentration scattered around `concentration`.
fn raw_tenths(rng: &mut ChaCha8Rng, spec: &Spec, concentration: f64) -> i64 {
    tenths(
        concentration * (spec.raw_sigma * normal(rng)).exp(),
        spec.whole,
    )
}

/// -0.1 … -0.4 with the feed's mostly-tiny shape (-0.1 half the time).
fn small_negative(rng: &mut ChaCha8Rng) -> i64 {
    match rng.random::<f64>() {
        u if u < 0.5 => -1,
        u if u < 0.8 => -2,
        u if u < 0.95 => -3,
        _ => -4,
    }
}

/// `concentration` in tenths, rounded to a whole unit first when the parameter is whole.
fn tenths(concentration: f64, whole: bool) -> i64 {
    let value = if whole {
        concentration.round() * 10.0
    } else {
        (concentration * 10.0).round()
    };
    (value as i64).clamp(0, MAX_TENTHS)
}

/// AQI and category of a value in tenths, truncated the EPA way first; -999 for both when
/// the parameter has no breakpoints.
fn aqi_of(spec: &Spec, value: i64) -> (i64, i64) {
    let truncated = if spec.aqi_tenths {
        value as f64 / 10.0
    } else {
        (value / 10) as f64
    };
    aqi::index(spec.segments, truncated).unwrap_or((MISSING, MISSING))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aqi_matches_real_rows() {
        // From the real feed: PM2.5 17.3 → 62, OZONE 31 → 29, PM10 48 → 44, NO2 6.6 → 6.
        assert_eq!(aqi_of(Param::Pm25.spec(), 173), (62, 2));
        assert_eq!(aqi_of(Param::Ozone.spec(), 310), (29, 1));
        assert_eq!(aqi_of(Param::Pm10.spec(), 480), (44, 1));
        assert_eq!(aqi_of(Param::No2.spec(), 66), (6, 1));
        assert_eq!(aqi_of(Param::So2.spec(), 6), (0, 1));
        assert_eq!(aqi_of(Param::Co.spec(), 2), (MISSING, MISSING));
    }

    #[test]
    fn tenths_rounds_and_clamps() {
        assert_eq!(tenths(30.6, true), 310);
        assert_eq!(tenths(17.26, false), 173);
        assert_eq!(tenths(-3.0, false), 0);
        assert_eq!(tenths(1e9, false), MAX_TENTHS);
    }

    #[test]
    fn hashes_are_uniform_and_stable() {
        let draws: Vec<f64> = (0..1000).map(|i| unit_hash(1, 2, i, 3)).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f64>() / 1000.0;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        assert_eq!(unit_hash(1, 2, 3, 4), unit_hash(1, 2, 3, 4));
    }
}
