//! The `/metrics` page: the node's `GetMetrics` snapshot, the RPC latency histogram and the
//! process figures, in the OpenMetrics text format.

use overlay::proto::MetricsResponse;
use prometheus_client::registry::Registry;

use super::families::{Families, Labels};
use super::process::ProcessFigures;
use super::rpc::RpcMetrics;

/// The states a node can be in, one `overlay_node_state` series each.
const STATES: [&str; 4] = ["healthy", "warning", "critical", "failing"];
/// The statuses a peer can have, one `overlay_peer_status` series each.
const PEER_STATUSES: [&str; 3] = ["healthy", "suspected", "failed"];
/// The states of a circuit breaker, one `overlay_peer_breaker_state` series each.
const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// Renders the page.
pub(super) fn render(m: &MetricsResponse, rpc: &RpcMetrics, process: ProcessFigures) -> String {
    let mut registry = Registry::default();
    rpc.register(&mut registry);
    let mut f = Families::new(&mut registry);
    node_figures(&mut f, m);
    team_figures(&mut f, m);
    peer_figures(&mut f, m);
    routing(&mut f, m);
    hooks(&mut f, m);
    membership(&mut f, m);
    if let Some(cpu) = process.cpu_seconds {
        f.counter(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            cpu,
        );
    }
    if let Some(bytes) = process.resident_bytes {
        f.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            bytes as f64,
        );
    }
    if let Some(fds) = process.open_fds {
        f.gauge(
            "process_open_fds",
            "Number of open file descriptors",
            fds as f64,
        );
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

fn one(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

fn node_figures(f: &mut Families<'_>, m: &MetricsResponse) {
    let state = STATES.map(|s| (one(&[("state", s)]), f64::from(u8::from(m.state == s))));
    f.gauges(
        "overlay_node_state",
        "1 for the state the node is in, 0 for the others",
        state,
    );
    f.gauge(
        "overlay_node_active_requests",
        "Queries admitted and running",
        m.active_requests.into(),
    );
    f.gauge(
        "overlay_node_max_active",
        "Most queries admitted at once (max_active)",
        m.max_capacity.into(),
    );
    f.counter(
        "overlay_node_queries_served",
        "Queries answered as coordinator or relay",
        m.queries_served as f64,
    );
    f.gauge(
        "overlay_result_cache_entries",
        "Answers held for chunked retrieval",
        m.queue_size.into(),
    );
    f.gauge(
        "overlay_result_cache_bytes",
        "Approximate size of the answers held",
        m.stored_result_bytes as f64,
    );
    f.gauge(
        "overlay_rows_loaded",
        "Rows held in memory",
        m.rows_loaded as f64,
    );
    f.gauges(
        "overlay_rows_skipped",
        "Broken CSV rows skipped while loading, by reason",
        m.skipped_rows
            .iter()
            .map(|r| (one(&[("reason", &r.reason)]), r.count as f64)),
    );
    f.gauge(
        "overlay_active_faults",
        "Faults injected through the control service, still active",
        m.active_faults.len() as f64,
    );
    f.gauge(
        "overlay_uptime_seconds",
        "Seconds since the node started",
        m.uptime_s,
    );
}

fn team_figures(f: &mut Families<'_>, m: &MetricsResponse) {
    let per_team = |value: fn(&overlay::proto::TeamAdmission) -> f64| {
        m.teams
            .iter()
            .map(move |t| (one(&[("team", &t.team)]), value(t)))
    };
    f.counters(
        "overlay_team_admitted",
        "Queries admitted, per team",
        per_team(|t| t.admitted as f64),
    );
    f.counters(
        "overlay_team_completed",
        "Admitted queries released, per team",
        per_team(|t| t.completed as f64),
    );
    f.counters(
        "overlay_team_succeeded",
        "Admitted queries answered successfully, per team",
        per_team(|t| t.succeeded as f64),
    );
    f.gauges(
        "overlay_team_active",
        "Admitted queries running, per team",
        per_team(|t| t.active.into()),
    );
    f.gauges(
        "overlay_team_queued",
        "Queries waiting in the fair queue, per team",
        per_team(|t| t.queued.into()),
    );
    f.gauges(
        "overlay_team_wait_seconds_avg",
        "Mean fair-queue wait of admitted queries, per team",
        per_team(|t| t.avg_wait_ms / 1000.0),
    );
    f.gauges(
        "overlay_team_wait_seconds_max",
        "Longest fair-queue wait of an admitted query, per team",
        per_team(|t| t.max_wait_ms / 1000.0),
    );
    let rejected = m.teams.iter().flat_map(|t| {
        [
            ("team_limit", t.rejected_team_limit),
            ("total_limit", t.rejected_total_limit),
            ("queue_full", t.rejected_queue_full),
            ("queue_timeout", t.rejected_queue_timeout),
        ]
        .map(|(reason, n)| (one(&[("team", &t.team), ("reason", reason)]), n as f64))
    });
    f.counters(
        "overlay_team_rejected",
        "Queries rejected, per team and reason",
        rejected,
    );
}

fn peer_figures(f: &mut Families<'_>, m: &MetricsResponse) {
    let status = m.neighbors.iter().flat_map(|n| {
        PEER_STATUSES.map(|s| {
            (
                one(&[("peer", &n.id), ("status", s)]),
                f64::from(u8::from(n.status == s)),
            )
        })
    });
    f.gauges(
        "overlay_peer_status",
        "1 for the status this node gives the peer, 0 for the others",
        status,
    );
    let breaker = m.neighbors.iter().flat_map(|n| {
        BREAKER_STATES.map(|s| {
            (
                one(&[("peer", &n.id), ("breaker", s)]),
                f64::from(u8::from(n.breaker == s)),
            )
        })
    });
    f.gauges(
        "overlay_peer_breaker_state",
        "1 for the state of the breaker on calls to the peer",
        breaker,
    );
    f.gauges(
        "overlay_peer_probe_rtt_seconds",
        "Round trip of the latest answered health probe",
        m.neighbors
            .iter()
            .map(|n| (one(&[("peer", &n.id)]), n.last_rtt_ms / 1000.0)),
    );
    f.counters(
        "overlay_peer_failures_detected",
        "Times this node declared the peer failed",
        m.neighbors
            .iter()
            .map(|n| (one(&[("peer", &n.id)]), n.failures_detected as f64)),
    );
}

fn routing(f: &mut Families<'_>, m: &MetricsResponse) {
    let r = m.routing.unwrap_or_default();
    for (name, help, value) in [
        (
            "overlay_routing_peer_calls",
            "Scan calls to peers",
            r.peer_calls,
        ),
        (
            "overlay_routing_peer_call_failures",
            "Scan calls to peers that failed",
            r.peer_call_failures,
        ),
        (
            "overlay_routing_retries",
            "Slice tasks sent again after a failed call",
            r.retries,
        ),
        (
            "overlay_routing_failovers",
            "Slice tasks sent to a replica or past a relay",
            r.failovers,
        ),
        (
            "overlay_routing_unserved",
            "Slice tasks this node could not get served",
            r.unserved,
        ),
        (
            "overlay_routing_coordinated",
            "Queries this node coordinated",
            r.coordinated,
        ),
        (
            "overlay_routing_hedges_sent",
            "Hedged slice calls sent",
            r.hedges_sent,
        ),
        (
            "overlay_routing_hedges_won",
            "Hedged slice calls answered first",
            r.hedges_won,
        ),
        (
            "overlay_routing_calls_cancelled",
            "Calls cancelled because a hedge answered first",
            r.calls_cancelled,
        ),
        (
            "overlay_routing_calls_abandoned",
            "Calls whose caller went away before the answer",
            r.calls_abandoned,
        ),
        (
            "overlay_routing_scans_stopped",
            "Scans stopped part-way because the caller had gone",
            r.scans_stopped,
        ),
        (
            "overlay_routing_ejections",
            "Peers ejected as latency outliers",
            r.ejections,
        ),
    ] {
        f.counter(name, help, value as f64);
    }
    f.gauge(
        "overlay_routing_ejected_now",
        "Peers ejected now",
        r.ejected_now.into(),
    );
}

fn hooks(f: &mut Families<'_>, m: &MetricsResponse) {
    let h = m.hooks.unwrap_or_default();
    for (name, help, value) in [
        (
            "overlay_hooks_triggered",
            "Hook runs triggered",
            h.triggered,
        ),
        (
            "overlay_hooks_succeeded",
            "Hook runs that succeeded",
            h.succeeded,
        ),
        (
            "overlay_hooks_failed",
            "Hook runs that failed, panicked or timed out",
            h.failed,
        ),
        (
            "overlay_hooks_dropped",
            "Hook runs dropped because the hook queue was full",
            h.dropped,
        ),
        (
            "overlay_hooks_timed_out",
            "Hook runs that timed out",
            h.timed_out,
        ),
    ] {
        f.counter(name, help, value as f64);
    }
    f.gauge(
        "overlay_hooks_registered",
        "Hooks registered",
        h.registered.into(),
    );
}

fn membership(f: &mut Families<'_>, m: &MetricsResponse) {
    let s = m.membership.clone().unwrap_or_default();
    for (name, help, value) in [
        (
            "overlay_membership_messages_sent",
            "Membership protocol messages sent",
            s.messages_sent,
        ),
        (
            "overlay_membership_messages_received",
            "Membership protocol messages received and accepted",
            s.messages_received,
        ),
        (
            "overlay_membership_bytes_sent",
            "Membership protocol bytes sent",
            s.bytes_sent,
        ),
        (
            "overlay_membership_bytes_received",
            "Membership protocol bytes received",
            s.bytes_received,
        ),
        (
            "overlay_membership_refutations",
            "Suspicions of this node it refuted",
            s.refutations,
        ),
    ] {
        f.counter(name, help, value as f64);
    }
    f.counters(
        "overlay_membership_datagrams_dropped",
        "Membership datagrams dropped unread, by reason",
        s.drops
            .iter()
            .map(|d| (one(&[("reason", &d.reason)]), d.count as f64)),
    );
    let members = [
        ("alive", s.members_alive),
        ("suspect", s.members_suspect),
        ("down", s.members_down),
    ]
    .map(|(state, n)| (one(&[("state", state)]), f64::from(n)));
    f.gauges(
        "overlay_membership_members",
        "Members of the cluster in each state as this node sees them",
        members,
    );
    f.gauge(
        "overlay_peer_channels_open",
        "gRPC channels to peers open now",
        s.open_channels.into(),
    );
}

/// The same page in the classic Prometheus text format (0.0.4), for scrapers and tools that do
/// not ask for OpenMetrics (`promtool check metrics`, `curl`): a counter's HELP and TYPE lines
/// name the `_total` series, and there is no `# EOF`.
pub(super) fn classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_renamed_for_the_classic_format() {
        let open = "# HELP a_total x\n# HELP q Queries\n# TYPE q counter\nq_total 3\n# HELP g G\n# TYPE g gauge\ng 1\n# EOF\n";
        assert_eq!(
            classic_text(open),
            "# HELP a_total x\n# HELP q_total Queries\n# TYPE q_total counter\nq_total 3\n# HELP g G\n# TYPE g gauge\ng 1\n"
        );
    }
}
