//! The scale section of `summary.md`: per generated topology, what the cluster costs at rest,
//! how fast it starts, serves and notices a failure, against its node count; how each figure
//! grows with n, and the targets it is held to.

use std::fmt::Write;

use overlay::fault::FaultAction;

use crate::results::{RunResults, StrategyRun};

/// One strategy on one topology, in figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleRow {
    /// The strategy.
    pub strategy: String,
    /// Processes.
    pub nodes: usize,
    /// CPU of the idle cluster, % of one core.
    pub idle_cpu_pct: Option<f64>,
    /// Membership messages sent per node per second while idle.
    pub messages_per_node_s: Option<f64>,
    /// Seconds from launch until every node answered.
    pub ready_s: f64,
    /// Resident memory of all nodes after the load, MB.
    pub rss_mb: Option<f64>,
    /// Proportional memory (shared pages counted once) of all nodes then, MB.
    pub pss_mb: Option<f64>,
    /// Successful queries per second over every step.
    pub qps: f64,
    /// 99th percentile time to answer over every step, ms.
    pub p99_ms: f64,
    /// From a kill to the first node declaring it failed, ms.
    pub detect_first_ms: Option<f64>,
    /// From a kill to the last node that declared it failed, ms.
    pub detect_last_ms: Option<f64>,
    /// Nodes that declared a killed node failed.
    pub observers: usize,
    /// Failure declarations no fault explains.
    pub false_alarms: usize,
}

/// The rows of every run on a generated topology, by strategy then node count.
pub fn scale_rows(results: &RunResults) -> Vec<ScaleRow> {
    let mut rows: Vec<ScaleRow> = results.strategies.iter().filter_map(row).collect();
    rows.sort_by(|a, b| (&a.strategy, a.nodes).cmp(&(&b.strategy, b.nodes)));
    rows
}

fn row(run: &StrategyRun) -> Option<ScaleRow> {
    let topology = run.topology.as_ref()?;
    let total = run.total();
    let kills = run
        .steps
        .iter()
        .filter_map(|s| s.faults.as_ref())
        .flat_map(|f| &f.detection.detections)
        .filter(|d| d.action == FaultAction::Kill);
    let detected: Vec<f64> = kills.filter_map(|d| d.detected_ms).collect();
    let first = detected.iter().copied().reduce(f64::min);
    let last = detected.iter().copied().reduce(f64::max);
    Some(ScaleRow {
        strategy: run.strategy.clone(),
        nodes: topology.nodes,
        idle_cpu_pct: topology.idle.as_ref().map(|i| i.cpu_pct),
        messages_per_node_s: topology.idle.as_ref().and_then(|i| i.messages_per_node_s),
        ready_s: run.startup_s,
        rss_mb: topology.rss_mb,
        pss_mb: topology.pss_mb,
        qps: total.throughput(),
        p99_ms: total.overall.answer.summary().p99_ms,
        detect_first_ms: first,
        detect_last_ms: last,
        observers: detected.len(),
        false_alarms: run
            .steps
            .iter()
            .filter_map(|s| s.faults.as_ref())
            .map(|f| f.detection.false_alarms.len())
            .sum(),
    })
}

/// The section, when the run swept generated topologies.
pub fn section(md: &mut String, results: &RunResults) {
    let rows = scale_rows(results);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Scale: every topology\n");
    let _ = writeln!(md, "| strategy | nodes | idle CPU % of a core | ready s | RSS MB | PSS MB | q/s | p99 ms | detection first / last ms (observers) | membership msgs/node/s | false alarms |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {} | {} | {:.0} | {:.1} | {} / {} ({}) | {} | {} |",
            r.strategy,
            r.nodes,
            cell(r.idle_cpu_pct, 1),
            r.ready_s,
            cell(r.rss_mb, 0),
            cell(r.pss_mb, 0),
            r.qps,
            r.p99_ms,
            cell(r.detect_first_ms, 0),
            cell(r.detect_last_ms, 0),
            r.observers,
            cell(r.messages_per_node_s, 1),
            r.false_alarms
        );
    }
    let _ = writeln!(
        md,
        "\nRSS adds up each node's resident pages, so the pages of the one node binary that all \
         nodes share count once per node; PSS splits each shared page among its users, so its \
         sum is the memory the cluster takes from the machine."
    );
    growth(md, &rows);
    let _ = writeln!(md, "\n### Targets\n");
    for line in targets(&rows) {
        let _ = writeln!(md, "- {line}");
    }
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.decimals$}"))
}

/// The figures of `rows` (one strategy's) as (n, value) points, where measured.
pub fn points(rows: &[&ScaleRow], figure: fn(&ScaleRow) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| Some((r.nodes as f64, figure(r)?)))
        .collect()
}

/// One figure of a [`ScaleRow`]: chart name, title, how to read it from a row.
pub type ScaleFigure = (&'static str, &'static str, fn(&ScaleRow) -> Option<f64>);

/// The figures charted and summarised against n.
pub const FIGURES: [ScaleFigure; 9] = [
    ("scale_idle_cpu", "idle CPU, % of one core", |r| {
        r.idle_cpu_pct
    }),
    (
        "scale_membership_messages",
        "membership messages per node per second",
        |r| r.messages_per_node_s,
    ),
    ("scale_ready", "ready after launch, s", |r| Some(r.ready_s)),
    ("scale_rss", "RSS of all nodes, MB", |r| r.rss_mb),
    (
        "scale_pss",
        "PSS of all nodes (shared pages once), MB",
        |r| r.pss_mb,
    ),
    ("scale_throughput", "successful queries per second", |r| {
        Some(r.qps)
    }),
    ("scale_p99", "p99 time to answer, ms", |r| Some(r.p99_ms)),
    (
        "scale_detection",
        "kill declared by the last node, ms",
        |r| r.detect_last_ms,
    ),
    ("scale_false_alarms", "false failure declarations", |r| {
        Some(r.false_alarms as f64)
    }),
];

/// How each figure grows from the smallest to the largest topology: the exponent k of
/// value ∝ n^k between the two ends (0: flat, 1: linear, 2: quadratic).
fn growth(md: &mut String, rows: &[ScaleRow]) {
    let _ = writeln!(
        md,
        "\n### Growth with n (smallest → largest topology, value ∝ n^k)\n"
    );
    for strategy in strategies(rows) {
        let mine: Vec<&ScaleRow> = rows.iter().filter(|r| r.strategy == strategy).collect();
        for (_, name, figure) in FIGURES {
            let pts = points(&mine, figure);
            let (Some(a), Some(b)) = (pts.first(), pts.last()) else {
                continue;
            };
            let k = exponent(*a, *b);
            let _ = writeln!(
                md,
                "- {strategy} · {name}: {:.1} at {} nodes → {:.1} at {} nodes{}",
                a.1,
                a.0,
                b.1,
                b.0,
                k.map_or(String::new(), |k| format!(" (k = {k:.2})"))
            );
        }
    }
}

/// k of y ∝ n^k through two points, when both values are positive and the sizes differ.
fn exponent(a: (f64, f64), b: (f64, f64)) -> Option<f64> {
    (a.1 > 0.0 && b.1 > 0.0 && b.0 > a.0).then(|| (b.1 / a.1).ln() / (b.0 / a.0).ln())
}

fn strategies(rows: &[ScaleRow]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r.strategy.clone()).collect();
    names.dedup();
    names
}

/// The targets, each with what was measured: met, missed, or not measured here.
pub fn targets(rows: &[ScaleRow]) -> Vec<String> {
    let at = |n: usize| rows.iter().find(|r| r.nodes == n);
    let (smallest, largest) = (
        rows.iter().min_by_key(|r| r.nodes),
        rows.iter().max_by_key(|r| r.nodes),
    );
    let mut lines = Vec::new();
    let mut check = |what: &str, measured: Option<(f64, bool)>| {
        lines.push(match measured {
            Some((v, ok)) => format!("{what}: {v:.2} — {}", if ok { "met" } else { "**missed**" }),
            None => format!("{what}: not measured in this run"),
        });
    };
    let msgs = smallest.zip(largest).and_then(|(a, b)| {
        let smallest = a.messages_per_node_s.filter(|m| *m > 0.0)?;
        let ratio = b.messages_per_node_s? / smallest;
        Some((ratio, ratio <= 2.0))
    });
    check(
        "membership messages per node per second, largest / smallest topology ≤ 2",
        msgs,
    );
    check(
        "idle CPU at 65 nodes ≤ 10 % of a core",
        at(65).and_then(|r| r.idle_cpu_pct).map(|v| (v, v <= 10.0)),
    );
    check(
        "idle CPU at 129 nodes ≤ 20 % of a core",
        at(129).and_then(|r| r.idle_cpu_pct).map(|v| (v, v <= 20.0)),
    );
    check(
        "ready at 129 nodes ≤ 3 s",
        at(129).map(|r| (r.ready_s, r.ready_s <= 3.0)),
    );
    check(
        "RSS of 129 nodes ≤ 1500 MB",
        at(129).and_then(|r| r.rss_mb).map(|v| (v, v <= 1500.0)),
    );
    check(
        "PSS of 129 nodes (shared pages once) ≤ 1500 MB",
        at(129).and_then(|r| r.pss_mb).map(|v| (v, v <= 1500.0)),
    );
    let first = rows
        .iter()
        .filter_map(|r| r.detect_first_ms)
        .reduce(f64::max);
    check(
        "killed worker declared by its first observer ≤ 1000 ms at every size (worst)",
        first.map(|v| (v, v <= 1000.0)),
    );
    check(
        "known to every node ≤ 3000 ms at 129 nodes (last observer)",
        at(129)
            .and_then(|r| r.detect_last_ms)
            .map(|v| (v, v <= 3000.0)),
    );
    let alarms = rows.iter().map(|r| r.false_alarms).sum::<usize>() as f64;
    check(
        "false failure declarations = 0",
        (!rows.is_empty()).then_some((alarms, alarms == 0.0)),
    );
    for (n, share) in [(33, 0.7), (65, 0.5)] {
        let ratio = at(6)
            .zip(at(n))
            .map(|(a, b)| b.qps / a.qps.max(f64::MIN_POSITIVE));
        check(
            &format!(
                "q/s at {n} nodes ≥ {:.0} % of 6 nodes (ratio)",
                share * 100.0
            ),
            ratio.map(|v| (v, v >= share)),
        );
    }
    lines
}
