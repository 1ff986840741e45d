//! "Where the time went", a section of `summary.md` when the workload traces: per step, the
//! slowest sampled query's total at the client and the spans with the most self time, with a
//! link to its waterfall chart.

use std::fmt::Write;

use crate::results::{RunResults, Step, StrategyRun};
use crate::trace::{QueryTrace, SpanFiles};

/// Spans named per query.
const TOP_SPANS: usize = 5;

/// The file stem of a step's waterfall chart.
pub fn waterfall_stem(run: &StrategyRun, step: &Step) -> String {
    format!("waterfall_{}", super::step_stem(run, step))
}

/// `A: queue 41.0 ms (52 %), E: peer_call→F 20.0 ms (26 %), …, outside the spans (…) 3.0 ms
/// (4 %)`: of the `top` spans with the most self time those with 0.05 ms or more, and the client's time outside every span, as
/// shares of the client's total.
pub fn where_time_went(trace: &QueryTrace, top: usize) -> String {
    let total = trace.query.latency_ms;
    let share = |ms: f64| {
        if total > 0.0 {
            format!("{:.0} %", ms / total * 100.0)
        } else {
            "-".to_string()
        }
    };
    let mut parts: Vec<String> = trace
        .top_self(top)
        .iter()
        .filter(|bar| bar.self_ms >= 0.05)
        .map(|bar| {
            format!(
                "{} {:.1} ms ({})",
                bar.label(),
                bar.self_ms,
                share(bar.self_ms)
            )
        })
        .collect();
    let outside = trace.outside_ms();
    parts.push(format!(
        "outside the spans (client, network, pauses between attempts) {outside:.1} ms ({})",
        share(outside)
    ));
    parts.join(", ")
}

/// Writes the section when some step was traced; otherwise nothing.
pub fn section(md: &mut String, results: &RunResults) {
    let runs = results.all_runs();
    if !runs
        .iter()
        .any(|r| r.steps.iter().any(|s| s.trace.is_some()))
    {
        return;
    }
    let _ = writeln!(md, "\n## Where the time went\n");
    let _ = writeln!(
        md,
        "The first {} measured requests of each step carried a sampled `traceparent`, and each node recorded their spans. Per step: the slowest of them at the client (among those that left spans), and its spans with the most **self time** (a span's time less what its children cover). Calls running side by side each count their own time, so the shares may add up past 100 %.\n",
        results.workload.trace_per_step
    );
    for run in runs {
        let traced: Vec<&Step> = run.steps.iter().filter(|s| s.trace.is_some()).collect();
        let Some(first) = traced.first().and_then(|s| s.trace.as_ref()) else {
            continue;
        };
        match &first.files {
            SpanFiles::Read {
                skipped_lines,
                unknown_spans,
                ..
            } => {
                let _ = writeln!(
                    md,
                    "**{}** (span files: {skipped_lines} lines skipped as not spans, {unknown_spans} spans of traces the harness did not sample):\n",
                    run.name()
                );
            }
            SpanFiles::NotRead { why } => {
                let _ = writeln!(
                    md,
                    "**{}: spans not collected** ({why}); the sampled trace ids are in results.json (`steps[].trace.sampled`).\n",
                    run.name()
                );
                continue;
            }
        }
        for step in traced {
            step_line(md, run, step);
        }
        let _ = writeln!(md);
    }
}

/// One step's line: its slowest sampled query and where its time went.
fn step_line(md: &mut String, run: &StrategyRun, step: &Step) {
    let Some(trace) = &step.trace else {
        return;
    };
    let head = format!(
        "- concurrency {} · repetition {}",
        step.concurrency, step.repetition
    );
    let spans = match trace.files {
        SpanFiles::Read { spans, .. } => spans,
        SpanFiles::NotRead { .. } => 0,
    };
    let Some(slowest) = &trace.slowest else {
        let _ = writeln!(
            md,
            "{head}: {} sampled, no spans of them found",
            trace.sampled.len()
        );
        return;
    };
    let q = &slowest.query;
    let _ = writeln!(
        md,
        "{head}: slowest of {} sampled ({spans} spans): `{}` for {} ({}), **{:.1} ms** at the client — {}. [waterfall]({stem}.svg) ([png]({stem}.png))",
        trace.sampled.len(),
        q.query,
        q.team,
        q.outcome,
        q.latency_ms,
        where_time_went(slowest, TOP_SPANS),
        stem = waterfall_stem(run, step),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SampledQuery, SpanBar};

    fn bar(node: &str, name: &str, peer: Option<&str>, self_ms: f64) -> SpanBar {
        SpanBar {
            node: node.into(),
            name: name.into(),
            peer: peer.map(str::to_string),
            depth: 0,
            start_ms: 0.0,
            duration_ms: self_ms,
            self_ms,
        }
    }

    #[test]
    fn an_untraced_run_has_no_section_and_unread_spans_are_said_so() {
        use crate::results::fixture;
        let mut results = fixture::run(
            "r",
            vec![fixture::strategy("strict", vec![fixture::step(8, 0, 5)])],
        );
        assert!(!crate::report::summary::run_summary(&results).contains("Where the time went"));
        results.strategies[0].steps[0].trace = Some(crate::trace::StepTrace {
            sampled: Vec::new(),
            files: SpanFiles::NotRead {
                why: "the cluster is remote".into(),
            },
            slowest: None,
        });
        let mut md = String::new();
        section(&mut md, &results);
        assert!(md.contains("## Where the time went"), "{md}");
        assert!(
            md.contains("**strict: spans not collected** (the cluster is remote)"),
            "{md}"
        );
    }

    #[test]
    fn the_spans_with_the_most_self_time_are_named_with_their_share() {
        let trace = QueryTrace {
            query: SampledQuery {
                trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                query: "count".into(),
                team: "green".into(),
                outcome: "ok".into(),
                latency_ms: 80.0,
                start_unix_ms: 0,
            },
            spans_ms: 77.0,
            bars: vec![
                bar("A", "query", None, 1.0),
                bar("E", "peer_call", Some("F"), 20.0),
                bar("A", "queue", None, 41.0),
                bar("F", "local_scan", None, 15.0),
            ],
        };
        assert_eq!(
            where_time_went(&trace, 2),
            "A: queue 41.0 ms (51 %), E: peer_call→F 20.0 ms (25 %), outside the spans (client, network, pauses between attempts) 3.0 ms (4 %)"
        );
    }
}
