//! The opening of `summary.md` for a run with a fault schedule: correctness, how fast the
//! faults were noticed and what the clients saw, and the fault charts — before any table of
//! throughput, because under faults those are the questions.

use std::fmt::Write;

use crate::results::RunResults;

/// Writes the section when some step had a fault schedule; otherwise nothing.
pub fn lead(md: &mut String, results: &RunResults) {
    if !results
        .all_runs()
        .iter()
        .any(|r| r.steps.iter().any(|s| s.faults.is_some()))
    {
        return;
    }
    let _ = writeln!(md, "## Correctness and fault detection\n");
    let _ = writeln!(
        md,
        "| strategy | level | rep | checked | wrong | partial (silent) | p99 before / during / after ms | ok/s before / during / after | detected (median ms) | false alarms |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|---|---:|---:|");
    let mut charts = Vec::new();
    for run in results.all_runs() {
        for step in &run.steps {
            let Some(f) = &step.faults else {
                continue;
            };
            let c = &step.measure.correctness;
            let detected: Vec<f64> = f
                .detection
                .detections
                .iter()
                .filter_map(|d| d.detected_ms)
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {}{} | {} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {} | {} |",
                run.name(),
                step.concurrency,
                step.repetition,
                c.checked,
                c.wrong,
                if c.failures() > 0 { " **FAIL**" } else { "" },
                c.partial_silent,
                f.before.p99_ms,
                f.during.p99_ms,
                f.after.p99_ms,
                f.before.throughput,
                f.during.throughput,
                f.after.throughput,
                crate::interval::median(&detected)
                    .map_or("not detected".to_string(), |m| format!("{m:.0}")),
                f.detection.false_alarms.len()
            );
            let stem = super::step_stem(run, step);
            charts.push(format!(
                "- {} · concurrency {} · repetition {}: [fault timeline, every repetition](faults_{}_c{}.svg), [detection](detection_{stem}.svg)",
                run.name(), step.concurrency, step.repetition, run.name(), step.concurrency
            ));
        }
    }
    let _ = writeln!(md, "\nFault charts:\n");
    for line in charts {
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md);
}
