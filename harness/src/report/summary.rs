//! `summary.md`: the strategies side by side (and beside the one-hop baseline), and the
//! table `harness compare` prints for several runs.

use std::fmt::Write;

use crate::interval;
use crate::results::{estimate_text, Figure, Level, RunResults, StrategyRun};

/// The summary of one run, as Markdown.
pub fn run_summary(results: &RunResults) -> String {
    let mut md = String::new();
    heading(&mut md, results);
    super::faulted::lead(&mut md, results);
    top_heading(&mut md, results);
    let _ = writeln!(md, "{}\n", LEGEND);
    let _ = writeln!(md, "{}\n", interval_note(results));
    let _ = writeln!(md, "{TOP_HEADER}");
    for run in results.all_runs() {
        top_row(&mut md, results, run);
    }
    every_level(&mut md, results);
    super::traces::section(&mut md, results);
    super::scale::section(&mut md, results);
    if let Some(base) = &results.baseline {
        distance_from_one_hop(&mut md, results, base);
    }
    thresholds(&mut md, results);
    links(&mut md, results);
    md
}

/// Title, description, provenance (machine, data) and an early stop.
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
    data(md, results);
}

/// The data served: as recorded by the generator and fingerprinted on disk, and as each node
/// of the first cluster reports it.
fn data(md: &mut String, results: &RunResults) {
    let _ = writeln!(md, "**Data:** {}\n", results.data.line());
    let Some(run) = results.strategies.first() else {
        return;
    };
    for link in &run.links {
        let _ = writeln!(md, "**Link:** {}\n", link.describe());
    }
    let nodes: Vec<String> = run
        .processes
        .iter()
        .map(|p| {
            let check = match p.fingerprint_matches {
                Some(true) => "matches the files",
                Some(false) => "**differs from the files on disk**",
                None => "not checked",
            };
            format!(
                "{} {} rows, {}/{} days, fingerprint {} ({check})",
                p.id,
                p.rows,
                p.days_held.len(),
                p.days_assigned,
                if p.data_fingerprint.is_empty() {
                    "-"
                } else {
                    &p.data_fingerprint
                }
            )
        })
        .collect();
    let _ = writeln!(
        md,
        "**As the nodes report it** ({}): {}\n",
        run.name(),
        nodes.join(" · ")
    );
}

/// The heading of the top-level table.
fn top_heading(md: &mut String, results: &RunResults) {
    let w = &results.workload;
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
        for level in run.levels() {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                run.name(),
                level.level,
                level_cells(results, &level)
            );
        }
    }
}

/// Each strategy over the one-hop baseline at the lowest and the top level: ratios of the
/// medians of the repetitions, with the interval of each ratio.
fn distance_from_one_hop(md: &mut String, results: &RunResults, base: &StrategyRun) {
    let _ = writeln!(md, "\n## Distance from one hop\n");
    let _ = writeln!(md, "`baseline` is a single node holding all the data, asked the same mix by every team over one gRPC hop on loopback (at {}). Ratios are overlay / baseline of the time to answer (rejections, backoffs and timeouts included) and of throughput at the lowest and the top level: the ratio of the medians of the repetitions, with a percentile-bootstrap interval of the difference of their logarithms.\n", base.target);
    let _ = writeln!(
        md,
        "| strategy | level | answer p50 × | answer p99 × | throughput × |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let base_levels = base.levels();
    let confidence = results.workload.confidence;
    // The lowest level is the clean one-hop distance; at the top, rejections shed load.
    for pick in [base_levels.first(), base_levels.last()] {
        let Some(base_level) = pick else {
            continue;
        };
        for run in &results.strategies {
            let Some(level) = run.level(base_level.level) else {
                continue;
            };
            let cell = |figure: Figure| {
                let a = results.values(base_level, &figure);
                let b = results.values(&level, &figure);
                estimate_text(interval::ratio(&a, &b, confidence), 2)
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                run.name(),
                level.level,
                cell(Figure::AnswerP50),
                cell(Figure::AnswerP99),
                cell(Figure::Throughput)
            );
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
    for chart in super::charts::chart_names(results) {
        let _ = writeln!(md, "- [{chart}]({chart}.svg) ([png]({chart}.png))");
    }
    for run in results.all_runs() {
        let _ = writeln!(md, "- [timeline_{0}](timeline_{0}.svg)", run.name());
    }
    let _ = writeln!(
        md,
        "\nPer-strategy reports: {}",
        results
            .strategies
            .iter()
            .map(|r| format!("[{0}](benchmark_fairness_{0}.txt)", r.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// How the figures are estimated over the repetitions.
pub fn interval_note(results: &RunResults) -> String {
    let w = &results.workload;
    if w.repetitions < 2 {
        return "One repetition per level: figures are single measurements, marked `(n=1)`; no interval tells noise from difference (set `sweep.repetitions` to 2 or more).".to_string();
    }
    format!(
        "Each figure is the {} over {} repetitions per level, as `median [low–high]` at {:.0} % confidence.",
        crate::interval::METHOD,
        w.repetitions,
        w.confidence * 100.0
    )
}

/// What the summary's columns mean.
const LEGEND: &str = "Latency columns are the **time to answer**: from a request's first attempt (open loop: from when it was due) to its answer, rejected attempts and backoffs included; a request never answered counts at its timeout. `success p99` is the latency of answered attempts only. `fair (demand)` is Jain's index of each team's served rate ÷ its weighted max-min fair share of the capacity (1 = every demand met, or capacity split max-min fairly); `Jain (plain)` is Jain's index of goodput ÷ weight, which ignores demand.";

/// The header of the top-level table.
const TOP_HEADER: &str = "| strategy | ok/s | answer p50 ms | answer p99 ms | success p99 ms | answered % | rejected attempts % | fair (demand) | Jain (plain) | served % of demand per team | unanswered (all repetitions) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|";

/// One row of the top-level table: `run` at its highest level.
fn top_row(md: &mut String, results: &RunResults, run: &StrategyRun) {
    let Some(level) = run.levels().pop() else {
        return;
    };
    let _ = writeln!(
        md,
        "| {} | {} | {} |",
        run.name(),
        level_cells(results, &level),
        level.merged.overall.unanswered()
    );
}

/// The cells both tables give a level, each the median of the repetitions with its interval:
/// ok/s, answer p50 and p99, success p99, answered %, rejected attempts %, both fairness
/// indexes and each team's served share of its demand.
fn level_cells(results: &RunResults, level: &Level) -> String {
    let e =
        |figure: Figure, decimals: usize| estimate_text(results.estimate(level, &figure), decimals);
    let served = results
        .workload
        .tenants
        .iter()
        .map(|t| format!("{} {}%", t.team, e(Figure::ServedPct(t.team.clone()), 1)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} | {} | {} | {} | {} | {} | {} | {} | {served}",
        e(Figure::Throughput, 1),
        e(Figure::AnswerP50, 2),
        e(Figure::AnswerP99, 2),
        e(Figure::SuccessP99, 2),
        e(Figure::AnsweredPct, 1),
        e(Figure::RejectedPct, 1),
        e(Figure::DemandIndex, 3),
        e(Figure::PlainIndex, 3),
    )
}
