//! Pairing of steps and marking of noise in `compare.md`.

use super::*;
use crate::results::fixture::{run, step, strategy};

/// The table row of `figure` for `strategy` at `level`.
fn row<'a>(md: &'a str, strategy: &str, level: u32, figure: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(&format!("| {strategy} | {level} | {figure} |")))
        .unwrap_or_else(|| panic!("no row {strategy} {level} {figure} in\n{md}"))
}

#[test]
fn steps_are_paired_by_strategy_and_level_and_the_rest_listed() {
    let a = run(
        "a",
        vec![
            strategy("fair_queue", vec![step(4, 0, 10), step(48, 0, 100)]),
            strategy("strict", vec![step(48, 0, 100)]),
        ],
    );
    let b = run("b", vec![strategy("fair_queue", vec![step(48, 0, 130)])]);
    let md = compare(&[a, b], &[("b".into(), Vec::new())]);
    assert!(
        row(&md, "fair_queue", 48, "ok/s").contains("+30.0 (no interval)"),
        "{md}"
    );
    assert!(
        row(&md, "fair_queue", 48, "ok/s").ends_with("| noise |"),
        "{md}"
    );
    assert!(!md.contains("| fair_queue | 4 |"), "{md}");
    assert!(
        md.contains("Only in a: fair_queue at 4, strict at 48."),
        "{md}"
    );
}

#[test]
fn a_difference_beyond_the_intervals_is_marked_and_overlap_is_noise() {
    let reps = |oks: [u64; 3]| {
        strategy(
            "fair_queue",
            oks.iter()
                .enumerate()
                .map(|(i, ok)| step(48, i as u32, *ok))
                .collect(),
        )
    };
    let a = run("a", vec![reps([100, 104, 102])]);
    let same = run("b", vec![reps([103, 99, 101])]);
    let faster = run("c", vec![reps([200, 204, 202])]);
    let md = compare(
        &[a, same, faster],
        &[("b".into(), Vec::new()), ("c".into(), Vec::new())],
    );
    let mut sections = md.split("## ");
    let (vs_b, vs_c) = (
        sections.find(|s| s.starts_with("b vs a")).unwrap(),
        md.split("## ").find(|s| s.starts_with("c vs a")).unwrap(),
    );
    let b_row = row(vs_b, "fair_queue", 48, "ok/s");
    assert!(
        b_row.contains("102.0 [100.0–104.0]") && b_row.contains("101.0 [99.0–103.0]"),
        "{b_row}"
    );
    assert!(b_row.ends_with("| noise |"), "{b_row}");
    let c_row = row(vs_c, "fair_queue", 48, "ok/s");
    assert!(c_row.contains("+100.0 ["), "{c_row}");
    assert!(c_row.ends_with("| **differs** |"), "{c_row}");
}

#[test]
fn differing_settings_head_the_page_as_a_warning() {
    let md = compare(
        &[run("a", Vec::new()), run("b", Vec::new())],
        &[("b".into(), vec!["machine CPUs: 2 vs 8".into()])],
    );
    let warning = md.find("**WARNING: `b` differs").expect("warning");
    assert!(warning < md.find("## b vs a").unwrap());
    assert!(md.contains("- machine CPUs: 2 vs 8"));
}
