//! `benchmark_fairness_<strategy>.txt`: first the original's sections in its exact format
//! ([`super::original`]), then this report's own sections (header,
//! per-host process table, recent logs, summary, final process metrics) plus per-team
//! results, the fairness index, rejections and state transitions. Rendered into any `Write`.

use std::io::{self, Write};

use crate::fairness::demand::index_text;
use crate::faults::step::Amplification;
use crate::results::{RunResults, StrategyRun};
use crate::stats::{per_second, StepMeasure};

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
    let w = &results.workload;
    let rule = "=".repeat(78);
    writeln!(out, "{rule}")?;
    writeln!(
        out,
        "FAIRNESS BENCHMARK REPORT — strategy: {}",
        run.strategy
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
    writeln!(
        out,
        "cluster:      {} ({:?}), target {}",
        w.config.display(),
        w.mode,
        run.target
    )?;
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
    writeln!(out)?;
    process_table(out, run, "PROCESSES")?;
    writeln!(out, "\nRECENT LOGS")?;
    for (node, lines) in &run.logs {
        for line in lines.iter().rev().take(LOG_LINES).rev() {
            writeln!(out, "  [{node}] {line}")?;
        }
    }
    let total = run.total();
    writeln!(out, "\nSUMMARY (all levels)")?;
    summary(out, &total, w.timeout_s)?;
    records(out, &total)?;
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
    if let Some((level, top)) = run.by_level().last() {
        writeln!(out, "\nPER TEAM (concurrency {level})")?;
        teams(out, top, results)?;
        let f = results.fairness(*level, top);
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
        )?;
    }
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

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn process_table(out: &mut dyn Write, run: &StrategyRun, title: &str) -> io::Result<()> {
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "  {:<4} {:<21} {:<12} {:<6} {:<11} {:>6} {:>6} {:>9} {:>6} {:>9}",
        "id", "host", "role", "team", "status", "active", "queue", "avg ms", "files", "served"
    )?;
    for p in &run.processes {
        writeln!(
            out,
            "  {:<4} {:<21} {:<12} {:<6} {:<11} {:>6} {:>6} {:>9.2} {:>6} {:>9}",
            p.id,
            p.address,
            p.role,
            p.team,
            p.status,
            p.active,
            p.queue,
            p.avg_ms,
            p.files,
            p.queries_served
        )?;
    }
    Ok(())
}

fn summary(out: &mut dyn Write, m: &StepMeasure, timeout_s: f64) -> io::Result<()> {
    let total = m.overall.total();
    let ok = m.overall.ok.count();
    let s = m.overall.ok.summary();
    let service = m.overall.service.summary();
    writeln!(out, "  total requests:      {total}")?;
    writeln!(out, "  successful:          {ok}")?;
    writeln!(
        out,
        "  failed:              {} (rejected {}, errors {})",
        total - ok,
        m.overall.rejected.count(),
        m.overall.failed.count()
    )?;
    writeln!(out, "  success rate:        {:.2}%", pct(ok, total))?;
    let answer = m.overall.answer.summary();
    writeln!(
        out,
        "  time to answer:      avg {:.2} · p50 {:.2} · p95 {:.2} · p99 {:.2} · max {:.2} ms (from first attempt, rejections and backoffs included; unanswered at the {} s timeout)",
        answer.mean_ms, answer.p50_ms, answer.p95_ms, answer.p99_ms, answer.max_ms, timeout_s
    )?;
    writeln!(out, "  latency of answered attempts (success only):")?;
    writeln!(out, "  avg latency:         {:.2} ms", s.mean_ms)?;
    writeln!(out, "  min latency:         {:.2} ms", s.min_ms)?;
    writeln!(out, "  max latency:         {:.2} ms", s.max_ms)?;
    writeln!(out, "  p50 latency:         {:.2} ms", s.p50_ms)?;
    writeln!(out, "  p95 latency:         {:.2} ms", s.p95_ms)?;
    writeln!(out, "  p99 latency:         {:.2} ms", s.p99_ms)?;
    writeln!(
        out,
        "  service time:        avg {:.2} ms · p99 {:.2} ms (from actual send)",
        service.mean_ms, service.p99_ms
    )?;
    writeln!(
        out,
        "  throughput:          {:.2} successful queries/s over {:.2} s measured",
        m.throughput(),
        m.elapsed_s
    )?;
    writeln!(out, "  warm-up (excluded):  {} queries", m.warmup_queries)
}

fn records(out: &mut dyn Write, m: &StepMeasure) -> io::Result<()> {
    writeln!(out, "  records total:       {}", m.overall.records)?;
    for (name, c) in &m.queries {
        let per = if c.ok > 0 {
            c.records as f64 / c.ok as f64
        } else {
            0.0
        };
        writeln!(
            out,
            "  records {name}: {} ({per:.1} per query; ok {} rejected {} failed {})",
            c.records, c.ok, c.rejected, c.failed
        )?;
    }
    Ok(())
}

fn teams(out: &mut dyn Write, m: &StepMeasure, results: &RunResults) -> io::Result<()> {
    writeln!(
        out,
        "  {:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "team",
        "weight",
        "requests",
        "admitted",
        "ok",
        "rejected",
        "failed",
        "timeout",
        "goodput/s",
        "rej att %",
        "answer99",
        "ok p99"
    )?;
    for t in &results.workload.tenants {
        let series = m.teams.get(&t.team).cloned().unwrap_or_default();
        writeln!(
            out,
            "  {:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10.2} {:>9.1} {:>9.2} {:>9.2}",
            t.team,
            t.weight,
            series.total(),
            series.admitted(),
            series.ok.count(),
            series.rejected.count(),
            series.failed.count(),
            series.timed_out,
            per_second(series.ok.count(), m.elapsed_s),
            series.rejection_share() * 100.0,
            series.answer.summary().p99_ms,
            series.ok.summary().p99_ms
        )?;
    }
    writeln!(out, "  admitted: attempts the node let in; rejected/failed: requests unanswered in the end; rej att %: rejected attempts of all attempts")
}

/// FAULTS AND DETECTION and CORRECTNESS: per step, what fired, what the clients saw before,
/// during and after, how fast each observer noticed, false alarms, amplification, verdicts.
fn faults_section(out: &mut dyn Write, run: &StrategyRun) -> io::Result<()> {
    writeln!(
        out,
        "\nCORRECTNESS (aggregate answers vs the harness's own scan)"
    )?;
    for step in &run.steps {
        let c = &step.measure.correctness;
        writeln!(
            out,
            "  concurrency {:>4}: checked {} · correct {} · partial-and-declared {} · partial-but-silent {} · wrong {}{}",
            step.concurrency,
            c.checked,
            c.correct,
            c.partial_declared,
            c.partial_silent,
            c.wrong,
            if c.failures() > 0 { "  << FAILURE" } else { "" }
        )?;
        for example in &c.examples {
            writeln!(out, "    e.g. {example}")?;
        }
    }
    let faulted: Vec<_> = run
        .steps
        .iter()
        .filter_map(|s| s.faults.as_ref().map(|f| (s, f)))
        .collect();
    if faulted.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nFAULTS AND DETECTION TIMES")?;
    for (step, f) in faulted {
        writeln!(out, "  concurrency {}:", step.concurrency)?;
        for e in &f.fired {
            writeln!(
                out,
                "    {:>7.2} s  {:<9} {}{}{}",
                e.fired.at_s,
                e.fired.action.name(),
                e.fired.target,
                if e.fired.auto_undo {
                    " (end of duration)"
                } else {
                    ""
                },
                e.error
                    .as_deref()
                    .map(|e| format!("  FAILED: {e}"))
                    .unwrap_or_default()
            )?;
        }
        writeln!(
            out,
            "    phase      seconds   ok/s    p99 ms   ok  failed  rejected  partial  retried"
        )?;
        let phases = [
            ("before", &f.before),
            ("during", &f.during),
            ("after", &f.after),
        ];
        let windows = f
            .windows
            .iter()
            .map(|w| w.label.as_str())
            .zip(&f.per_window);
        for (name, p) in phases.into_iter().chain(windows) {
            writeln!(
                out,
                "    {name:<10} {:>6.1} {:>7.1} {:>8.1} {:>6} {:>6} {:>8} {:>8} {:>8}",
                p.seconds, p.throughput, p.p99_ms, p.ok, p.failed, p.rejected, p.partial, p.retried
            )?;
        }
        let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0} ms"));
        for d in &f.detection.detections {
            writeln!(
                out,
                "    {} {}: {} suspected after {}, declared failed after {}, recovery seen after {}",
                d.action.name(),
                d.target,
                d.observer,
                ms(d.suspected_ms),
                ms(d.detected_ms),
                ms(d.recovered_ms)
            )?;
        }
        writeln!(out, "    false alarms: {}", f.detection.false_alarms.len())?;
        for alarm in &f.detection.false_alarms {
            writeln!(out, "      {alarm}")?;
        }
        for (name, p) in [
            ("during faults", &f.amplification.during),
            ("outside faults", &f.amplification.outside),
        ] {
            let w = &p.work;
            writeln!(
                out,
                "    amplification {name:<15} {:>6} queries · per query: {:.2} peer calls, {:.3} failed calls, {:.3} retried tasks, {:.3} failovers · {} unserved",
                p.queries,
                p.per_query(w.peer_calls),
                p.per_query(w.peer_call_failures),
                p.per_query(w.retries),
                p.per_query(w.failovers),
                w.unserved
            )?;
        }
        hedge_lines(out, &f.amplification)?;
        for note in &f.notes {
            writeln!(out, "    note: {note}")?;
        }
    }
    Ok(())
}

/// Hedging beside the amplification lines: hedges as a share of peer calls inside and
/// outside the fault windows, how many won, calls cancelled, peers ejected.
fn hedge_lines(out: &mut dyn Write, amplification: &Amplification) -> io::Result<()> {
    let periods = [
        ("during faults", &amplification.during.work),
        ("outside faults", &amplification.outside.work),
    ];
    for (name, w) in periods {
        writeln!(
            out,
            "    hedging       {name:<15} {:>6} hedges = {:.2}% of peer calls · {} won · {} calls cancelled · {} ejections",
            w.hedges_sent,
            pct(w.hedges_sent, w.peer_calls),
            w.hedges_won,
            w.calls_cancelled,
            w.ejections
        )?;
    }
    if periods.iter().all(|(_, w)| w.hedges_sent == 0) {
        writeln!(
            out,
            "    hedging: none sent — no call was slow past its hedge delay, or no slice had a second holder (with replication 1 nothing is hedged)"
        )?;
    }
    Ok(())
}
