//! The layout of an AirNow dataset on disk, shared by the loader, the generator and the checker.
//!
//! A dataset root holds one folder per day, `YYYYMMDD/`, each with hourly files
//! `YYYYMMDD-HH.csv`. The real 2020 fire-season set has 43 days (20200810, then 20200814 to
//! 20200924) with the twelve odd hours 01…23.

use std::path::{Path, PathBuf};

use crate::date::DateKey;

/// The hours for which the real dataset has a file: odd hours 01 to 23.
pub const HOURS: [u32; 12] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23];

/// Rows in the real dataset; the synthetic generator's scale 1.0 aims at this size.
pub const REAL_ROW_COUNT: u64 = 1_167_525;

/// The 43 days of the real dataset, in order.
pub fn airnow_2020_dates() -> Vec<DateKey> {
    let mut dates = vec![DateKey::from_ymd(2020, 8, 10).expect("valid date")];
    let mut day = DateKey::from_ymd(2020, 8, 14).expect("valid date");
    let last = DateKey::from_ymd(2020, 9, 24).expect("valid date");
    while day <= last {
        dates.push(day);
        day = day.next_day();
    }
    dates
}

/// Days the AirNow 2020 archive never published: the layout's calendar skips them.
const UNPUBLISHED: [u32; 3] = [20200811, 20200812, 20200813];

/// Whether a day belongs to the dataset layout's calendar: every day, except the three days
/// (2020-08-11 to 2020-08-13) the real archive lacks.
///
/// Nodes build the partition map's days from the config's bounds and this calendar, not from
/// what each finds on its disk, so every node computes the same map whatever its disk holds.
pub fn is_calendar_day(date: DateKey) -> bool {
    !UNPUBLISHED.contains(&date.as_u32())
}

/// The calendar days from `first` to `last` inclusive (see [`is_calendar_day`]), ascending;
/// at most `cap` of them, so a config spanning centuries cannot exhaust memory.
pub fn calendar_days(first: DateKey, last: DateKey, cap: usize) -> Vec<DateKey> {
    let mut days = Vec::new();
    let mut day = first;
    while day <= last && days.len() < cap {
        if is_calendar_day(day) {
            days.push(day);
        }
        day = day.next_day();
    }
    days
}

/// The folder of one day under a dataset root.
pub fn date_dir(root: &Path, date: DateKey) -> PathBuf {
    root.join(date.to_string())
}

/// The file name of one hour of one day: `YYYYMMDD-HH.csv`.
pub fn hour_file_name(date: DateKey, hour: u32) -> String {
    format!("{date}-{hour:02}.csv")
}

/// Lists the day folders under `root` (folders whose name is a valid `YYYYMMDD` date), sorted.
///
/// Other entries are ignored, so a README or a stray file in the root does no harm.
pub fn list_dates(root: &Path) -> std::io::Result<Vec<DateKey>> {
    let mut dates = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(date) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<DateKey>().ok())
        {
            if name_is_compact(&entry.file_name()) {
                dates.push(date);
            }
        }
    }
    dates.sort();
    Ok(dates)
}

fn name_is_compact(name: &std::ffi::OsStr) -> bool {
    name.len() == 8
}

/// Lists the CSV files of one day folder, sorted by name (so by hour).
pub fn list_day_files(root: &Path, date: DateKey) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(date_dir(root, date))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    files.sort();
    Ok(files)
}

/// Start value of an FNV-1a 64 hash.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64: `hash` carried on over `bytes` (start from [`FNV_OFFSET`]).
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a 64 over day, file name and size of every CSV file of `days` under `root`, in
/// order, as 16 hex digits: the fingerprint a node reports for the days it holds, so anyone
/// with the same files can recompute it. Stable across machines; a missing day adds only its
/// name.
pub fn fingerprint(root: &Path, days: &[DateKey]) -> String {
    let mut hash = FNV_OFFSET;
    for day in days {
        hash = fnv1a(hash, day.to_string().as_bytes());
        for file in list_day_files(root, *day).unwrap_or_default() {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            let size = std::fs::metadata(&file).map_or(0, |m| m.len());
            hash = fnv1a(hash, name.unwrap_or_default().as_bytes());
            hash = fnv1a(hash, &size.to_le_bytes());
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn fingerprints_follow_the_files_and_their_sizes() {
        let root = std::env::temp_dir().join(format!("overlay-fp-{}", std::process::id()));
        let day = DateKey::from_u32(20200810).unwrap();
        assert_eq!(fingerprint(&root, &[]), format!("{FNV_OFFSET:016x}"));
        let empty = fingerprint(&root, &[day]);
        std::fs::create_dir_all(date_dir(&root, day)).unwrap();
        let file = date_dir(&root, day).join(hour_file_name(day, 1));
        std::fs::write(&file, "a").unwrap();
        let one = fingerprint(&root, &[day]);
        std::fs::write(&file, "ab").unwrap();
        let two = fingerprint(&root, &[day]);
        let _ = std::fs::remove_dir_all(&root);
        assert!(empty != one && one != two, "{empty} {one} {two}");
    }

    #[test]
    fn real_dates_are_the_43_documented_days() {
        let dates = airnow_2020_dates();
        assert_eq!(dates.len(), 43);
        assert_eq!(dates[0].to_string(), "20200810");
        assert_eq!(dates[1].to_string(), "20200814");
        assert_eq!(dates[42].to_string(), "20200924");
        assert_eq!(hour_file_name(dates[0], 1), "20200810-01.csv");
    }

    #[test]
    fn the_calendar_of_the_real_span_is_the_real_days() {
        let dates = airnow_2020_dates();
        assert_eq!(calendar_days(dates[0], dates[42], 1000), dates);
        assert_eq!(calendar_days(dates[0], dates[42], 5).len(), 5);
    }
}
