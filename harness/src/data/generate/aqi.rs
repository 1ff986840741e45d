//! The EPA Air Quality Index: breakpoint tables and the piecewise-linear index they define.

/// An AQI segment: concentrations `.0..=.1` map linearly onto indexes `.2..=.3`.
pub(super) struct Segment(f64, f64, f64, f64);

/// EPA PM2.5 (24-h, 2012) breakpoints, µg/m³.
pub(super) const PM25: &[Segment] = &[
    Segment(0.0, 12.0, 0.0, 50.0),
    Segment(12.1, 35.4, 51.0, 100.0),
    Segment(35.5, 55.4, 101.0, 150.0),
    Segment(55.5, 150.4, 151.0, 200.0),
    Segment(150.5, 250.4, 201.0, 300.0),
    Segment(250.5, 350.4, 301.0, 400.0),
    Segment(350.5, 500.4, 401.0, 500.0),
];
/// EPA PM10 breakpoints, µg/m³.
pub(super) const PM10: &[Segment] = &[
    Segment(0.0, 54.0, 0.0, 50.0),
    Segment(55.0, 154.0, 51.0, 100.0),
    Segment(155.0, 254.0, 101.0, 150.0),
    Segment(255.0, 354.0, 151.0, 200.0),
    Segment(355.0, 424.0, 201.0, 300.0),
    Segment(425.0, 504.0, 301.0, 400.0),
    Segment(505.0, 604.0, 401.0, 500.0),
];
/// EPA ozone (8-h) breakpoints, ppb.
pub(super) const OZONE: &[Segment] = &[
    Segment(0.0, 54.0, 0.0, 50.0),
    Segment(55.0, 70.0, 51.0, 100.0),
    Segment(71.0, 85.0, 101.0, 150.0),
    Segment(86.0, 105.0, 151.0, 200.0),
    Segment(106.0, 200.0, 201.0, 300.0),
];
/// EPA NO2 (1-h) breakpoints, ppb.
pub(super) const NO2: &[Segment] = &[
    Segment(0.0, 53.0, 0.0, 50.0),
    Segment(54.0, 100.0, 51.0, 100.0),
    Segment(101.0, 360.0, 101.0, 150.0),
    Segment(361.0, 649.0, 151.0, 200.0),
    Segment(650.0, 1249.0, 201.0, 300.0),
];
/// EPA SO2 (1-h) breakpoints, ppb.
pub(super) const SO2: &[Segment] = &[
    Segment(0.0, 35.0, 0.0, 50.0),
    Segment(36.0, 75.0, 51.0, 100.0),
    Segment(76.0, 185.0, 101.0, 150.0),
    Segment(186.0, 304.0, 151.0, 200.0),
    Segment(305.0, 604.0, 201.0, 300.0),
];

/// AQI and category of `concentration` (already truncated to the parameter's precision);
/// past the last breakpoint the last segment is extended, as the feed's values above 500 show.
/// `None` when `segments` is empty.
pub(super) fn index(segments: &[Segment], concentration: f64) -> Option<(i64, i64)> {
    let Segment(lo, hi, aqi_lo, aqi_hi) = segments
        .iter()
        .find(|s| concentration <= s.1)
        .or(segments.last())?;
    let index = aqi_lo + (aqi_hi - aqi_lo) * (concentration - lo) / (hi - lo);
    let index = index.round().max(0.0) as i64;
    Some((index, category(index)))
}

/// AQI category: 1 good … 6 hazardous.
fn category(aqi: i64) -> i64 {
    match aqi {
        ..=50 => 1,
        51..=100 => 2,
        101..=150 => 3,
        151..=200 => 4,
        201..=300 => 5,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_map_their_ends() {
        assert_eq!(index(PM25, 12.0), Some((50, 1)));
        assert_eq!(index(PM25, 12.1), Some((51, 2)));
        assert_eq!(index(PM25, 55.5), Some((151, 4)));
        assert_eq!(index(OZONE, 70.0), Some((100, 2)));
        assert_eq!(index(PM10, 0.0), Some((0, 1)));
        assert_eq!(index(&[], 5.0), None);
    }

    #[test]
    fn index_extrapolates_past_the_last_breakpoint() {
        let (aqi, category) = index(PM25, 600.0).expect("segments");
        assert!(aqi > 500 && category == 6, "{aqi}");
        assert_eq!(super::category(300), 5);
        assert_eq!(super::category(301), 6);
    }
}
