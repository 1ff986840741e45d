//! Generated cluster topologies: one leader and T teams, each one team leader and its
//! workers, written as a cluster config in the shipped parent → children form.
//!
//! - this module: the topology as asked ([`TopologySpec`], from `harness topology` or a
//!   workload's `topology = { … }`), checked into a [`Shape`] whose errors name the argument.
//! - [`config`]: a [`Shape`] placed on addresses, as the config JSON the nodes read.
//!
//! Ids and team names do not depend on the size, so one fault schedule fits every topology
//! of a sweep: the leader is `L` (in team `t1`), team `tK` is led by `TK` with workers
//! `TKW1`, `TKW2`, …. By default the dataset's days are split evenly (contiguously, in
//! order) over the teams.

pub mod config;

use overlay::dataset::{airnow_2020_dates, calendar_days};
use overlay::date::DateKey;
use serde::{Deserialize, Serialize};

pub use config::{addresses, generate, loopback};

/// Most teams a topology may have: each team needs at least one day of the 43-day dataset.
pub const MAX_TEAMS: usize = 43;
/// Most workers in one team (bounded so a typo cannot start thousands of processes).
pub const MAX_WORKERS_PER_TEAM: u32 = 256;
/// Most processes a topology may have in all.
pub const MAX_NODES: usize = 2_000;
/// Most hosts a topology may be spread over.
pub const MAX_HOSTS: usize = 256;

/// A count given once for every team, or once per team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerTeam {
    /// The same for every team.
    Each(i64),
    /// One per team, in team order.
    List(Vec<i64>),
}

/// A topology as asked: the CLI's flags or a workload's inline table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Number of teams (one team leader each).
    pub teams: i64,
    /// Workers per team: one number for every team, or a list with one per team.
    pub workers: PerTeam,
    /// Whole-number team weights (1–1000), one per team (`strategies.team_weights`).
    #[serde(default)]
    pub weights: Option<Vec<i64>>,
    /// Date ranges, one per team, each `YYYYMMDD-YYYYMMDD` within the dataset (default: the
    /// dataset's days split evenly over the teams).
    #[serde(default)]
    pub dates: Option<Vec<String>>,
}

/// One team of a checked topology.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamShape {
    /// Team name (`t1`, `t2`, …).
    pub name: String,
    /// Workers under its team leader.
    pub workers: u32,
    /// Its weight, when weights were given.
    pub weight: Option<u32>,
    /// First and last day it covers.
    pub dates: (DateKey, DateKey),
}

/// A checked topology.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Teams in order.
    pub teams: Vec<TeamShape>,
}

impl Shape {
    /// Processes in all: the leader, and per team its leader and workers.
    pub fn nodes(&self) -> usize {
        1 + self
            .teams
            .iter()
            .map(|t| 1 + t.workers as usize)
            .sum::<usize>()
    }

    /// A short label: `6 nodes (2 teams: 1, 2 workers)`, `65 nodes (8 teams × 7 workers)`.
    pub fn label(&self) -> String {
        let workers: Vec<u32> = self.teams.iter().map(|t| t.workers).collect();
        let teams = workers.len();
        if workers.windows(2).all(|w| w[0] == w[1]) {
            format!(
                "{} nodes ({teams} teams × {} workers)",
                self.nodes(),
                workers[0]
            )
        } else {
            let list: Vec<String> = workers.iter().map(u32::to_string).collect();
            format!(
                "{} nodes ({teams} teams: {} workers)",
                self.nodes(),
                list.join(", ")
            )
        }
    }
}

/// Why a topology cannot be generated; names the argument.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TopologyError {
    /// The argument: `teams`, `workers`, `weights`, `dates`, `host` or `base_port`.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn refuse<T>(field: &'static str, message: impl Into<String>) -> Result<T, TopologyError> {
    Err(TopologyError {
        field,
        message: message.into(),
    })
}

impl TopologySpec {
    /// Checks the spec: counts in range, one entry per team in every list, date ranges
    /// inside the dataset and apart from each other.
    pub fn check(&self) -> Result<Shape, TopologyError> {
        if self.teams < 1 || self.teams > MAX_TEAMS as i64 {
            return refuse(
                "teams",
                format!(
                    "is {}; it must be from 1 to {MAX_TEAMS} (every team needs a day of the dataset)",
                    self.teams
                ),
            );
        }
        let teams = self.teams as usize;
        let workers = self.workers_per_team(teams)?;
        let weights = match &self.weights {
            None => vec![None; teams],
            Some(list) => per_team("weights", list, teams, 1, 1000)?
                .into_iter()
                .map(Some)
                .collect(),
        };
        let dates = match &self.dates {
            None => even_split(teams),
            Some(list) => parse_ranges(list, teams)?,
        };
        let shape = Shape {
            teams: (0..teams)
                .map(|i| TeamShape {
                    name: format!("t{}", i + 1),
                    workers: workers[i],
                    weight: weights[i],
                    dates: dates[i],
                })
                .collect(),
        };
        if shape.nodes() > MAX_NODES {
            return refuse(
                "workers",
                format!("gives {} processes; at most {MAX_NODES}", shape.nodes()),
            );
        }
        Ok(shape)
    }

    fn workers_per_team(&self, teams: usize) -> Result<Vec<u32>, TopologyError> {
        match &self.workers {
            PerTeam::Each(n) => Ok(vec![
                in_range("workers", *n, 1, MAX_WORKERS_PER_TEAM)?;
                teams
            ]),
            PerTeam::List(list) => per_team("workers", list, teams, 1, MAX_WORKERS_PER_TEAM),
        }
    }
}

fn in_range(field: &'static str, value: i64, lo: u32, hi: u32) -> Result<u32, TopologyError> {
    if value < i64::from(lo) || value > i64::from(hi) {
        return refuse(
            field,
            format!("{value} is out of range; each must be from {lo} to {hi}"),
        );
    }
    Ok(value as u32)
}

fn per_team(
    field: &'static str,
    list: &[i64],
    teams: usize,
    lo: u32,
    hi: u32,
) -> Result<Vec<u32>, TopologyError> {
    if list.len() != teams {
        return refuse(
            field,
            format!(
                "gives {} values for {teams} teams; give one per team",
                list.len()
            ),
        );
    }
    list.iter().map(|&v| in_range(field, v, lo, hi)).collect()
}

/// The dataset's days split into `teams` contiguous runs as even as can be.
fn even_split(teams: usize) -> Vec<(DateKey, DateKey)> {
    let days = airnow_2020_dates();
    (0..teams)
        .map(|i| {
            let (lo, hi) = (i * days.len() / teams, (i + 1) * days.len() / teams);
            (days[lo], days[hi - 1])
        })
        .collect()
}

/// `YYYYMMDD-YYYYMMDD` ranges, one per team, inside the dataset, each holding a day of it,
/// none overlapping another (a day held by two teams would be counted twice).
fn parse_ranges(list: &[String], teams: usize) -> Result<Vec<(DateKey, DateKey)>, TopologyError> {
    if list.len() != teams {
        return refuse(
            "dates",
            format!(
                "gives {} ranges for {teams} teams; give one per team",
                list.len()
            ),
        );
    }
    let dataset = airnow_2020_dates();
    let (first, last) = (dataset[0], dataset[dataset.len() - 1]);
    let mut ranges: Vec<(DateKey, DateKey)> = Vec::with_capacity(teams);
    for text in list {
        let parsed = text.split_once('-').and_then(|(a, b)| {
            Some((
                a.trim().parse::<DateKey>().ok()?,
                b.trim().parse::<DateKey>().ok()?,
            ))
        });
        let Some((lo, hi)) = parsed.filter(|(lo, hi)| lo <= hi) else {
            return refuse(
                "dates",
                format!("'{text}' is not a range FIRST-LAST of YYYYMMDD days, first ≤ last"),
            );
        };
        if lo < first || hi > last || calendar_days(lo, hi, 1).is_empty() {
            return refuse(
                "dates",
                format!(
                    "'{text}' is outside the dataset ({first}-{last}, without 20200811-20200813)"
                ),
            );
        }
        if let Some((a, b)) = ranges.iter().find(|(a, b)| lo <= *b && *a <= hi) {
            return refuse(
                "dates",
                format!("'{text}' overlaps {a}-{b}; teams cover different days"),
            );
        }
        ranges.push((lo, hi));
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests;
