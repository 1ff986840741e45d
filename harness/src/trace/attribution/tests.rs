//! Trees, self times and the slowest choice on hand-made spans.

use serde_json::json;

use super::*;

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const OTHER: &str = "11111111111111111111111111111111";
const CLIENT: &str = "b7ad6b7169203331";
/// Unix ns of the query's first span.
const BASE: u64 = 1_700_000_000_000_000_000;

/// A span of trace `trace`: `id` (one hex digit, repeated) under `parent`, from `start` to
/// `end` ms after [`BASE`].
fn span(
    trace: &str,
    id: char,
    parent: Option<&str>,
    node: &str,
    name: &str,
    ms: (u64, u64),
) -> Span {
    let mut attributes = serde_json::Map::new();
    if let Some(peer) = name.strip_prefix("peer_call") {
        attributes.insert("peer".into(), json!(peer));
    }
    Span {
        trace_id: trace.into(),
        span_id: id.to_string().repeat(16),
        parent_span_id: parent.map(|p| {
            if p.len() == 1 {
                p.repeat(16)
            } else {
                p.to_string()
            }
        }),
        name: if name.starts_with("peer_call") {
            "peer_call"
        } else {
            name
        }
        .into(),
        node: node.into(),
        start_unix_ns: BASE + ms.0 * 1_000_000,
        duration_ns: (ms.1 - ms.0) * 1_000_000,
        attributes,
    }
}

/// A query through A to B and E side by side, then a chunk call (a second root).
fn query_spans(trace: &str) -> Vec<Span> {
    vec![
        span(trace, '1', Some(CLIENT), "A", "query", (0, 100)),
        span(trace, '2', Some("1"), "A", "admission", (0, 40)),
        span(trace, '3', Some("2"), "A", "queue", (1, 39)),
        span(trace, '4', Some("1"), "A", "peer_callB", (40, 90)),
        span(trace, '6', Some("1"), "A", "peer_callE", (42, 80)),
        span(trace, '5', Some("4"), "B", "peer_scan", (45, 85)),
        span(trace, '7', Some("6"), "E", "peer_scan", (44, 78)),
        span(trace, '8', Some("5"), "B", "local_scan", (46, 84)),
        span(trace, '9', Some("1"), "A", "merge", (90, 95)),
        span(trace, 'a', Some(CLIENT), "A", "chunk", (101, 103)),
    ]
}

fn sampled(trace: &str, latency_ms: f64) -> SampledQuery {
    SampledQuery {
        trace_id: trace.into(),
        query: "count".into(),
        team: "green".into(),
        outcome: "ok".into(),
        latency_ms,
        start_unix_ms: 0,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_tree_is_laid_out_depth_first_with_siblings_by_start() {
    let spans = query_spans(T);
    let refs: Vec<&Span> = spans.iter().rev().collect();
    let (bars, spans_ms) = bars(&refs);
    let order: Vec<(String, u32)> = bars.iter().map(|b| (b.label(), b.depth)).collect();
    let expected = [
        ("A: query", 0),
        ("A: admission", 1),
        ("A: queue", 2),
        ("A: peer_call→B", 1),
        ("B: peer_scan", 2),
        ("B: local_scan", 3),
        ("A: peer_call→E", 1),
        ("E: peer_scan", 2),
        ("A: merge", 1),
        ("A: chunk", 0),
    ];
    let expected: Vec<(String, u32)> = expected.iter().map(|(l, d)| (l.to_string(), *d)).collect();
    assert_eq!(order, expected);
    assert!(close(bars[3].start_ms, 40.0) && close(bars[3].duration_ms, 50.0));
    assert!(
        close(spans_ms, 102.0),
        "two roots cover 100 + 2 ms: {spans_ms}"
    );
}

#[test]
fn self_time_is_what_no_child_covers_and_side_by_side_children_count_once() {
    let spans = query_spans(T);
    let refs: Vec<&Span> = spans.iter().collect();
    let (bars, _) = bars(&refs);
    let selfs: Vec<(String, f64)> = bars.iter().map(|b| (b.label(), b.self_ms)).collect();
    let expected = [
        ("A: query", 5.0),
        ("A: admission", 2.0),
        ("A: queue", 38.0),
        ("A: peer_call→B", 10.0),
        ("B: peer_scan", 2.0),
        ("B: local_scan", 38.0),
        ("A: peer_call→E", 4.0),
        ("E: peer_scan", 34.0),
        ("A: merge", 5.0),
        ("A: chunk", 2.0),
    ];
    for ((label, got), (want_label, want)) in selfs.iter().zip(expected) {
        assert_eq!(label, want_label);
        assert!(close(*got, want), "{label}: {got} ms, expected {want}");
    }
}

#[test]
fn covered_time_is_clipped_to_the_parent_and_overlaps_count_once() {
    assert_eq!(covered_ns((10, 20), [(0, 12), (11, 15), (18, 30)]), 5 + 2);
    assert_eq!(covered_ns((10, 20), [(0, 5), (25, 30), (15, 15)]), 0);
    assert_eq!(covered_ns((10, 20), [(0, 100)]), 10);
    assert_eq!(covered_ns((10, 20), []), 0);
}

#[test]
fn orphans_become_roots_loops_are_left_out_and_repeats_count_once() {
    let mut spans = query_spans(T);
    // Its parent (on a node whose file was lost) is not recorded.
    spans.push(span(T, 'b', Some("c"), "F", "local_scan", (50, 60)));
    // Two spans naming each other as parent: no root leads to them.
    spans.push(span(T, 'd', Some("e"), "C", "merge", (1, 2)));
    spans.push(span(T, 'e', Some("d"), "C", "merge", (1, 2)));
    spans.push(spans[2].clone());
    let refs: Vec<&Span> = spans.iter().collect();
    let (bars, spans_ms) = bars(&refs);
    assert_eq!(bars.len(), 11, "{bars:#?}");
    assert_eq!(bars.iter().filter(|b| b.name == "queue").count(), 1);
    let orphan = bars.iter().find(|b| b.node == "F").expect("orphan kept");
    assert_eq!(orphan.depth, 0);
    assert!(
        close(spans_ms, 102.0),
        "the orphan lies within the query: {spans_ms}"
    );
    assert!(!bars.iter().any(|b| b.node == "C"));
}

#[test]
fn the_slowest_query_with_spans_is_chosen() {
    let mut spans = query_spans(T);
    spans.extend(query_spans(OTHER));
    let traces = by_trace(&spans);
    let no_spans = "22222222222222222222222222222222";
    let queries = [
        sampled(OTHER, 90.0),
        sampled(no_spans, 500.0),
        sampled(T, 110.0),
    ];
    let chosen = slowest(&queries, &traces).expect("one has spans");
    assert_eq!(chosen.query.trace_id, T, "the slowest with spans");
    assert!(
        close(chosen.outside_ms(), 8.0),
        "110 ms at the client, 102 in spans"
    );
    let top: Vec<String> = chosen.top_self(3).iter().map(|b| b.label()).collect();
    assert_eq!(top, ["A: queue", "B: local_scan", "E: peer_scan"]);
    assert!(slowest(&queries[1..2], &traces).is_none());
    assert!(slowest(&[], &traces).is_none());
}

#[test]
fn each_step_gets_its_own_slowest_and_foreign_and_bad_lines_are_counted() {
    let mut read = SpanRead::default();
    for s in query_spans(T).iter().chain(&query_spans(OTHER)) {
        let line = json!({
            "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id,
            "name": s.name, "node": s.node, "start_unix_ns": s.start_unix_ns,
            "duration_ns": s.duration_ns, "attributes": s.attributes,
        });
        read.add_text(&line.to_string());
    }
    read.add_text("{\"trace_id\": \"cut");
    let foreign = "33333333333333333333333333333333";
    read.spans.extend(query_spans(foreign).into_iter().take(2));
    let steps = attribute(
        vec![vec![sampled(T, 110.0)], vec![sampled(OTHER, 5.0)], vec![]],
        &read,
    );
    assert_eq!(steps.len(), 3);
    let read_of = |i: usize| match &steps[i].files {
        SpanFiles::Read {
            spans,
            skipped_lines,
            unknown_spans,
        } => (*spans, *skipped_lines, *unknown_spans),
        other => panic!("{other:?}"),
    };
    assert_eq!(read_of(0), (10, 1, 2));
    assert_eq!(read_of(2), (0, 1, 2));
    assert_eq!(steps[0].slowest.as_ref().unwrap().query.trace_id, T);
    assert_eq!(steps[1].slowest.as_ref().unwrap().query.trace_id, OTHER);
    assert!(steps[2].slowest.is_none());
}
