//! Which of its assigned days a node actually holds, and a fingerprint of their files.
//!
//! The partition map comes from the config, so a node whose disk lacks some of its days still
//! owns them; this record lets it say so: at start-up, in `GetMetrics`, and in every slice
//! result that would otherwise silently lack those days.

use std::path::Path;

use overlay::dataset::fingerprint;
use overlay::date::DateKey;

use crate::store::Table;

/// The days a node was assigned, split into those it holds and those it lacks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Days the partition map gives this node, ascending.
    pub assigned: Vec<DateKey>,
    /// Assigned days with at least one row loaded, ascending.
    pub held: Vec<DateKey>,
    /// Assigned days with no row loaded (folder absent, empty or unreadable), ascending.
    pub lacking: Vec<DateKey>,
    /// FNV-1a 64 over day, file name and size of every file of the held days, as 16 hex digits.
    pub fingerprint: String,
}

impl Holdings {
    /// Surveys the assigned days against what the table loaded from `root`.
    pub fn survey(root: &Path, assigned: &[DateKey], table: &Table) -> Holdings {
        let (held, lacking): (Vec<DateKey>, Vec<DateKey>) =
            assigned.iter().partition(|day| table.rows_of(**day) > 0);
        Holdings {
            fingerprint: fingerprint(root, &held),
            assigned: assigned.to_vec(),
            held,
            lacking,
        }
    }

    /// Whether the node lacks this assigned day.
    pub fn lacks(&self, day: DateKey) -> bool {
        self.lacking.binary_search(&day).is_ok()
    }

    /// The days of `dates` the node lacks and `wanted` accepts, as `YYYYMMDD`.
    pub fn lacking_of(&self, dates: &[DateKey], wanted: impl Fn(DateKey) -> bool) -> Vec<String> {
        dates
            .iter()
            .filter(|day| self.lacks(**day) && wanted(**day))
            .map(ToString::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_root_lacks_every_assigned_day() {
        let dir = tempfile::tempdir().unwrap();
        let days: Vec<DateKey> = [20200810, 20200814]
            .map(|d| DateKey::from_u32(d).unwrap())
            .to_vec();
        let (table, _) = Table::load(dir.path(), &days).unwrap();
        let holdings = Holdings::survey(dir.path(), &days, &table);
        assert!(holdings.held.is_empty());
        assert_eq!(holdings.lacking, days);
        assert!(holdings.lacks(days[1]));
        assert_eq!(
            holdings.lacking_of(&days, |d| d.as_u32() > 20200810),
            vec!["20200814"]
        );
        assert_eq!(holdings.fingerprint, fingerprint(dir.path(), &[]));
    }
}
