//! `summary.md`: the strategies side by side (and beside the one-hop baseline), and the
//! table `harness compare` prints for several runs.

use std::fmt::Write;

use crate::fairness::demand::{index_text, StepFairness};
use crate::results::{RunResults, StrategyRun};
use crate::stats::StepMeasure;

/// The summary of one run, as Markdown.
pub fn run_summary(results: &RunResults) -> String {
    let mut md = String::new();
    heading(&mut md, results);
    let _ = writeln!(md, "{}\n", LEGEND);
    let _ = writeln!(md, "{TOP_HEADER}");
    for run in results.all_runs() {
        top_row(&mut md, results, run, None);
    }
    every_level(&mut md, results);
    if let Some(base) = &results.baseline {
        distance_from_one_hop(&mut md, results, base);
    }
    thresholds(&mut md, results);
    links(&mut md, results);
    md
}

/// Title, description, provenance, an early stop, and the heading of the top-level table.
fn heading(md: &mut String, results: &RunResults) {
    let w = &results.workload;
    let _ = writeln!(md, "# {} — run {}\n", w.name, results.run_id);
    if !w.description.is_empty() {
        let _ = writeln!(md, "{}\n", w.description);
    }
    let _ = writeln!(
        md,
        "git {} · {} · {} CPUs · wall time {:.1} s · seed {}\n",
        results.git_revision,
        results.machine.hostname,
        results.machine.cpus,
        results.wall_s,
        w.seed
    );
    if let Some(why) = &results.interrupted {
        let _ = writeln!(
            md,
            "**Stopped early ({why}); the figures cover what was measured.**\n"
        );
    }
    let top = w.concurrency.iter().copied().max().unwrap_or(0);
    if results.interrupted.is_some() {
        let _ = writeln!(
            md,
            "## At the highest level each strategy reached (planned: {top})\n"
        );
    } else {
        let _ = writeln!(md, "## At the top concurrency ({top})\n");
    }
}

/// One row per run and level.
fn every_level(md: &mut String, results: &RunResults) {
    let _ = writeln!(md, "\n## Every level\n");
    let _ = writeln!(
        md,
        "| strategy | concurrency | ok/s | answer p50 ms | answer p99 ms | success p99 ms | answered % | rejected attempts % | fair (demand) | Jain (plain) | served % of demand per team |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for run in results.all_runs() {
        for (level, m) in run.by_level() {
            let f = results.fairness(level, &m);
            let _ = writeln!(
                md,
                "| {} | {level} | {} | {} |",
                run.strategy,
                measure_cells(&m),
                fairness_cells(&f)
            );
        }
    }
}

/// Each strategy over the one-hop baseline at the lowest and the top level.
fn distance_from_one_hop(md: &mut String, results: &RunResults, base: &StrategyRun) {
    let _ = writeln!(md, "\n## Distance from one hop\n");
    let _ = writeln!(md, "`baseline` is a single node holding all the data, asked the same mix over one gRPC hop on loopback (at {}). Ratios are overlay / baseline of the time to answer (rejections, backoffs and timeouts included) at the lowest and the top level.\n", base.target);
    let _ = writeln!(
        md,
        "| strategy | level | answer p50 × | answer p99 × | throughput × |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let base_levels = base.by_level();
    // The lowest level is the clean one-hop distance; at the top, rejections shed load.
    for pick in [base_levels.first(), base_levels.last()] {
        let Some((level, base_m)) = pick else {
            continue;
        };
        let bs = base_m.overall.answer.summary();
        for run in &results.strategies {
            if let Some((_, m)) = run.by_level().into_iter().find(|(c, _)| c == level) {
                let s = m.overall.answer.summary();
                let _ = writeln!(
                    md,
                    "| {} | {level} | {:.2} | {:.2} | {:.2} |",
                    run.strategy,
                    ratio(s.p50_ms, bs.p50_ms),
                    ratio(s.p99_ms, bs.p99_ms),
                    ratio(m.throughput(), base_m.throughput())
                );
            }
        }
        if base_levels.len() == 1 {
            break;
        }
    }
}

/// The thresholds' verdicts, when the workload set any.
fn thresholds(md: &mut String, results: &RunResults) {
    if results.thresholds.is_empty() {
        return;
    }
    let failed = results.thresholds.iter().filter(|c| !c.passed).count();
    let _ = writeln!(
        md,
        "\n## Thresholds: {}\n",
        if failed == 0 {
            "all passed".to_string()
        } else {
            format!("{failed} of {} FAILED", results.thresholds.len())
        }
    );
    for line in crate::thresholds::lines(&results.thresholds) {
        let _ = writeln!(md, "- {line}");
    }
}

/// Links to the charts and the per-strategy reports.
fn links(md: &mut String, results: &RunResults) {
    let _ = writeln!(md, "\n## Charts\n");
    for chart in super::charts::CHART_NAMES {
        let _ = writeln!(md, "- [{chart}]({chart}.svg) ([png]({chart}.png))");
    }
    for run in results.all_runs() {
        let _ = writeln!(md, "- [timeline_{0}](timeline_{0}.svg)", run.strategy);
    }
    let _ = writeln!(
        md,
        "\nPer-strategy reports: {}",
        results
            .strategies
            .iter()
            .map(|r| format!("[{0}](benchmark_fairness_{0}.txt)", r.strategy))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn success(ok: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        ok as f64 * 100.0 / total as f64
    }
}

/// What the summary's columns mean.
const LEGEND: &str = "Latency columns are the **time to answer**: from a request's first attempt (open loop: from when it was due) to its answer, rejected attempts and backoffs included; a request never answered counts at its timeout. `success p99` is the latency of answered attempts only. `fair (demand)` is Jain's index of each team's served rate ÷ its weighted max-min fair share of the capacity (1 = every demand met, or capacity split max-min fairly); `Jain (plain)` is Jain's index of goodput ÷ weight, which ignores demand.";

/// The header of the top-level table (also used by `compare`).
const TOP_HEADER: &str = "| strategy | ok/s | answer p50 ms | answer p99 ms | success p99 ms | answered % | rejected attempts % | unanswered | fair (demand) | Jain (plain) | served % of demand per team |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";

/// `team 97.0%, ...`: each team's served share of its own demand.
fn served_shares(f: &StepFairness) -> String {
    f.teams
        .iter()
        .map(|t| format!("{} {:.1}%", t.team, t.served_share() * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the top-level table: `run` at its highest level, named `label strategy`.
fn top_row(md: &mut String, results: &RunResults, run: &StrategyRun, label: Option<&str>) {
    let Some((level, m)) = run.by_level().last().cloned() else {
        return;
    };
    let f = results.fairness(level, &m);
    let name = label.map_or(run.strategy.clone(), |l| format!("{l} {}", run.strategy));
    let _ = writeln!(
        md,
        "| {name} | {} | {} | {} |",
        measure_cells(&m),
        m.overall.unanswered(),
        fairness_cells(&f)
    );
}

/// The cells both tables give a measure: ok/s, answer p50 and p99, success p99, answered %,
/// rejected attempts %.
fn measure_cells(m: &StepMeasure) -> String {
    let a = m.overall.answer.summary();
    format!(
        "{:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1}",
        m.throughput(),
        a.p50_ms,
        a.p99_ms,
        m.overall.ok.summary().p99_ms,
        success(m.overall.ok.count(), m.overall.total()),
        m.overall.rejection_share() * 100.0
    )
}

/// The fairness cells: demand-aware index, plain index, served share per team.
fn fairness_cells(f: &StepFairness) -> String {
    format!(
        "{} | {} | {}",
        index_text(f.demand_index),
        index_text(f.plain_index),
        served_shares(f)
    )
}

/// Several runs side by side at their top concurrency.
pub fn compare(runs: &[RunResults]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Comparison of {} runs\n", runs.len());
    let _ = writeln!(md, "{LEGEND}\n");
    let _ = writeln!(md, "{}", TOP_HEADER.replacen("strategy", "run strategy", 1));
    for results in runs {
        let label = format!("{}/{}", results.workload.name, results.run_id);
        for run in results.all_runs() {
            top_row(&mut md, results, run, Some(&label));
        }
    }
    md
}
