//! Where a query's time went: its spans grouped by trace, built into trees (a span whose parent
//! is not among them is a root: the client's span is never recorded), laid out in waterfall
//! order (depth first, siblings by start), each with its self time (its duration less the time
//! its children cover; children running side by side count once), and per step the slowest
//! sampled query that left spans. Pure: spans in, figures out.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::spans::{Span, SpanRead};
use super::{SampledQuery, SpanFiles, StepTrace};

/// One span of a query, as a bar of its waterfall.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanBar {
    /// The node that recorded it.
    pub node: String,
    /// The span's name (`queue`, `peer_call`, ...).
    pub name: String,
    /// The peer a `peer_call` went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Depth in its tree (a root is 0).
    pub depth: u32,
    /// When it began, ms after the query's first span began.
    pub start_ms: f64,
    /// How long it lasted, ms.
    pub duration_ms: f64,
    /// Its duration less the time its children cover, ms.
    pub self_ms: f64,
}

impl SpanBar {
    /// `node: name`, with the peer of a call: `A: peer_call→B`.
    pub fn label(&self) -> String {
        match &self.peer {
            Some(peer) => format!("{}: {}→{peer}", self.node, self.name),
            None => format!("{}: {}", self.node, self.name),
        }
    }
}

/// One sampled query with its spans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryTrace {
    /// The query as the client saw it.
    pub query: SampledQuery,
    /// The time its spans cover together, ms (the rest of the client's latency is the client
    /// and the network to the entry node).
    pub spans_ms: f64,
    /// Its spans in waterfall order.
    pub bars: Vec<SpanBar>,
}

impl QueryTrace {
    /// Client latency outside every span (the client, the network to the entry node), ms.
    pub fn outside_ms(&self) -> f64 {
        (self.query.latency_ms - self.spans_ms).max(0.0)
    }

    /// The `n` spans with the most self time, most first.
    pub fn top_self(&self, n: usize) -> Vec<&SpanBar> {
        let mut bars: Vec<&SpanBar> = self.bars.iter().collect();
        bars.sort_by(|a, b| b.self_ms.total_cmp(&a.self_ms));
        bars.truncate(n);
        bars
    }
}

/// The spans of each trace id.
pub fn by_trace(spans: &[Span]) -> HashMap<&str, Vec<&Span>> {
    let mut traces: HashMap<&str, Vec<&Span>> = HashMap::new();
    for span in spans {
        traces.entry(span.trace_id.as_str()).or_default().push(span);
    }
    traces
}

/// How much of `within` the `intervals` cover together (each clipped to it), ns.
pub fn covered_ns(within: (u64, u64), intervals: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    let mut clipped: Vec<(u64, u64)> = intervals
        .into_iter()
        .map(|(a, b)| (a.max(within.0), b.min(within.1)))
        .filter(|(a, b)| a < b)
        .collect();
    clipped.sort_unstable();
    let (mut total, mut reach) = (0, within.0);
    for (a, b) in clipped {
        let a = a.max(reach);
        if b > a {
            total += b - a;
            reach = b;
        }
    }
    total
}

/// One trace's spans as waterfall bars, and the time they cover together (ms). A repeated
/// span id counts once; a span that no root leads to (a loop of parents) is left out.
pub fn bars(spans: &[&Span]) -> (Vec<SpanBar>, f64) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut unique: Vec<&Span> = Vec::new();
    for &span in spans {
        if !index.contains_key(span.span_id.as_str()) {
            index.insert(span.span_id.as_str(), unique.len());
            unique.push(span);
        }
    }
    let spans = unique;
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span.parent_span_id.as_deref().and_then(|p| index.get(p)) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by(|&a, &b| {
            (spans[a].start_unix_ns, &spans[a].span_id)
                .cmp(&(spans[b].start_unix_ns, &spans[b].span_id))
        })
    };
    by_start(&mut roots);
    children.iter_mut().for_each(by_start);
    let t0 = spans.iter().map(|s| s.start_unix_ns).min().unwrap_or(0);
    let ms = |ns: u64| ns as f64 / 1e6;
    let mut out = Vec::new();
    let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        let span = spans[i];
        let window = (span.start_unix_ns, span.end_unix_ns());
        let kids = children[i]
            .iter()
            .map(|&c| (spans[c].start_unix_ns, spans[c].end_unix_ns()));
        out.push(SpanBar {
            node: span.node.clone(),
            name: span.name.clone(),
            peer: (span.name == "peer_call")
                .then(|| span.peer().map(str::to_string))
                .flatten(),
            depth,
            start_ms: ms(span.start_unix_ns - t0),
            duration_ms: ms(span.duration_ns),
            self_ms: ms(span.duration_ns - covered_ns(window, kids)),
        });
        stack.extend(children[i].iter().rev().map(|&c| (c, depth + 1)));
    }
    let end = spans.iter().map(|s| s.end_unix_ns()).max().unwrap_or(t0);
    let rooted = roots
        .iter()
        .map(|&r| (spans[r].start_unix_ns, spans[r].end_unix_ns()));
    (out, ms(covered_ns((t0, end), rooted)))
}

/// The slowest of `sampled` (by client latency) among those with spans in `traces`; the
/// first of equals.
pub fn slowest(sampled: &[SampledQuery], traces: &HashMap<&str, Vec<&Span>>) -> Option<QueryTrace> {
    let mut best: Option<(&SampledQuery, &Vec<&Span>)> = None;
    for query in sampled {
        if let Some(spans) = traces.get(query.trace_id.as_str()) {
            if best.is_none_or(|(b, _)| query.latency_ms > b.latency_ms) {
                best = Some((query, spans));
            }
        }
    }
    let (query, spans) = best?;
    let (bars, spans_ms) = bars(spans);
    Some(QueryTrace {
        query: query.clone(),
        spans_ms,
        bars,
    })
}

/// Each step's trace from its sampled requests and the cluster's span files.
pub fn attribute(steps: Vec<Vec<SampledQuery>>, read: &SpanRead) -> Vec<StepTrace> {
    let traces = by_trace(&read.spans);
    let known: HashSet<&str> = steps
        .iter()
        .flatten()
        .map(|q| q.trace_id.as_str())
        .collect();
    let unknown_spans = read
        .spans
        .iter()
        .filter(|s| !known.contains(s.trace_id.as_str()))
        .count();
    steps
        .into_iter()
        .map(|sampled| {
            let spans = sampled
                .iter()
                .filter_map(|q| traces.get(q.trace_id.as_str()))
                .map(Vec::len)
                .sum();
            StepTrace {
                slowest: slowest(&sampled, &traces),
                files: SpanFiles::Read {
                    spans,
                    skipped_lines: read.skipped,
                    unknown_spans,
                },
                sampled,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
