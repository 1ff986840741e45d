//! Which of its assigned days a node actually holds, and a fingerprint of their files.
//!
//! The partition map comes from the config, so a node whose disk lacks some of its days still
//! owns them; this record lets it say so: at start-up, in `GetMetrics`, and in every slice
//! result that would otherwise silently lack those days.

use std::path::Path;

use overlay::dataset::list_day_files;
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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Hashes day, file name and size of each file of `days`, in order; stable across machines.
fn fingerprint(root: &Path, days: &[DateKey]) -> String {
    let mut hash = FNV_OFFSET;
    for day in days {
        hash = fnv(hash, day.to_string().as_bytes());
        for file in list_day_files(root, *day).unwrap_or_default() {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            let size = std::fs::metadata(&file).map_or(0, |m| m.len());
            hash = fnv(hash, name.unwrap_or_default().as_bytes());
            hash = fnv(hash, &size.to_le_bytes());
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

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
        assert_eq!(holdings.fingerprint, format!("{FNV_OFFSET:016x}"));
    }
}
