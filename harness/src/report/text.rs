//! `benchmark_fairness_<strategy>.txt`: first the original's sections in its exact format
//! ([`super::original`]), then this report's own sections (header,
//! per-host process table, recent logs, summary, final process metrics) plus per-team
//! results, the fairness index, rejections and state transitions. Rendered into any `Write`.
//!
//! - `tables` — processes, the summary of all levels, records, the per-team table.
//! - `faults` — correctness and the fault schedule's figures.

use std::io::{self, Write};

mod faults;
mod tables;

use crate::fairness::demand::index_text;
use crate::results::{estimate_text, Figure, RunResults, StrategyRun};
use crate::stats::StepMeasure;

use faults::faults_section;
use tables::{process_table, records, summary, teams};

/// Log lines shown per node.
const LOG_LINES: usize = 8;

/// Writes the report of one strategy.
pub fn write_strategy(
    out: &mut dyn Write,
    results: &RunResults,
    run: &StrategyRun,
) -> io::Result<()> {
    super::original::write_original(out, results, run)?;
    writeln!(out)?;
    let rule = "=".repeat(78);
    header(out, results, run, &rule)?;
    process_table(out, run, "PROCESSES")?;
    writeln!(out, "\nRECENT LOGS")?;
    for (node, lines) in &run.logs {
        for line in lines.iter().rev().take(LOG_LINES).rev() {
            writeln!(out, "  [{node}] {line}")?;
        }
    }
    let total = run.total();
    writeln!(out, "\nSUMMARY (all levels)")?;
    summary(out, &total, results.workload.timeout_s)?;
    records(out, &total)?;
    per_level(out, results, run)?;
    if let Some((level, top)) = run.by_level().last() {
        writeln!(out, "\nPER TEAM (concurrency {level})")?;
        teams(out, top, results)?;
        fairness(out, results, *level, top)?;
    }
    rejections(out, &total)?;
    faults_section(out, run)?;
    writeln!(out, "\nSTATE TRANSITIONS")?;
    if run.state_transitions.is_empty() {
        writeln!(out, "  none reported by the nodes")?;
    }
    for t in &run.state_transitions {
        writeln!(out, "  {t}")?;
    }
    writeln!(out)?;
    process_table(out, run, "FINAL PROCESS METRICS")?;
    writeln!(out, "  admission counters per node and team:")?;
    for p in &run.processes {
        for t in &p.teams {
            writeln!(out, "    {:<3} {:<8} admitted {:>8} rejected {:>8} completed {:>8} queued {:>4} avg wait {:>8.2} ms", p.id, t.team, t.admitted, t.rejected, t.completed, t.queued, t.avg_wait_ms)?;
        }
    }
    writeln!(out, "{rule}")
}

/// The title and what was run: workload, run id, machine, cluster, load, tenants, mix.
fn header(
    out: &mut dyn Write,
    results: &RunResults,
    run: &StrategyRun,
    rule: &str,
) -> io::Result<()> {
    let w = &results.workload;
    writeln!(out, "{rule}")?;
    writeln!(
        out,
        "FAIRNESS BENCHMARK REPORT — strategy: {}",
        reported_strategy(run)
    )?;
    writeln!(out, "{rule}")?;
    writeln!(out, "workload:     {} ({})", w.name, w.file.display())?;
    if !w.description.is_empty() {
        writeln!(out, "description:  {}", w.description)?;
    }
    writeln!(
        out,
        "run:          {}  (git {})",
        results.run_id, results.git_revision
    )?;
    writeln!(
        out,
        "machine:      {} · {} · {} CPUs · {}",
        results.machine.hostname,
        results.machine.os,
        results.machine.cpus,
        results.machine.cpu_model
    )?;
    let cluster = match &run.topology {
        Some(t) if t.spec.is_some() => format!("generated: {}", t.label),
        _ => w.config.display().to_string(),
    };
    writeln!(
        out,
        "cluster:      {cluster} ({:?}), target {}",
        w.mode, run.target
    )?;
    if let Some(t) = &run.topology {
        scale_lines(out, t)?;
    }
    data_lines(out, results, run)?;
    writeln!(
        out,
        "load:         {} · levels {:?} × {} repetition(s) · warm-up {} s · length {}",
        load_text(results),
        w.concurrency,
        w.repetitions,
        w.warmup_s,
        length_text(results)
    )?;
    let tenants: Vec<String> = w
        .tenants
        .iter()
        .map(|t| {
            format!(
                "{} share {:.0}% weight {}",
                t.team,
                t.share * 100.0,
                t.weight
            )
        })
        .collect();
    writeln!(out, "tenants:      {}", tenants.join(" · "))?;
    let mix: Vec<String> = w
        .mix
        .iter()
        .map(|m| format!("{} ({}, weight {})", m.name, m.query_type, m.weight))
        .collect();
    writeln!(out, "query mix:    {}", mix.join(" · "))?;
    if let Some(why) = &results.interrupted {
        writeln!(
            out,
            "NOTE:         run stopped early ({why}); figures cover what was measured"
        )?;
    }
    writeln!(out)
}

/// The data served: as checked on this machine, and as each node reports it.
fn data_lines(out: &mut dyn Write, results: &RunResults, run: &StrategyRun) -> io::Result<()> {
    writeln!(out, "data:         {}", results.data.line())?;
    for p in &run.processes {
        writeln!(
            out,
            "  node {:<4} {} rows · {}/{} days held · fingerprint {} ({})",
            p.id,
            p.rows,
            p.days_held.len(),
            p.days_assigned,
            p.data_fingerprint,
            match p.fingerprint_matches {
                Some(true) => "matches the files on disk",
                Some(false) => "DIFFERS from the files on disk",
                None => "not checked",
            }
        )?;
    }
    for link in &run.links {
        writeln!(out, "link:         {}", link.describe())?;
    }
    Ok(())
}

/// The strategy as the nodes reported it through `GetMetrics` (what was measured), with the
/// workload's name for it when they differ or no node answered.
fn reported_strategy(run: &StrategyRun) -> String {
    let mut reported: Vec<&str> = run
        .processes
        .iter()
        .map(|p| p.strategy.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    reported.sort();
    reported.dedup();
    match reported.as_slice() {
        [one] if *one == run.strategy => run.strategy.clone(),
        [] => format!("{} (not confirmed: no node reported one)", run.strategy),
        many => format!(
            "{} as the nodes report it (the workload named {})",
            many.join(" / "),
            run.strategy
        ),
    }
}

/// One row per concurrency level: counts, throughput, time to answer and both indexes.
fn per_level(out: &mut dyn Write, results: &RunResults, run: &StrategyRun) -> io::Result<()> {
    writeln!(out, "\nPER CONCURRENCY LEVEL (time to answer: from first attempt, rejections and backoffs included, unanswered at the timeout)")?;
    writeln!(
        out,
        "  {:>5} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "conc",
        "requests",
        "ok",
        "rejected",
        "failed",
        "ok/s",
        "answer50",
        "answer99",
        "ok p99",
        "fair",
        "Jain"
    )?;
    for (level, m) in run.by_level() {
        let answer = m.overall.answer.summary();
        let fairness = results.fairness(level, &m);
        writeln!(
            out,
            "  {:>5} {:>9} {:>8} {:>8} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>7}",
            level,
            m.overall.total(),
            m.overall.ok.count(),
            m.overall.rejected.count(),
            m.overall.failed.count(),
            m.throughput(),
            answer.p50_ms,
            answer.p99_ms,
            m.overall.ok.summary().p99_ms,
            index_text(fairness.demand_index),
            index_text(fairness.plain_index)
        )?;
    }
    writeln!(out, "  fair: demand-aware index (served ÷ weighted max-min fair share); Jain: plain index over goodput ÷ weight, which ignores demand")?;
    writeln!(
        out,
        "  counts are of all repetitions merged; per repetition:"
    )?;
    estimates(out, results, run)
}

/// Per level, the median of each figure over the repetitions with its interval.
fn estimates(out: &mut dyn Write, results: &RunResults, run: &StrategyRun) -> io::Result<()> {
    writeln!(out, "  {}", super::summary::interval_note(results))?;
    for level in run.levels() {
        let e = |figure: Figure, decimals: usize| {
            estimate_text(results.estimate(&level, &figure), decimals)
        };
        writeln!(
            out,
            "  conc {:>5}: ok/s {} · answer p99 {} ms · fair {} · Jain {}",
            level.level,
            e(Figure::Throughput, 1),
            e(Figure::AnswerP99, 2),
            e(Figure::DemandIndex, 3),
            e(Figure::PlainIndex, 3)
        )?;
        for t in &results.workload.tenants {
            writeln!(
                out,
                "  {:>11} {}: served {} % of its demand · time to answer p99 {} ms",
                "",
                t.team,
                e(Figure::ServedPct(t.team.clone()), 1),
                e(Figure::TeamAnswerP99(t.team.clone()), 2)
            )?;
        }
    }
    Ok(())
}

/// FAIRNESS at `level`: offered, served and fair share per team, capacity, both indexes.
fn fairness(
    out: &mut dyn Write,
    results: &RunResults,
    level: u32,
    top: &StepMeasure,
) -> io::Result<()> {
    let f = results.fairness(level, top);
    writeln!(out, "\nFAIRNESS (concurrency {level})")?;
    writeln!(
        out,
        "  {:<8} {:>6} {:>10} {:>10} {:>10} {:>9} {:>12}",
        "team", "weight", "offered/s", "served/s", "fair/s", "served %", "served÷fair"
    )?;
    for t in &f.teams {
        writeln!(
            out,
            "  {:<8} {:>6} {:>10.2} {:>10.2} {:>10.2} {:>9.1} {:>12}",
            t.team,
            t.weight,
            t.offered_per_s,
            t.served_per_s,
            t.fair_per_s,
            t.served_share() * 100.0,
            if t.fair_per_s > 0.0 {
                format!("{:.3}", t.served_per_s / t.fair_per_s)
            } else {
                "-".to_string()
            }
        )?;
    }
    writeln!(
        out,
        "  capacity shared out: {:.2} requests/s (the most any strategy answered at this level)",
        f.capacity_per_s
    )?;
    writeln!(out, "  demand-aware index (served ÷ weighted max-min fair share): {} (1 = every demand met, or capacity split max-min fairly by weight)", index_text(f.demand_index))?;
    writeln!(
        out,
        "  plain Jain's index over goodput / weight (ignores demand): {}",
        index_text(f.plain_index)
    )
}

/// REJECTIONS over all levels: attempts, requests by outcome, the errors seen.
fn rejections(out: &mut dyn Write, total: &StepMeasure) -> io::Result<()> {
    writeln!(out, "\nREJECTIONS")?;
    writeln!(
        out,
        "  rejected attempts {} of {} attempts ({:.2}%); admitted {}",
        total.overall.rejected_attempts,
        total.overall.attempts,
        total.overall.rejection_share() * 100.0,
        total.overall.admitted()
    )?;
    writeln!(
        out,
        "  requests {}: answered {}, failed {} (rejected to the end {}, errors {}; timed out {})",
        total.overall.total(),
        total.overall.ok.count(),
        total.overall.unanswered(),
        total.overall.rejected.count(),
        total.overall.failed.count(),
        total.overall.timed_out
    )?;
    let rej = total.overall.rejected.summary();
    if rej.count > 0 {
        writeln!(
            out,
            "  last attempt of requests rejected to the end: avg {:.2} ms · p99 {:.2} ms",
            rej.mean_ms, rej.p99_ms
        )?;
    }
    for (error, n) in &total.errors {
        writeln!(out, "  failure ×{n}: {error}")?;
    }
    Ok(())
}

fn load_text(results: &RunResults) -> String {
    match results.workload.load {
        crate::workload::LoadMode::Closed => "closed loop".to_string(),
        crate::workload::LoadMode::Open { rate, poisson } => format!(
            "open loop at {rate}/s ({})",
            if poisson { "poisson" } else { "uniform" }
        ),
    }
}

fn length_text(results: &RunResults) -> String {
    match results.workload.length {
        crate::workload::StepLength::Requests(n) => format!("{n} requests"),
        crate::workload::StepLength::Seconds(s) => format!("{s} s"),
    }
}

/// The cluster's cost: idle CPU and membership messages, memory after the load.
fn scale_lines(out: &mut dyn Write, t: &crate::results::TopologyRun) -> std::io::Result<()> {
    if let Some(idle) = &t.idle {
        let messages = idle
            .messages_per_node_s
            .map_or("not reported".to_string(), |m| {
                let protocol = idle.protocol.as_deref().unwrap_or("?");
                format!("{m:.1} msgs/node/s ({protocol})")
            });
        writeln!(
            out,
            "idle:         {:.1} % of one core over {:.1} s · membership {messages}",
            idle.cpu_pct, idle.seconds
        )?;
    }
    if let Some(rss) = t.rss_mb {
        let pss = t
            .pss_mb
            .map(|p| format!(" ({p:.0} MB proportional: shared pages once)"))
            .unwrap_or_default();
        writeln!(
            out,
            "memory:       {rss:.0} MB resident{pss}, all {} nodes",
            t.nodes
        )?;
    }
    Ok(())
}
