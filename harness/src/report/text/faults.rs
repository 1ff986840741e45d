//! The CORRECTNESS and FAULTS AND DETECTION TIMES sections: per step, the aggregate answers
//! checked, what fired, what the clients saw before, during and after, how fast each
//! observer noticed, false alarms, amplification and hedging.

use std::io::{self, Write};

use super::tables::pct;
use super::StrategyRun;
use crate::faults::step::{Amplification, StepFaults};

/// CORRECTNESS, then (when any step had a fault schedule) FAULTS AND DETECTION TIMES.
pub(super) fn faults_section(out: &mut dyn Write, run: &StrategyRun) -> io::Result<()> {
    correctness(out, run)?;
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
        fired(out, f)?;
        phases(out, f)?;
        detections(out, f)?;
        amplification(out, &f.amplification)?;
        hedge_lines(out, &f.amplification)?;
        for note in &f.notes {
            writeln!(out, "    note: {note}")?;
        }
    }
    Ok(())
}

/// Per step: aggregate answers checked against the harness's own scan, with examples.
fn correctness(out: &mut dyn Write, run: &StrategyRun) -> io::Result<()> {
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
    Ok(())
}

/// The events as they fired, with what went wrong carrying them out.
fn fired(out: &mut dyn Write, f: &StepFaults) -> io::Result<()> {
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
    Ok(())
}

/// Queries before, during and after the windows, then inside each window.
fn phases(out: &mut dyn Write, f: &StepFaults) -> io::Result<()> {
    writeln!(
        out,
        "    phase      seconds   ok/s answer99   ok  failed  rejected  partial  retried"
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
    Ok(())
}

/// Each observer's suspicion, declaration and recovery times, then the false alarms.
fn detections(out: &mut dyn Write, f: &StepFaults) -> io::Result<()> {
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
    remerge(out, f)?;
    writeln!(out, "    false alarms: {}", f.detection.false_alarms.len())?;
    for alarm in &f.detection.false_alarms {
        writeln!(out, "      {alarm}")?;
    }
    Ok(())
}

/// Per network partition: who declared whom failed across the cut, and the re-merge time (the
/// last of those declarations to see its node recovered after the heal).
fn remerge(out: &mut dyn Write, f: &StepFaults) -> io::Result<()> {
    let mut by_fault: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
    let mut slowest: std::collections::BTreeMap<usize, Option<f64>> = Default::default();
    for d in &f.detection.detections {
        if d.action != overlay::fault::FaultAction::NetPartition || d.detected_ms.is_none() {
            continue;
        }
        by_fault
            .entry(d.index)
            .or_default()
            .push(format!("{}→{}", d.observer, d.target));
        let worst = slowest.entry(d.index).or_insert(Some(0.0));
        *worst = worst.zip(d.recovered_ms).map(|(a, b)| a.max(b));
    }
    for (index, declared) in by_fault {
        let merged =
            slowest[&index].map_or("not within the step".to_string(), |v| format!("{v:.0} ms"));
        writeln!(
            out,
            "    net_partition fault[{index}]: declared failed across the cut: {}; every one seen alive again (re-merge) after {merged}",
            declared.join(", ")
        )?;
    }
    Ok(())
}

/// Routing work per query inside and outside the fault windows.
fn amplification(out: &mut dyn Write, amplification: &Amplification) -> io::Result<()> {
    for (name, p) in [
        ("during faults", &amplification.during),
        ("outside faults", &amplification.outside),
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
            "    hedging       {name:<15} {:>6} hedges = {:.2}% of peer calls ({} free: peer suspected) · {} won · {} calls cancelled · {} ejections",
            w.hedges_sent,
            pct(w.hedges_sent, w.peer_calls),
            w.hedges_free,
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
