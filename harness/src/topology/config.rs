//! A checked [`Shape`] placed on addresses, written as a cluster config in the shipped
//! parent → children form: the leader lists the team leaders, each team leader its workers.

use serde_json::{json, Map, Value};

use super::{refuse, Shape, TopologyError, TopologySpec, MAX_HOSTS};

/// `count` addresses: the hosts taken in turn, ports `base_port`, `base_port + 1`, … (every
/// port distinct, so a one-host and a spread cluster use the same ports).
pub fn addresses(
    hosts: &[String],
    base_port: i64,
    count: usize,
) -> Result<Vec<(String, u16)>, TopologyError> {
    if hosts.is_empty() || hosts.len() > MAX_HOSTS {
        return refuse("host", format!("give from 1 to {MAX_HOSTS} hosts"));
    }
    if let Some(bad) = hosts.iter().find(|h| !plausible_host(h)) {
        return refuse("host", format!("'{bad}' is not a host name or address"));
    }
    let last = base_port + count as i64 - 1;
    if base_port < 1 || last > i64::from(u16::MAX) {
        return refuse(
            "base_port",
            format!(
                "{base_port} gives ports {base_port}–{last} for {count} processes; they must lie in 1–65535"
            ),
        );
    }
    Ok((0..count)
        .map(|i| {
            (
                hosts[i % hosts.len()].clone(),
                (base_port + i as i64) as u16,
            )
        })
        .collect())
}

/// Where [`loopback`] places a topology before a run moves it to free ports.
const PLACEHOLDER_BASE_PORT: i64 = 20_000;

/// `spec` checked and written on 127.0.0.1 from port 20000, as config text: what a workload
/// checks and what a run then moves to free ports.
pub fn loopback(spec: &TopologySpec) -> Result<(Shape, String), TopologyError> {
    let shape = spec.check()?;
    let places = addresses(
        &["127.0.0.1".to_string()],
        PLACEHOLDER_BASE_PORT,
        shape.nodes(),
    )?;
    let text = generate(&shape, &places).to_string();
    Ok((shape, text))
}

/// A host name or IP address: 1–253 characters of letters, digits, `.`, `-`, `:`.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

/// The config JSON of `shape` on `addresses` (one per process, in the order leader, then each
/// team's leader and workers; see [`Shape::nodes`]).
pub fn generate(shape: &Shape, addresses: &[(String, u16)]) -> Value {
    let mut places = addresses.iter();
    let mut processes = Map::new();
    let mut add = |id: &str, role: &str, team: &str, neighbors: Vec<String>| {
        let (host, port) = places.next().cloned().unwrap_or_default();
        let process = json!({"id": id, "role": role, "team": team, "host": host, "port": port, "neighbors": neighbors});
        processes.insert(id.to_string(), process);
    };
    let leaders: Vec<String> = (1..=shape.teams.len()).map(|k| format!("T{k}")).collect();
    add("L", "leader", &shape.teams[0].name, leaders.clone());
    for (team, leader) in shape.teams.iter().zip(&leaders) {
        let workers: Vec<String> = (1..=team.workers)
            .map(|w| format!("{leader}W{w}"))
            .collect();
        add(leader, "team_leader", &team.name, workers.clone());
        for worker in &workers {
            add(worker, "worker", &team.name, Vec::new());
        }
    }
    let teams: Map<String, Value> = shape
        .teams
        .iter()
        .map(|t| {
            let bounds = [t.dates.0.to_string(), t.dates.1.to_string()];
            (t.name.clone(), json!({ "date_bounds": bounds }))
        })
        .collect();
    let mut config = json!({ "teams": teams, "processes": processes });
    let weights: Map<String, Value> = shape
        .teams
        .iter()
        .filter_map(|t| Some((t.name.clone(), Value::from(t.weight?))))
        .collect();
    if !weights.is_empty() {
        config["strategies"] = json!({ "team_weights": weights });
    }
    config
}
