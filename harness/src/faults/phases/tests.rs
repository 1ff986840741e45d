//! Phase accounting: which phase a moment lies in, how long each phase lasted, and the
//! counts and figures per phase.

use super::*;
use crate::faults::FaultAction;

fn window(start_s: f64, end_s: Option<f64>) -> FaultWindow {
    FaultWindow {
        label: "kill C".to_string(),
        action: FaultAction::Kill,
        target: "C".to_string(),
        peer: None,
        start_s,
        end_s,
    }
}

fn ok_at(at_s: f64, answer_us: u64) -> PhaseSample {
    PhaseSample {
        at_s,
        outcome: Outcome::Ok,
        partial: false,
        retried: false,
        answer_us,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_kill_at_2_restarted_at_5_splits_a_10_second_step() {
    let windows = [window(2.0, Some(5.0))];
    assert_eq!(classify_time(&windows, 1.0), Phase::Before);
    assert_eq!(classify_time(&windows, 2.0), Phase::During(0));
    assert_eq!(classify_time(&windows, 3.0), Phase::During(0));
    assert_eq!(classify_time(&windows, 5.0), Phase::After);
    assert_eq!(classify_time(&windows, 6.0), Phase::After);
    assert_eq!(phase_durations(&windows, 10.0), (2.0, 3.0, 5.0));

    let failed = PhaseSample {
        outcome: Outcome::Failed,
        retried: true,
        ..ok_at(3.5, 0)
    };
    let samples = [ok_at(1.0, 1000), ok_at(3.0, 9000), failed, ok_at(6.0, 2000)];
    let totals = PhaseTotals::tally(&windows, &samples);
    assert_eq!(
        (totals.before.ok, totals.during.ok, totals.after.ok),
        (1, 1, 1)
    );
    assert_eq!((totals.during.failed, totals.during.retried), (1, 1));
    assert_eq!(totals.during.total(), 2);
    assert_eq!(totals.per_window, std::slice::from_ref(&totals.during));
    assert!(close(totals.before.throughput(2.0), 0.5));
    assert!(close(totals.after.throughput(5.0), 0.2));
}

#[test]
fn overlapping_windows_count_once_and_a_gap_between_windows_is_after() {
    let windows = [window(2.0, Some(6.0)), window(4.0, Some(8.0))];
    assert_eq!(classify_time(&windows, 5.0), Phase::During(0));
    assert_eq!(classify_time(&windows, 7.0), Phase::During(1));
    assert_eq!(phase_durations(&windows, 10.0), (2.0, 6.0, 2.0));
    let totals = PhaseTotals::tally(&windows, &[ok_at(5.0, 100)]);
    assert_eq!(totals.during.ok, 1);
    assert_eq!((totals.per_window[0].ok, totals.per_window[1].ok), (1, 1));

    let apart = [window(1.0, Some(2.0)), window(5.0, Some(6.0))];
    assert_eq!(classify_time(&apart, 3.0), Phase::After);
    assert_eq!(phase_durations(&apart, 10.0), (1.0, 2.0, 7.0));
}

#[test]
fn a_window_open_at_the_step_end_lasts_to_it() {
    let windows = [window(2.0, None)];
    assert_eq!(classify_time(&windows, 9.9), Phase::During(0));
    assert_eq!(phase_durations(&windows, 10.0), (2.0, 8.0, 0.0));
}

#[test]
fn without_windows_the_whole_step_is_before() {
    assert_eq!(classify_time(&[], 3.0), Phase::Before);
    assert_eq!(phase_durations(&[], 10.0), (10.0, 0.0, 0.0));
    let totals = PhaseTotals::tally(&[], &[ok_at(3.0, 10)]);
    assert_eq!((totals.before.ok, totals.per_window.len()), (1, 0));
}

#[test]
fn zero_length_phases_give_zero_throughput_and_latency() {
    let (_, _, after) = phase_durations(&[window(2.0, None)], 10.0);
    let empty = PhaseCounts::default();
    assert_eq!(empty.throughput(after), 0.0);
    assert_eq!(empty.throughput(f64::NAN), 0.0);
    assert_eq!(empty.p99_ms(), 0.0);
    let mut one = PhaseCounts::default();
    one.add(&ok_at(1.0, 5000));
    assert_eq!(one.throughput(0.0), 0.0);
    // A window at the very start leaves no time before it.
    assert_eq!(
        phase_durations(&[window(0.0, Some(4.0))], 10.0),
        (0.0, 4.0, 6.0)
    );
}

#[test]
fn p99_is_the_time_to_answer_of_every_request_rejections_included() {
    let mut counts = PhaseCounts::default();
    for i in 1..=100 {
        counts.add(&ok_at(0.0, i * 1000));
    }
    counts.add(&PhaseSample {
        partial: true,
        ..ok_at(0.0, 1000)
    });
    // Five requests rejected until their 2 s timeout: 5 of 106 lie above the 99th percentile
    // rank (105), so a phase full of rejections cannot look fast.
    for _ in 0..5 {
        counts.add(&PhaseSample {
            outcome: Outcome::Rejected,
            ..ok_at(0.0, 2_000_000)
        });
    }
    assert_eq!((counts.ok, counts.rejected, counts.partial), (101, 5, 1));
    let p99 = counts.p99_ms();
    assert!((1_980.0..=2_020.0).contains(&p99), "{p99}");
    // Without them the p99 is the answered queries'.
    let mut answered = PhaseCounts::default();
    for i in 1..=100 {
        answered.add(&ok_at(0.0, i * 1000));
    }
    assert!(
        (98.0..=100.1).contains(&answered.p99_ms()),
        "{}",
        answered.p99_ms()
    );
}
