//! What a cluster's size costs: CPU of the node processes while the cluster is idle (from
//! `/proc/<pid>/stat`), membership messages over the same window (from `GetMetrics`), and the
//! resident memory of every node (from `/proc/<pid>/status`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use overlay::config::ClusterConfig;
use overlay::proto::MembershipStats;

use crate::client::fetch;
use crate::results::IdleFigures;

/// Longest a node may take to report its counters.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Leaves the cluster idle for `seconds` and measures what it spends meanwhile: the CPU of
/// the processes in `pids` (% of one core) and, when the nodes report them, the membership
/// messages and bytes each node sends per second.
pub(super) async fn idle_window(
    pids: &BTreeMap<String, u32>,
    config: &ClusterConfig,
    seconds: f64,
) -> IdleFigures {
    let before = membership(config).await;
    let (asked, cpu_before) = (Instant::now(), cpu_seconds(pids));
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (cpu_after, elapsed) = (cpu_seconds(pids), asked.elapsed().as_secs_f64());
    let after = membership(config).await;
    let messages_elapsed = asked.elapsed().as_secs_f64();
    let per_node = |field: fn(&MembershipStats) -> i64| -> Option<f64> {
        let deltas: Vec<f64> = after
            .iter()
            .filter_map(|(id, a)| Some((field(a) - field(before.get(id)?)) as f64))
            .collect();
        // A node that counts nothing (a protocol without counters) reports zeros: not a figure.
        let counted = after.values().any(|a| field(a) > 0);
        (counted && !deltas.is_empty())
            .then(|| deltas.iter().sum::<f64>() / deltas.len() as f64 / messages_elapsed)
    };
    IdleFigures {
        seconds: elapsed,
        cpu_pct: (cpu_after - cpu_before).max(0.0) / elapsed * 100.0,
        messages_per_node_s: per_node(|m| m.messages_sent),
        bytes_per_node_s: per_node(|m| m.bytes_sent),
        protocol: after.values().next().map(|m| m.protocol.clone()),
    }
}

/// Every node's membership counters, by id (nodes that do not answer, or report none, left out).
async fn membership(config: &ClusterConfig) -> BTreeMap<String, MembershipStats> {
    let asks = config.processes.values().map(|p| async move {
        let answer = tokio::time::timeout(ANSWER_WITHIN, fetch(&p.address())).await;
        (p.id.0.clone(), answer)
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .filter_map(|(id, answer)| Some((id, answer.ok()?.ok()?.membership?)))
        .collect()
}

/// User and system CPU seconds of the processes so far (a process gone counts 0).
fn cpu_seconds(pids: &BTreeMap<String, u32>) -> f64 {
    // SAFETY: sysconf reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    pids.values()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| cpu_ticks(&stat))
        .sum::<u64>() as f64
        / ticks
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line; the command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Resident memory of the processes together, MB (`None` when none could be read). Every
/// process counts the pages of the one node binary it shares with the others.
pub(super) fn rss_mb(pids: &BTreeMap<String, u32>) -> Option<f64> {
    memory_mb(pids, "status", "VmRSS:")
}

/// Proportional memory of the processes together, MB: each shared page counts once across
/// them (split among its users), so this is what the cluster takes from the machine.
pub(super) fn pss_mb(pids: &BTreeMap<String, u32>) -> Option<f64> {
    memory_mb(pids, "smaps_rollup", "Pss:")
}

/// The sum over `pids` of the kB figure on the `key` line of `/proc/<pid>/<file>`, in MB.
fn memory_mb(pids: &BTreeMap<String, u32>, file: &str, key: &str) -> Option<f64> {
    let kib: Vec<u64> = pids
        .values()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok())
        .filter_map(|text| {
            let line = text.lines().find(|l| l.starts_with(key))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .collect();
    (!kib.is_empty()).then(|| kib.iter().sum::<u64>() as f64 * 1024.0 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 1 0 0";
        assert_eq!(cpu_ticks(stat), Some(12));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = BTreeMap::from([("me".to_string(), std::process::id())]);
        let (rss, pss) = (rss_mb(&me).unwrap(), pss_mb(&me).unwrap());
        assert!(pss > 0.0 && pss <= rss, "pss {pss} rss {rss}");
        assert!(cpu_seconds(&me) >= 0.0);
        let gone = BTreeMap::from([("gone".to_string(), u32::MAX)]);
        assert_eq!(rss_mb(&gone), None);
    }
}
