//! The health part of `harness metrics`: each node's state and time in states, what it knows
//! of its peers (status, circuit breaker, probes), hook runs, control, membership, active faults
//! and the rows it skipped while loading.

use std::fmt::Write as _;

use overlay::proto::MetricsResponse;

/// The state, peer, hook and fault tables of every node, in that order.
pub fn health_tables(nodes: &[MetricsResponse]) -> String {
    let mut out = state_table(nodes);
    out.push('\n');
    out += &peer_table(nodes);
    out.push('\n');
    out += &hook_table(nodes);
    out.push('\n');
    out += &membership_table(nodes);
    out += &fault_lines(nodes);
    out += &skipped_lines(nodes);
    out
}

/// One row per node: state and since when, transitions, and the share of uptime per state.
fn state_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:<9} {:>9} {:>11}  {}\n",
        "id", "state", "since s", "transitions", "time in states"
    );
    for m in nodes {
        let times: Vec<String> = m
            .state_times
            .iter()
            .filter(|t| t.entered > 0)
            .map(|t| format!("{} {:.1}% ({}x)", t.state, t.probability * 100.0, t.entered))
            .collect();
        let _ = writeln!(
            out,
            "{:<4} {:<9} {:>9.1} {:>11}  {}",
            m.process_id,
            m.state,
            m.state_since_s,
            m.state_transitions.len(),
            times.join(", ")
        );
    }
    out
}

/// One row per (node, peer): status, breaker, consecutive failures, latest probe round trip,
/// failures and recoveries detected.
fn peer_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:<5} {:<10} {:<10} {:>8} {:>9} {:>9} {:>10}\n",
        "id", "peer", "status", "breaker", "failing", "rtt ms", "failures", "recoveries"
    );
    for m in nodes {
        for n in &m.neighbors {
            let _ = writeln!(
                out,
                "{:<4} {:<5} {:<10} {:<10} {:>8} {:>9.2} {:>9} {:>10}",
                m.process_id,
                n.id,
                n.status,
                n.breaker,
                n.consecutive_failures,
                n.last_rtt_ms,
                n.failures_detected,
                n.recoveries_detected
            );
        }
    }
    out
}

/// One row per node: hook runs and whether the control service accepts requests.
fn hook_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:>6} {:>9} {:>9} {:>7} {:>7} {:>9} {:<7}\n",
        "id", "hooks", "triggered", "succeeded", "failed", "dropped", "timed out", "control"
    );
    for m in nodes {
        let h = m.hooks.unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<4} {:>6} {:>9} {:>9} {:>7} {:>7} {:>9} {:<7}",
            m.process_id,
            h.registered,
            h.triggered,
            h.succeeded,
            h.failed,
            h.dropped,
            h.timed_out,
            if m.control_enabled { "on" } else { "off" }
        );
    }
    out
}

/// One row per node: the membership protocol's traffic, drops, view and open channels.
fn membership_table(nodes: &[MetricsResponse]) -> String {
    let mut out = format!(
        "{:<4} {:<8} {:>8} {:>8} {:>10} {:>10} {:>7} {:>5} {:>7} {:>4} {:>7} {:>8}  {}\n",
        "id",
        "protocol",
        "msgs out",
        "msgs in",
        "bytes out",
        "bytes in",
        "dropped",
        "alive",
        "suspect",
        "down",
        "refuted",
        "channels",
        "drops by reason"
    );
    for m in nodes {
        let s = m.membership.clone().unwrap_or_default();
        let drops: Vec<String> = s
            .drops
            .iter()
            .filter(|d| d.count > 0)
            .map(|d| format!("{} {}", d.reason, d.count))
            .collect();
        let _ = writeln!(
            out,
            "{:<4} {:<8} {:>8} {:>8} {:>10} {:>10} {:>7} {:>5} {:>7} {:>4} {:>7} {:>8}  {}",
            m.process_id,
            s.protocol,
            s.messages_sent,
            s.messages_received,
            s.bytes_sent,
            s.bytes_received,
            s.datagrams_dropped,
            s.members_alive,
            s.members_suspect,
            s.members_down,
            s.refutations,
            s.open_channels,
            drops.join(", ")
        );
    }
    out
}

/// One line per active fault, or one line saying there is none.
fn fault_lines(nodes: &[MetricsResponse]) -> String {
    let mut out = String::new();
    for m in nodes {
        for f in &m.active_faults {
            let target = if f.peer.is_empty() { "all" } else { &f.peer };
            let what = match f.kind.as_str() {
                "delay" => format!("delay {} ms", f.delay_ms),
                "drop" => format!(
                    "drop p={}",
                    if f.probability > 0.0 {
                        f.probability
                    } else {
                        1.0
                    }
                ),
                other => other.to_string(),
            };
            let left = if f.duration_ms > 0 {
                format!(", {:.1} s left", f.remaining_s)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{} fault {}: {what} on {target}{left}",
                m.process_id, f.id
            );
        }
    }
    if out.is_empty() {
        out.push_str("no active faults\n");
    }
    out
}

/// One line per (node, reason) of rows skipped while loading, with the first such row.
fn skipped_lines(nodes: &[MetricsResponse]) -> String {
    let mut out = String::new();
    for m in nodes {
        for r in &m.skipped_rows {
            let _ = writeln!(
                out,
                "{} skipped {} row(s) as {}; first at {}",
                m.process_id, r.count, r.reason, r.first
            );
        }
    }
    out
}
