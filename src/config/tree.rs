//! The forwarding tree, derived from the undirected `neighbors` links as the original system
//! derives it, and the checks that every process is reached.
//!
//! A link listed on either side is a link. The leader forwards to the team leaders it links
//! to; a team leader forwards to the workers of its own team it links to, and only when it has
//! none, to the workers of other teams it links to; a worker forwards to nobody. Should two
//! team leaders both forward to one worker (only possible through that fallback), the worker's
//! parent is the team leader of its own team, else the first by id, so the tree stays a tree.
//! A file listing only parent → children links describes the same tree.

use std::collections::BTreeMap;

use super::{NodeId, ProcessConfig, Role};

/// Checks the links, then fills in `links`, `children` and `parent` of every process, or names
/// the process, the field and the missing link.
pub(super) fn derive(processes: &mut BTreeMap<NodeId, ProcessConfig>) -> Result<(), String> {
    let leader = single_leader(processes)?;
    check_neighbor_names(processes)?;
    let links = undirected_links(processes);
    let forwards: BTreeMap<NodeId, Vec<NodeId>> = processes
        .values()
        .map(|p| (p.id.clone(), forwarded_to(p, &links[&p.id], processes)))
        .collect();
    let parents = choose_parents(processes, &forwards);
    check_reached(processes, &links, &parents, &leader)?;
    for p in processes.values_mut() {
        p.parent = parents.get(&p.id).cloned();
        p.children = forwards[&p.id]
            .iter()
            .filter(|child| parents.get(*child) == Some(&p.id))
            .cloned()
            .collect();
        p.links = links[&p.id].clone();
    }
    Ok(())
}

fn single_leader(processes: &BTreeMap<NodeId, ProcessConfig>) -> Result<NodeId, String> {
    let leaders: Vec<&NodeId> = processes
        .values()
        .filter(|p| p.role == Role::Leader)
        .map(|p| &p.id)
        .collect();
    match leaders.as_slice() {
        [] => Err("no process has role leader; exactly one must".to_string()),
        [leader] => Ok((*leader).clone()),
        _ => {
            let names: Vec<&str> = leaders.iter().map(|id| id.as_str()).collect();
            Err(format!(
                "processes {} all have role leader; exactly one may",
                names.join(", ")
            ))
        }
    }
}

fn check_neighbor_names(processes: &BTreeMap<NodeId, ProcessConfig>) -> Result<(), String> {
    for p in processes.values() {
        for neighbor in &p.neighbors {
            if !processes.contains_key(neighbor) {
                return Err(format!(
                    "process {}: field neighbors names '{neighbor}', which is not a process",
                    p.id
                ));
            }
            if neighbor == &p.id {
                return Err(format!(
                    "process {}: field neighbors names the process itself",
                    p.id
                ));
            }
        }
    }
    Ok(())
}

/// Each process's links: its own `neighbors` in the order written, then every process that
/// lists it, by id; no repeats.
fn undirected_links(processes: &BTreeMap<NodeId, ProcessConfig>) -> BTreeMap<NodeId, Vec<NodeId>> {
    let mut links: BTreeMap<NodeId, Vec<NodeId>> = processes
        .values()
        .map(|p| (p.id.clone(), Vec::new()))
        .collect();
    let mut add = |from: &NodeId, to: &NodeId| {
        let list = links.get_mut(from).expect("every process has a list");
        if !list.contains(to) {
            list.push(to.clone());
        }
    };
    for p in processes.values() {
        for neighbor in &p.neighbors {
            add(&p.id, neighbor);
        }
    }
    for p in processes.values() {
        for neighbor in &p.neighbors {
            add(neighbor, &p.id);
        }
    }
    links
}

/// Whom `p` forwards to among its links, by the original's rule.
fn forwarded_to(
    p: &ProcessConfig,
    links: &[NodeId],
    processes: &BTreeMap<NodeId, ProcessConfig>,
) -> Vec<NodeId> {
    let linked = |role: Role| {
        links
            .iter()
            .map(|id| &processes[id])
            .filter(move |q| q.role == role)
    };
    match p.role {
        Role::Leader => linked(Role::TeamLeader).map(|q| q.id.clone()).collect(),
        Role::TeamLeader => {
            let own: Vec<NodeId> = linked(Role::Worker)
                .filter(|q| q.team == p.team)
                .map(|q| q.id.clone())
                .collect();
            if own.is_empty() {
                linked(Role::Worker).map(|q| q.id.clone()).collect()
            } else {
                own
            }
        }
        Role::Worker => Vec::new(),
    }
}

/// One parent per forwarded-to process: a team leader of its own team when one forwards to
/// it, else the first by id.
fn choose_parents(
    processes: &BTreeMap<NodeId, ProcessConfig>,
    forwards: &BTreeMap<NodeId, Vec<NodeId>>,
) -> BTreeMap<NodeId, NodeId> {
    let mut parents: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    for (from, targets) in forwards {
        for target in targets {
            let same_team = processes[from].team == processes[target].team;
            match parents.get(target) {
                Some(current) if processes[current].team == processes[target].team => {}
                Some(_) if !same_team => {}
                _ => {
                    parents.insert(target.clone(), from.clone());
                }
            }
        }
    }
    parents
}

/// Every process but the leader must have a parent; when one has none, says which link is
/// missing.
fn check_reached(
    processes: &BTreeMap<NodeId, ProcessConfig>,
    links: &BTreeMap<NodeId, Vec<NodeId>>,
    parents: &BTreeMap<NodeId, NodeId>,
    leader: &NodeId,
) -> Result<(), String> {
    for p in processes.values() {
        if p.role == Role::Leader || parents.contains_key(&p.id) {
            continue;
        }
        let message = match p.role {
            Role::TeamLeader => format!(
                "process {}: field neighbors: the leader {leader} does not link to team leader {}, \
                 so no query reaches it; add \"{}\" to the neighbors of {leader} (or \"{leader}\" to those of {})",
                p.id, p.id, p.id, p.id
            ),
            _ => {
                let linked: Vec<&ProcessConfig> = links[&p.id]
                    .iter()
                    .map(|id| &processes[id])
                    .filter(|q| q.role == Role::TeamLeader)
                    .collect();
                let own_leaders: Vec<&str> = processes
                    .values()
                    .filter(|q| q.role == Role::TeamLeader && q.team == p.team)
                    .map(|q| q.id.as_str())
                    .collect();
                let fix = match own_leaders.first() {
                    Some(own) => format!("link it to its team leader {own}"),
                    None => format!("team '{}' has no team leader to link it to", p.team),
                };
                if linked.is_empty() {
                    format!(
                        "process {}: field neighbors: worker {} is linked to no team leader, \
                         so no query reaches it; {fix}",
                        p.id, p.id
                    )
                } else {
                    let names: Vec<&str> = linked.iter().map(|q| q.id.as_str()).collect();
                    format!(
                        "process {}: field neighbors: worker {} of team {} links only to team leader(s) {} \
                         of other teams, which forward to workers of their own team, so no query reaches it; {fix}",
                        p.id,
                        p.id,
                        p.team,
                        names.join(", ")
                    )
                }
            }
        };
        return Err(message);
    }
    Ok(())
}
