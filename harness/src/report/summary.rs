//! `summary.md`: the strategies side by side (and beside the one-hop baseline), and the
//! table `harness compare` prints for several runs.

use std::fmt::Write;

use super::json::{fairness, RunResults, StrategyRun};

/// The summary of one run, as Markdown.
pub fn run_summary(results: &RunResults) -> String {
    let w = &results.workload;
    let mut md = String::new();
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
    let _ = writeln!(md, "| strategy | ok/s | p50 ms | p99 ms | success % | rejected | failed | Jain (goodput/weight) | per-team goodput/s |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for run in results.all_runs() {
        top_row(&mut md, results, run, None);
    }
    let _ = writeln!(md, "\n## Every level\n");
    let _ = writeln!(
        md,
        "| strategy | concurrency | ok/s | p50 ms | p99 ms | success % | rejected | Jain |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in results.all_runs() {
        for (level, m) in run.by_level() {
            let s = m.overall.ok.summary();
            let _ = writeln!(
                md,
                "| {} | {level} | {:.1} | {:.2} | {:.2} | {:.1} | {} | {:.3} |",
                run.strategy,
                m.throughput(),
                s.p50_ms,
                s.p99_ms,
                success(m.overall.ok.count(), m.overall.total()),
                m.overall.rejected.count(),
                fairness(&m, w)
            );
        }
    }
    if let Some(base) = &results.baseline {
        let _ = writeln!(md, "\n## Distance from one hop\n");
        let _ = writeln!(md, "`baseline` is a single node holding all the data, asked the same mix over one gRPC hop on loopback (at {}). Ratios are overlay / baseline at the lowest and the top level.\n", base.target);
        let _ = writeln!(md, "| strategy | level | p50 × | p99 × | throughput × |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|");
        let base_levels = base.by_level();
        // The lowest level is the clean one-hop distance; at the top, rejections shed load.
        for pick in [base_levels.first(), base_levels.last()] {
            let Some((level, base_m)) = pick else {
                continue;
            };
            let bs = base_m.overall.ok.summary();
            for run in &results.strategies {
                if let Some((_, m)) = run.by_level().into_iter().find(|(c, _)| c == level) {
                    let s = m.overall.ok.summary();
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
    md
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

fn top_row(md: &mut String, results: &RunResults, run: &StrategyRun, label: Option<&str>) {
    let Some((_, m)) = run.by_level().last().cloned() else {
        return;
    };
    let s = m.overall.ok.summary();
    let teams: Vec<String> = results
        .workload
        .tenants
        .iter()
        .map(|t| {
            let ok = m.teams.get(&t.team).map_or(0, |s| s.ok.count());
            format!(
                "{} {:.1}",
                t.team,
                crate::stats::per_second(ok, m.elapsed_s)
            )
        })
        .collect();
    let name = label.map_or(run.strategy.clone(), |l| format!("{l} {}", run.strategy));
    let _ = writeln!(
        md,
        "| {name} | {:.1} | {:.2} | {:.2} | {:.1} | {} | {} | {:.3} | {} |",
        m.throughput(),
        s.p50_ms,
        s.p99_ms,
        success(m.overall.ok.count(), m.overall.total()),
        m.overall.rejected.count(),
        m.overall.failed.count(),
        fairness(&m, &results.workload),
        teams.join(", ")
    );
}

/// Several runs side by side at their top concurrency.
pub fn compare(runs: &[RunResults]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Comparison of {} runs\n", runs.len());
    let _ = writeln!(md, "| run strategy | ok/s | p50 ms | p99 ms | success % | rejected | failed | Jain | per-team goodput/s |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for results in runs {
        let label = format!("{}/{}", results.workload.name, results.run_id);
        for run in results.all_runs() {
            top_row(&mut md, results, run, Some(&label));
        }
    }
    md
}
