//! The partition map: which node holds which days (design section 4).
//!
//! Within a team, the team's days are split into contiguous slices, one per member, by role
//! weight (leader 1, team leader 2, worker 3), members ordered by role then id. Each member
//! gets `floor(days × weight / total)`; a member left with none gets one while days remain;
//! the rest go one at a time by largest (fractional remainder, weight, earlier role, id).
//! A member with explicit `date_bounds` holds exactly those days instead and is left out of
//! the split. With `replication_factor` r, each slice is also held by the next r − 1 members
//! of its team (cyclically), so losing one node loses no data.
//!
//! The map is a pure function of the config and a list of days. Nodes use the days of the
//! config's team bounds that are in the dataset layout's calendar ([`PartitionMap::from_config`]),
//! never the days each finds on its own disk, so every node computes the same map; a node
//! missing some of its days then knows it and says so instead of shifting the map.

use std::cmp::Reverse;

use crate::config::{ClusterConfig, NodeId, ProcessConfig};
use crate::dataset::calendar_days;
use crate::date::DateKey;

/// Most days one team's bounds contribute to the map (about 27 years).
pub const MAX_TEAM_DAYS: usize = 10_000;

/// One contiguous run of days, owned by one node and copied to its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The member the split assigned it to (its primary holder).
    pub owner: NodeId,
    /// The owner's team.
    pub team: String,
    /// Its days, ascending.
    pub dates: Vec<DateKey>,
    /// Every node holding a copy, owner first.
    pub holders: Vec<NodeId>,
}

/// All slices of a cluster, ordered by first day (so answers come out in date order).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PartitionMap {
    /// The slices, ordered by first day.
    pub slices: Vec<Slice>,
}

impl PartitionMap {
    /// The map every node of a cluster agrees on: the config's team bounds over the dataset
    /// layout's calendar (see [`crate::dataset::is_calendar_day`]), whatever any disk holds.
    pub fn from_config(config: &ClusterConfig) -> PartitionMap {
        PartitionMap::compute(config, &config_days(config))
    }

    /// Computes the map for a config and the days present in the dataset.
    pub fn compute(config: &ClusterConfig, available: &[DateKey]) -> PartitionMap {
        let mut slices = Vec::new();
        for (team, (first, last)) in &config.team_date_bounds {
            let members = config.team_members(team);
            let days: Vec<DateKey> = available
                .iter()
                .copied()
                .filter(|d| d >= first && d <= last)
                .collect();
            slices.extend(team_slices(
                team,
                &members,
                &days,
                config.strategies.replication_factor,
            ));
        }
        slices.sort_by_key(|slice| slice.dates[0]);
        PartitionMap { slices }
    }

    /// The slice a node owns, if any.
    pub fn owned_by(&self, node: &NodeId) -> Option<&Slice> {
        self.slice_of(node.as_str())
    }

    /// The slice whose owner is named `owner` (as slice tasks name it), if any.
    pub fn slice_of(&self, owner: &str) -> Option<&Slice> {
        self.slices
            .iter()
            .find(|slice| slice.owner.as_str() == owner)
    }

    /// The slice holding `day`, if any (slices do not overlap).
    pub fn slice_holding(&self, day: DateKey) -> Option<&Slice> {
        self.slices
            .iter()
            .find(|slice| slice.dates.binary_search(&day).is_ok())
    }

    /// Every slice a node holds (its own and its replicas), in map order.
    pub fn held_by<'a>(&'a self, node: &'a NodeId) -> impl Iterator<Item = &'a Slice> + 'a {
        self.slices
            .iter()
            .filter(move |slice| slice.holders.contains(node))
    }

    /// Every day a node holds, ascending.
    pub fn dates_held_by(&self, node: &NodeId) -> Vec<DateKey> {
        let mut dates: Vec<DateKey> = self
            .held_by(node)
            .flat_map(|s| s.dates.iter().copied())
            .collect();
        dates.sort();
        dates.dedup();
        dates
    }
}

/// The calendar days of every team's bounds, ascending.
pub fn config_days(config: &ClusterConfig) -> Vec<DateKey> {
    let mut days: Vec<DateKey> = config
        .team_date_bounds
        .values()
        .flat_map(|&(first, last)| calendar_days(first, last, MAX_TEAM_DAYS))
        .collect();
    days.sort();
    days.dedup();
    days
}

fn team_slices(
    team: &str,
    members: &[&ProcessConfig],
    days: &[DateKey],
    replication: u32,
) -> Vec<Slice> {
    let (fixed, weighted): (Vec<&ProcessConfig>, Vec<&ProcessConfig>) =
        members.iter().partition(|p| p.date_bounds.is_some());
    let mut assigned: Vec<(NodeId, Vec<DateKey>)> = Vec::new();
    for member in &fixed {
        if let Some((lo, hi)) = member.date_bounds {
            let own: Vec<DateKey> = days
                .iter()
                .copied()
                .filter(|d| *d >= lo && *d <= hi)
                .collect();
            assigned.push((member.id.clone(), own));
        }
    }
    let free: Vec<DateKey> = days
        .iter()
        .copied()
        .filter(|d| {
            !fixed
                .iter()
                .any(|p| p.date_bounds.is_some_and(|(lo, hi)| *d >= lo && *d <= hi))
        })
        .collect();
    let counts = split_counts(&weighted, free.len());
    let mut next = 0;
    for (member, count) in weighted.iter().zip(counts) {
        assigned.push((member.id.clone(), free[next..next + count].to_vec()));
        next += count;
    }
    let order: Vec<NodeId> = members.iter().map(|p| p.id.clone()).collect();
    assigned
        .into_iter()
        .filter(|(_, dates)| !dates.is_empty())
        .map(|(owner, dates)| Slice {
            holders: replica_holders(&order, &owner, replication),
            owner,
            team: team.to_string(),
            dates,
        })
        .collect()
}

/// Days per member (members in partition order) by the weighted rule.
fn split_counts(members: &[&ProcessConfig], days: usize) -> Vec<usize> {
    let weights: Vec<u64> = members.iter().map(|p| p.role.partition_weight()).collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return Vec::new();
    }
    let days_u = days as u64;
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| (days_u * w / total) as usize)
        .collect();
    let mut left = days - counts.iter().sum::<usize>();
    let mut bumped = vec![false; counts.len()];
    for (count, bump) in counts.iter_mut().zip(bumped.iter_mut()) {
        if *count == 0 && left > 0 {
            *count = 1;
            *bump = true;
            left -= 1;
        }
    }
    let mut order: Vec<usize> = (0..members.len()).filter(|&i| !bumped[i]).collect();
    // Largest fractional remainder first (remainder numerator days×w mod total), then larger
    // weight, then earlier role, then id; members are already in (role, id) order.
    order.sort_by_key(|&i| (Reverse(days_u * weights[i] % total), Reverse(weights[i]), i));
    for &i in order.iter().cycle().take(left) {
        counts[i] += 1;
    }
    counts
}

fn replica_holders(team_order: &[NodeId], owner: &NodeId, replication: u32) -> Vec<NodeId> {
    let Some(start) = team_order.iter().position(|id| id == owner) else {
        return vec![owner.clone()];
    };
    let copies = (replication as usize).min(team_order.len());
    (0..copies)
        .map(|k| team_order[(start + k) % team_order.len()].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::airnow_2020_dates;

    fn shipped_config(replication: u32) -> ClusterConfig {
        let text = include_str!("../configs/one_host_config.json").replace(
            "\"chunk_size\": 200",
            &format!("\"chunk_size\": 200, \"replication_factor\": {replication}"),
        );
        ClusterConfig::from_json(&text).unwrap()
    }

    #[test]
    fn shipped_config_and_real_dates_give_the_design_table() {
        let map = PartitionMap::compute(&shipped_config(1), &airnow_2020_dates());
        let table: Vec<(String, usize)> = map
            .slices
            .iter()
            .map(|s| (s.owner.0.clone(), s.dates.len()))
            .collect();
        let expect = [("A", 1), ("B", 3), ("C", 4), ("E", 9), ("D", 13), ("F", 13)];
        assert_eq!(
            table,
            expect.map(|(id, days)| (id.to_string(), days)).to_vec()
        );
        assert_eq!(map.slices[0].dates[0].to_string(), "20200810");
        let f = map.owned_by(&NodeId("F".into())).unwrap();
        assert_eq!(f.dates.last().unwrap().to_string(), "20200924");
        assert_eq!(map.slice_of("F"), Some(f));
        assert_eq!(map.slice_of("Z"), None);
        let last: DateKey = "20200924".parse().unwrap();
        assert_eq!(map.slice_holding(last), Some(f));
        assert_eq!(map.slice_holding("20210101".parse().unwrap()), None);
        assert!(map
            .slices
            .iter()
            .all(|s| s.holders == vec![s.owner.clone()]));
    }

    #[test]
    fn the_config_alone_gives_the_design_table() {
        let config = shipped_config(1);
        assert_eq!(config_days(&config), airnow_2020_dates());
        assert_eq!(
            PartitionMap::from_config(&config),
            PartitionMap::compute(&config, &airnow_2020_dates())
        );
    }

    #[test]
    fn replication_two_places_each_slice_on_the_next_team_member() {
        let map = PartitionMap::compute(&shipped_config(2), &airnow_2020_dates());
        let holders = |id: &str| map.owned_by(&NodeId(id.into())).unwrap().holders.clone();
        let ids = |v: &[&str]| v.iter().map(|s| NodeId(s.to_string())).collect::<Vec<_>>();
        assert_eq!(holders("A"), ids(&["A", "B"]));
        assert_eq!(holders("C"), ids(&["C", "A"]));
        assert_eq!(holders("D"), ids(&["D", "F"]));
        assert_eq!(holders("F"), ids(&["F", "E"]));
        assert_eq!(map.dates_held_by(&NodeId("F".into())).len(), 26);
    }

    #[test]
    fn small_teams_and_few_days_still_cover_every_day_once() {
        let config = shipped_config(1);
        for n in 0..12 {
            let days: Vec<DateKey> = airnow_2020_dates().into_iter().step_by(4).take(n).collect();
            let map = PartitionMap::compute(&config, &days);
            let mut covered: Vec<DateKey> =
                map.slices.iter().flat_map(|s| s.dates.clone()).collect();
            covered.sort();
            assert_eq!(covered, days, "{n} days");
        }
    }
}
