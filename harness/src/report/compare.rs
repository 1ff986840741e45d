//! `compare.md`: several runs against the first, step by step. Steps are paired by strategy
//! and concurrency level; each figure shows both medians with their intervals and the delta
//! (run − first run) with the bootstrap interval of the difference, marked when that interval
//! contains 0 (inside the noise). Settings that differ between the runs lead the page.

use std::fmt::Write;

use crate::interval::{delta, Delta};
use crate::results::{estimate_text, Figure, Level, RunResults, StrategyRun};

/// A paired figure: its name, what it is and its decimals.
struct Row {
    name: String,
    figure: Figure,
    decimals: usize,
}

/// The comparison of `runs[1..]` against `runs[0]`; `differences` are the settings that
/// differ (shown first, as a warning).
pub fn compare(runs: &[RunResults], differences: &[(String, Vec<String>)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Comparison of {} runs\n", runs.len());
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            md,
            "{}. `{}/{}` — git {} · {} · {} CPUs · {} repetition(s)",
            i + 1,
            r.workload.name,
            r.run_id,
            r.git_revision,
            r.machine.hostname,
            r.machine.cpus,
            r.workload.repetitions
        );
    }
    let _ = writeln!(md);
    for (run, diffs) in differences.iter().filter(|(_, d)| !d.is_empty()) {
        let _ = writeln!(
            md,
            "**WARNING: `{run}` differs from the first run; its deltas mix these changes with the strategies':**\n"
        );
        for d in diffs {
            let _ = writeln!(md, "- {d}");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md, "Δ = run − first run, medians of the repetitions; `[low–high]` are {} intervals; **noise** marks a Δ whose interval contains 0 (or that has no interval: a run with one repetition), which these runs cannot tell from chance.\n", crate::interval::METHOD);
    let Some((first, rest)) = runs.split_first() else {
        return md;
    };
    for other in rest {
        pair_runs(&mut md, first, other);
    }
    md
}

/// Every (strategy, level) both runs measured; what only one of them has is listed.
fn pair_runs(md: &mut String, a: &RunResults, b: &RunResults) {
    let _ = writeln!(md, "## {} vs {}\n", b.run_id, a.run_id);
    let _ = writeln!(
        md,
        "| strategy | level | figure | {} | {} | Δ | |\n|---|---:|---|---:|---:|---:|---|",
        a.run_id, b.run_id
    );
    let mut unpaired = Vec::new();
    for ra in a.all_runs() {
        let rb = b.all_runs().into_iter().find(|r| r.name() == ra.name());
        for la in ra.levels() {
            match rb.and_then(|rb| rb.level(la.level)) {
                Some(lb) => pair_level(md, (a, &la), (b, &lb), ra),
                None => unpaired.push(format!("{} at {}", ra.name(), la.level)),
            }
        }
    }
    if !unpaired.is_empty() {
        let _ = writeln!(md, "\nOnly in {}: {}.", a.run_id, unpaired.join(", "));
    }
    let _ = writeln!(md);
}

/// The rows of one paired step.
fn pair_level(
    md: &mut String,
    (a, la): (&RunResults, &Level),
    (b, lb): (&RunResults, &Level),
    run: &StrategyRun,
) {
    let confidence = a.workload.confidence.min(b.workload.confidence);
    for row in rows(a) {
        let d = delta(
            &a.values(la, &row.figure),
            &b.values(lb, &row.figure),
            confidence,
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            run.name(),
            la.level,
            row.name,
            estimate_text(a.estimate(la, &row.figure), row.decimals),
            estimate_text(b.estimate(lb, &row.figure), row.decimals),
            d.map_or("-".to_string(), |d| delta_text(&d, row.decimals)),
            match d {
                Some(d) if d.inside_noise() => "noise",
                Some(_) => "**differs**",
                None => "",
            }
        );
    }
}

/// The figures paired: throughput, time to answer, the demand-aware index, served shares.
fn rows(results: &RunResults) -> Vec<Row> {
    let mut rows = vec![
        Row {
            name: "ok/s".into(),
            figure: Figure::Throughput,
            decimals: 1,
        },
        Row {
            name: "answer p99 ms".into(),
            figure: Figure::AnswerP99,
            decimals: 2,
        },
        Row {
            name: "fair (demand)".into(),
            figure: Figure::DemandIndex,
            decimals: 3,
        },
    ];
    for t in &results.workload.tenants {
        rows.push(Row {
            name: format!("{} served %", t.team),
            figure: Figure::ServedPct(t.team.clone()),
            decimals: 1,
        });
    }
    rows
}

/// `+12.3 [+10.1…+14.0]`, or `+12.3 (no interval)`.
fn delta_text(d: &Delta, decimals: usize) -> String {
    if d.has_interval {
        format!(
            "{:+.*} [{:+.*}…{:+.*}]",
            decimals, d.delta, decimals, d.low, decimals, d.high
        )
    } else {
        format!("{:+.*} (no interval)", decimals, d.delta)
    }
}

#[cfg(test)]
mod tests;
