//! The tables of a strategy's report that read one measure or the process list: processes,
//! the summary of all levels, records per query and the per-team table.

use std::io::{self, Write};

use super::{RunResults, StrategyRun};
use crate::stats::{per_second, StepMeasure};

/// `part` as a percentage of `whole` (0 when there is no whole).
pub(super) fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// One row per process: address, role, team, status, load and what it served.
pub(super) fn process_table(out: &mut dyn Write, run: &StrategyRun, title: &str) -> io::Result<()> {
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

/// Counts, success rate, time to answer, success latency, service time and throughput.
pub(super) fn summary(out: &mut dyn Write, m: &StepMeasure, timeout_s: f64) -> io::Result<()> {
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

/// Records returned in total and per query of the mix.
pub(super) fn records(out: &mut dyn Write, m: &StepMeasure) -> io::Result<()> {
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

/// One row per team: requests, outcomes, goodput, rejected attempts and p99s.
pub(super) fn teams(out: &mut dyn Write, m: &StepMeasure, results: &RunResults) -> io::Result<()> {
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
