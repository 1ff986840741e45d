//! Merging, per-repetition figures and the sameness check of compared runs.

use super::fixture::{run, step, strategy};
use super::*;
use crate::verdict::Verdict;

#[test]
fn merged_steps_keep_their_verdicts_and_partial_answers() {
    let mut step = StepMeasure {
        partial: 2,
        retried: 1,
        ..Default::default()
    };
    step.correctness.add(Verdict::Correct, None);
    step.correctness
        .add(Verdict::Wrong, Some("off by one".to_string()));
    let mut total = StepMeasure::default();
    merge_into(&mut total, &step);
    merge_into(&mut total, &step);
    assert_eq!((total.partial, total.retried), (4, 2));
    let c = &total.correctness;
    assert_eq!((c.checked, c.correct, c.wrong), (4, 2, 2));
    assert_eq!(c.examples.len(), 2);
}

#[test]
fn each_repetition_gives_one_value_and_the_median_with_its_interval() {
    let r = run(
        "a",
        vec![strategy(
            "fair_queue",
            vec![
                step(4, 0, 50),
                step(48, 0, 120),
                step(48, 1, 100),
                step(48, 2, 110),
            ],
        )],
    );
    let levels = r.strategies[0].levels();
    assert_eq!(
        levels
            .iter()
            .map(|l| (l.level, l.repetitions.len()))
            .collect::<Vec<_>>(),
        [(4, 1), (48, 3)]
    );
    let top = &levels[1];
    assert_eq!(r.values(top, &Figure::Throughput), [120.0, 100.0, 110.0]);
    assert_eq!(top.merged.overall.ok.count(), 330);
    let e = r.estimate(top, &Figure::Throughput).unwrap();
    assert_eq!((e.median, e.low, e.high, e.n), (110.0, 100.0, 120.0, 3));
    assert_eq!(e.text(0), "110 [100–120]");
    let single = r.estimate(&levels[0], &Figure::Throughput).unwrap();
    assert_eq!(single.text(0), "50 (n=1)");
}

#[test]
fn runs_of_one_workload_on_one_machine_compare() {
    let a = run("a", vec![strategy("strict", vec![step(4, 0, 10)])]);
    let mut b = run("b", vec![strategy("fair_queue", vec![step(48, 0, 10)])]);
    // What is swept, how often, and the report's name may differ.
    b.workload.concurrency = vec![48];
    b.workload.repetitions = 3;
    b.workload.name = "renamed".into();
    assert!(differences(&a, &b).is_empty(), "{:?}", differences(&a, &b));
}

#[test]
fn a_different_workload_data_or_machine_is_named() {
    let a = run("a", Vec::new());
    let mut b = run("b", Vec::new());
    b.workload.max_active = Some(99);
    b.workload.data_scale = 1.0;
    b.machine.cpus = 8;
    let mut c = run("c", Vec::new());
    c.data.fingerprint = "00ff".into();
    let mut d = run("d", Vec::new());
    d.data.fingerprint = "ff00".into();
    let diffs = differences(&a, &b);
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("workload max_active: 24 vs 99")),
        "{diffs:?}"
    );
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("workload data_scale: 0.25 vs 1.0")),
        "{diffs:?}"
    );
    assert!(
        diffs.iter().any(|d| d == "machine CPUs: 2 vs 8"),
        "{diffs:?}"
    );
    assert_eq!(differences(&c, &d), ["data fingerprint: 00ff vs ff00"]);
}
