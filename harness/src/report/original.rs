//! The original system's benchmark report sections, exactly as it printed them (labels, order,
//! units, number formats, rules and blank lines), so scripts written for its
//! `benchmark_fairness_<strategy>.txt` read ours: the `BENCHMARK` header, one `HOST:` block
//! per host (process table and recent logs), then `BENCHMARK SUMMARY` with the performance,
//! data and final process metrics. A run with several concurrency levels is summarised over
//! all of them together; `Concurrency:` then lists the levels separated by `/`. Times are UTC.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::results::{ProcessSnapshot, RunResults, StrategyRun};
use crate::stats::StepMeasure;

/// Width of the rules.
const WIDTH: usize = 120;

/// Log lines shown per node, as the original showed.
const LOG_LINES_PER_NODE: usize = 3;

/// Characters of a log line kept before it is cut with `...`, as the original cut them.
const LOG_LINE_CHARS: usize = 107;

/// Writes the original's sections of one strategy's report.
pub fn write_original(
    out: &mut dyn Write,
    results: &RunResults,
    run: &StrategyRun,
) -> io::Result<()> {
    let rules = Rules {
        double: "=".repeat(WIDTH),
        single: "-".repeat(WIDTH),
        light: "\u{2500}".repeat(WIDTH),
    };
    let total = run.total();
    header(out, results, run, &total, &rules)?;
    for (host, processes) in by_host(&run.processes) {
        host_block(out, run, host, &processes, &rules)?;
    }
    summary(out, results, run, &total, &rules)
}

/// The original's three kinds of rule.
struct Rules {
    /// `====`: around the header and the summary.
    double: String,
    /// `----`: around a host's process table.
    single: String,
    /// `────`: around a host's recent logs.
    light: String,
}

/// `BENCHMARK`: strategy, requests, the levels and when the run started.
fn header(
    out: &mut dyn Write,
    results: &RunResults,
    run: &StrategyRun,
    total: &StepMeasure,
    rules: &Rules,
) -> io::Result<()> {
    let double = &rules.double;
    let levels: Vec<String> = run
        .by_level()
        .iter()
        .map(|(level, _)| level.to_string())
        .collect();
    writeln!(out, "{double}\nBENCHMARK\n{double}")?;
    writeln!(out, "Fairness Strategy: {}", run.strategy)?;
    writeln!(
        out,
        "Requests: {}, Concurrency: {}",
        total.overall.total(),
        levels.join("/")
    )?;
    writeln!(out, "Started: {}", timestamp(results.started_unix_s))?;
    writeln!(out, "{double}\n")
}

/// `HOST:` block: the host's process table, then its processes' recent logs.
fn host_block(
    out: &mut dyn Write,
    run: &StrategyRun,
    host: &str,
    processes: &[&ProcessSnapshot],
    rules: &Rules,
) -> io::Result<()> {
    let (single, light) = (&rules.single, &rules.light);
    writeln!(out, "{single}\nHOST: {host}\n{single}")?;
    writeln!(
        out,
        "{:<5}{:<13}{:<7}{:<9}{:<9}{:<9}{:<11}{:<9}{:<15}",
        "ID", "Role", "Team", "Status", "Active", "Queue", "Avg(ms)", "Files", "State"
    )?;
    writeln!(out, "{single}")?;
    for p in processes {
        let (status, state) = if p.status == "healthy" {
            ("online", "Ready")
        } else {
            ("offline", "Unavailable")
        };
        writeln!(
            out,
            "{:<5}{:<13}{:<7}{:<9}{:<9}{:<9}{:<11}{:<9}{:<15}",
            p.id,
            p.role,
            p.team,
            status,
            p.active,
            p.queue,
            format!("{:.2}", p.avg_ms),
            p.files,
            state
        )?;
    }
    writeln!(out, "\n{light}\nRECENT LOGS ({host}):\n{light}")?;
    for p in processes {
        let lines = run.logs.get(&p.id).map(Vec::as_slice).unwrap_or_default();
        for line in &lines[lines.len().saturating_sub(LOG_LINES_PER_NODE)..] {
            writeln!(out, "  {}: {}", p.id, cut(line))?;
        }
    }
    Ok(())
}

/// `BENCHMARK SUMMARY`: completion, counts, latency, throughput, records, final metrics.
fn summary(
    out: &mut dyn Write,
    results: &RunResults,
    run: &StrategyRun,
    total: &StepMeasure,
    rules: &Rules,
) -> io::Result<()> {
    let double = &rules.double;
    let ok = total.overall.ok.count();
    let requests = total.overall.total();
    let latency = total.overall.ok.summary();
    let completed = results.started_unix_s + results.wall_s.max(0.0).round() as u64;
    writeln!(out, "\n{double}\nBENCHMARK SUMMARY\n{double}")?;
    writeln!(out, "Completed at: {}", timestamp(completed))?;
    writeln!(out, "Duration: {:.2} seconds\n", total.elapsed_s)?;
    writeln!(out, "Total Requests: {requests}")?;
    writeln!(out, "Successful: {ok}")?;
    writeln!(out, "Failed: {}", requests - ok)?;
    writeln!(
        out,
        "Success Rate: {:.2}%\n",
        ratio(ok as f64 * 100.0, requests)
    )?;
    writeln!(out, "Performance Metrics:")?;
    writeln!(out, "  Average Latency: {:.2} ms", latency.mean_ms)?;
    writeln!(out, "  Min Latency: {:.2} ms", latency.min_ms)?;
    writeln!(out, "  Max Latency: {:.2} ms", latency.max_ms)?;
    writeln!(out, "  P95 Latency: {:.2} ms", latency.p95_ms)?;
    writeln!(out, "  P99 Latency: {:.2} ms", latency.p99_ms)?;
    writeln!(out, "  Throughput: {:.2} req/sec\n", total.throughput())?;
    writeln!(out, "Data Metrics:")?;
    writeln!(out, "  Total Records Returned: {}", total.overall.records)?;
    writeln!(
        out,
        "  Average Records per Query: {:.2}\n",
        ratio(total.overall.records as f64, ok)
    )?;
    writeln!(out, "Final Process Metrics:")?;
    for p in &run.processes {
        writeln!(
            out,
            "  {} ({}/{}): Active={}, Queue={}, AvgTime={:.2}ms, Files={}",
            p.id, p.role, p.team, p.active, p.queue, p.avg_ms, p.files
        )?;
    }
    writeln!(out, "{double}")
}

/// Processes grouped by the host of their address, hosts and ids in order.
fn by_host(processes: &[ProcessSnapshot]) -> BTreeMap<&str, Vec<&ProcessSnapshot>> {
    let mut hosts: BTreeMap<&str, Vec<&ProcessSnapshot>> = BTreeMap::new();
    for p in processes {
        let host = p
            .address
            .rsplit_once(':')
            .map_or(p.address.as_str(), |(host, _)| host);
        hosts.entry(host).or_default().push(p);
    }
    for list in hosts.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    hosts
}

/// A log line cut to the original's width.
fn cut(line: &str) -> String {
    if line.chars().count() > LOG_LINE_CHARS + 3 {
        let kept: String = line.chars().take(LOG_LINE_CHARS).collect();
        format!("{kept}...")
    } else {
        line.to_string()
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), the original's timestamp shape.
fn timestamp(unix_s: u64) -> String {
    let id = crate::utc::stamp(unix_s);
    let (date, time) = id.split_at(8);
    let time = &time[1..];
    format!(
        "{}-{}-{} {}:{}:{}",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    )
}

fn ratio(part: f64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_cut_lines_take_the_original_shape() {
        assert_eq!(timestamp(951_782_400 + 3_661), "2000-02-29 01:01:01");
        let long = format!("[Orchestrator] {}", "x".repeat(200));
        let cut = cut(&long);
        assert_eq!(cut.chars().count(), LOG_LINE_CHARS + 3);
        assert!(cut.ends_with("..."));
        assert_eq!(super::cut("short"), "short");
    }
}
