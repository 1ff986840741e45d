//! Hand-computed cases of the medians, the bootstrap intervals and the deltas.

use super::*;

#[test]
fn medians_of_odd_and_even_counts() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[f64::NAN, 7.0]), Some(7.0));
}

#[test]
fn one_value_has_no_interval() {
    let e = estimate(&[42.0], 0.95).unwrap();
    assert_eq!((e.median, e.low, e.high, e.n), (42.0, 42.0, 42.0, 1));
    assert_eq!(e.text(1), "42.0 (n=1)");
    assert!(estimate(&[], 0.95).is_none());
}

#[test]
fn equal_values_give_a_point_interval() {
    let e = estimate(&[5.0, 5.0, 5.0], 0.95).unwrap();
    assert_eq!((e.median, e.low, e.high, e.n), (5.0, 5.0, 5.0, 3));
    assert_eq!(e.text(0), "5 [5–5]");
}

#[test]
fn two_values_span_both_at_95_and_meet_in_the_middle_at_40() {
    // Resample medians of {10, 20}: 10 (p 1/4), 15 (p 1/2), 20 (p 1/4).
    let e = estimate(&[10.0, 20.0], 0.95).unwrap();
    assert_eq!((e.median, e.low, e.high), (15.0, 10.0, 20.0));
    // The 30 % and 70 % quantiles both fall on 15 (25 % < 30 %, 75 % > 70 %).
    let e = estimate(&[10.0, 20.0], 0.4).unwrap();
    assert_eq!((e.low, e.high), (15.0, 15.0));
}

#[test]
fn three_values_span_min_to_max_at_95() {
    // P(resample median = min) = 3·(1/3)²·(2/3) + (1/3)³ = 7/27 ≈ 0.26 > 0.025.
    let e = estimate(&[3.0, 1.0, 2.0], 0.95).unwrap();
    assert_eq!((e.median, e.low, e.high), (2.0, 1.0, 3.0));
}

#[test]
fn many_values_give_an_interval_narrower_than_their_range() {
    // For n = 20 the distribution-free 95 % interval of the median runs from about the 6th
    // to the 15th value; the bootstrap lands near it.
    let values: Vec<f64> = (1..=20).map(f64::from).collect();
    let e = estimate(&values, 0.95).unwrap();
    assert_eq!(e.median, 10.5);
    assert!((5.0..=8.0).contains(&e.low), "{e:?}");
    assert!((13.0..=16.0).contains(&e.high), "{e:?}");
}

#[test]
fn a_clear_difference_is_outside_the_noise() {
    let d = delta(&[10.0, 10.0, 10.0], &[20.0, 20.0, 20.0], 0.95).unwrap();
    assert_eq!((d.delta, d.low, d.high), (10.0, 10.0, 10.0));
    assert!(!d.inside_noise());
    let d = delta(&[10.0, 11.0, 12.0], &[5.0, 6.0, 7.0], 0.95).unwrap();
    assert_eq!(d.delta, -5.0);
    assert!(d.high < 0.0 && !d.inside_noise(), "{d:?}");
}

#[test]
fn overlapping_runs_are_inside_the_noise() {
    // B* − A* medians range over {−10, −5, 0, 5, 10}; 0 is always inside.
    let d = delta(&[10.0, 20.0], &[10.0, 20.0], 0.95).unwrap();
    assert_eq!((d.delta, d.low, d.high), (0.0, -10.0, 10.0));
    assert!(d.inside_noise());
}

#[test]
fn one_repetition_cannot_be_told_from_noise() {
    let d = delta(&[10.0], &[30.0, 31.0], 0.95).unwrap();
    assert_eq!(d.delta, 20.5);
    assert!(!d.has_interval && d.inside_noise());
    assert!(delta(&[], &[1.0], 0.95).is_none());
}

#[test]
fn the_same_values_always_give_the_same_interval() {
    let values = [3.0, 9.0, 4.0, 7.0, 5.0];
    assert_eq!(estimate(&values, 0.9), estimate(&values, 0.9));
}

#[test]
fn a_ratio_is_the_difference_of_logarithms_turned_back() {
    let r = ratio(&[10.0, 10.0, 10.0], &[20.0, 20.0, 20.0], 0.95).unwrap();
    assert!(
        (r.median - 2.0).abs() < 1e-9 && (r.low - 2.0).abs() < 1e-9,
        "{r:?}"
    );
    assert_eq!(r.n, 3);
    let r = ratio(&[10.0, 12.0, 14.0], &[10.0, 12.0, 14.0], 0.95).unwrap();
    assert!(
        r.low < 1.0 && r.high > 1.0 && (r.median - 1.0).abs() < 1e-9,
        "{r:?}"
    );
    let r = ratio(&[10.0], &[30.0], 0.95).unwrap();
    assert_eq!((r.median, r.n), (3.0, 1));
    assert!(
        ratio(&[0.0], &[1.0], 0.95).is_none(),
        "no positive baseline"
    );
}
