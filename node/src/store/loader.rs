//! Loading day folders of hourly CSV files into a [`Table`], skipping and reporting broken
//! input instead of failing on it.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

use csv::ByteRecord;
use overlay::dataset::{date_dir, list_day_files};
use overlay::date::DateKey;

use super::builder::TableBuilder;
use super::parse::{parse_row, SkipReason};
use super::plausible::{check_row, FileTime};
use super::table::Table;

/// Warnings kept in a [`LoadReport`]: enough to diagnose a broken file, few enough for a log
/// line or a metrics answer. Later problems are still counted.
pub const MAX_WARNINGS: usize = 50;

/// Average bytes of one CSV row in the real data (181 MB / 1,167,525 rows is about 155); a
/// little lower, so that reserving `file bytes / this` rarely has to grow the columns.
const BYTES_PER_ROW_ESTIMATE: u64 = 140;

/// The csv reader's buffer: a few pages, so a 350 kB hourly file takes few reads.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// What a load did, for logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Files read to the end.
    pub files_loaded: usize,
    /// Rows stored.
    pub rows_loaded: u64,
    /// Broken or impossible rows skipped, in all.
    pub rows_skipped: u64,
    /// The skipped rows by reason, in [`SkipReason::ALL`] order; only reasons that occurred.
    pub skipped: Vec<SkippedRows>,
    /// Files that could not be opened or read to the end (rows read before a read error are
    /// kept).
    pub files_failed: usize,
    /// Requested days whose folder is missing or unreadable; these days are not held (listed
    /// here, not among the warnings).
    pub days_missing: Vec<DateKey>,
    /// The first [`MAX_WARNINGS`] problems, each naming its file (and line, for a row).
    pub warnings: Vec<String>,
}

impl LoadReport {
    /// Keeps a warning while there is room (built only then).
    fn warn(&mut self, warning: impl FnOnce() -> String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning());
        }
    }
}

/// The rows skipped for one reason, and the first of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRows {
    /// Why they were skipped.
    pub reason: SkipReason,
    /// How many.
    pub count: u64,
    /// The first one: `file:line: why`.
    pub first: String,
}

impl LoadReport {
    /// Counts a skipped row under `reason`, keeping the first of each reason.
    fn skip(&mut self, reason: SkipReason, first: impl FnOnce() -> String) {
        self.rows_skipped += 1;
        match self
            .skipped
            .binary_search_by_key(&reason, |rows| rows.reason)
        {
            Ok(at) => self.skipped[at].count += 1,
            Err(at) => self.skipped.insert(
                at,
                SkippedRows {
                    reason,
                    count: 1,
                    first: first(),
                },
            ),
        }
    }
}

/// Why a dataset cannot be loaded at all. Anything below the root is a warning instead.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The dataset root does not exist.
    #[error(
        "dataset folder {} does not exist; run `harness data generate` or pass --dataset-root",
        root.display()
    )]
    MissingRoot {
        /// The root looked for.
        root: PathBuf,
    },
    /// The dataset root is a file.
    #[error(
        "dataset root {} is a file, not a folder of YYYYMMDD/ day folders; pass --dataset-root with the folder",
        root.display()
    )]
    NotAFolder {
        /// The root.
        root: PathBuf,
    },
    /// The dataset root exists but cannot be listed (e.g. no permission).
    #[error("dataset folder {} cannot be read: {source}", root.display())]
    UnreadableRoot {
        /// The root.
        root: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Table {
    /// Loads the given days from a dataset root (`root/<YYYYMMDD>/*.csv`, files sorted by name,
    /// rows in file order). Broken or impossible rows (see `plausible`) are skipped and counted
    /// by reason, with the first of each (file:line and why); an unreadable or truncated file never aborts the load; a missing day folder is a
    /// warning. Only a missing, unreadable or non-folder root is an error.
    pub fn load(root: &Path, dates: &[DateKey]) -> Result<(Table, LoadReport), StoreError> {
        check_root(root)?;
        let started = Instant::now();
        let mut dates = dates.to_vec();
        dates.sort();
        dates.dedup();
        let mut report = LoadReport::default();
        let mut days = Vec::with_capacity(dates.len());
        for date in dates {
            match list_day_files(root, date) {
                Ok(files) => days.push((date, files)),
                Err(err) => {
                    let dir = date_dir(root, date);
                    tracing::debug!(dir = %dir.display(), error = %err, "day folder missing");
                    report.days_missing.push(date);
                }
            }
        }
        let mut builder = TableBuilder::with_capacity(estimate_rows(&days));
        for (date, files) in &days {
            builder.add_day(*date);
            for path in files {
                load_file(&mut builder, *date, path, &mut report);
            }
        }
        let table = builder.finish();
        tracing::info!(
            root = %root.display(),
            days = days.len(),
            files = report.files_loaded,
            files_failed = report.files_failed,
            rows = report.rows_loaded,
            rows_skipped = report.rows_skipped,
            heap_bytes = table.heap_bytes(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "dataset loaded"
        );
        Ok((table, report))
    }
}

fn check_root(root: &Path) -> Result<(), StoreError> {
    if root.exists() && !root.is_dir() {
        return Err(StoreError::NotAFolder {
            root: root.to_path_buf(),
        });
    }
    match std::fs::read_dir(root) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(StoreError::MissingRoot {
            root: root.to_path_buf(),
        }),
        Err(source) => Err(StoreError::UnreadableRoot {
            root: root.to_path_buf(),
            source,
        }),
    }
}

/// Rows the files probably hold, from their sizes, to reserve the columns once.
fn estimate_rows(days: &[(DateKey, Vec<PathBuf>)]) -> usize {
    let bytes: u64 = days
        .iter()
        .flat_map(|(_, files)| files)
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum();
    usize::try_from(bytes / BYTES_PER_ROW_ESTIMATE).unwrap_or(0)
}

/// Loads one file's rows as rows of `date`, recording every problem in `report`.
fn load_file(builder: &mut TableBuilder, date: DateKey, path: &Path, report: &mut LoadReport) {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) => {
            tracing::warn!(file = %path.display(), error = %err, "file unreadable");
            report.files_failed += 1;
            report.warn(|| format!("{}: cannot open: {err}", path.display()));
            return;
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER_BYTES)
        .from_reader(file);
    let time = FileTime::of(date, path);
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                tracing::warn!(file = %path.display(), error = %err, "file read failed");
                report.files_failed += 1;
                report.warn(|| format!("{}: read failed: {err}", path.display()));
                return;
            }
        }
        let stored = parse_row(&record)
            .and_then(|row| check_row(&row, &time).map(|()| row))
            .map_err(|err| (err.reason(), err.to_string()))
            .and_then(|row| {
                builder
                    .try_push(date, &row)
                    .map_err(|err| (SkipReason::Schema, err.to_string()))
            });
        match stored {
            Ok(()) => report.rows_loaded += 1,
            Err((reason, why)) => {
                let line = record.position().map_or(0, |position| position.line());
                report.skip(reason, || format!("{}:{line}: {why}", path.display()));
            }
        }
    }
    report.files_loaded += 1;
}

#[cfg(test)]
mod tests {
    use std::fs;

    use overlay::query::Filter;

    use super::*;

    fn day(n: u32) -> DateKey {
        DateKey::from_u32(n).unwrap()
    }

    fn line(site: &str, parameter: &str, value: &str) -> String {
        format!(
            "\"41.75613\",\"-124.20347\",\"2020-08-10T01:00\",\"{parameter}\",\"{value}\",\
             \"UG/M3\",\"18.0\",\"62.0\",\"2\",\"{site}\",\"North Coast\",\"060150007\",\
             \"840060150007\"\n"
        )
    }

    /// The line with another timestamp.
    fn at(line: String, timestamp: &str) -> String {
        line.replace("2020-08-10T01:00", timestamp)
    }

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn broken_input_is_skipped_counted_and_warned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let twelve = line("Short", "PM2.5", "1.0").replace(",\"840060150007\"", "");
        let truncated = &line("Cut", "PM2.5", "3.0")[..60];
        let first = [
            line("Rangely, CO", "PM2.5", "17.3"),
            twelve,
            line("Bad value", "PM2.5", "abc"),
            line("Missing", "OZONE", "-999").replace("UG/M3", "PPB"),
            truncated.to_string(),
        ]
        .concat();
        write(root, "20200810/20200810-01.csv", &first);
        write(root, "20200810/20200810-03.csv", "");
        write(
            root,
            "20200810/20200810-05.csv",
            &at(line("Later, CA", "PM10", "5"), "2020-08-10T05:00"),
        );
        write(root, "20200810/notes.txt", "not a csv file");
        fs::create_dir_all(root.join("20200815/20200815-01.csv")).unwrap(); // unreadable "file"
        let kept = at(line("Kept", "CO", "0.4"), "2020-08-15T03:00").replace("UG/M3", "PPM");
        write(root, "20200815/20200815-03.csv", &kept);
        write(root, "20200816", "a file where a day folder should be");

        let dates = [day(20200816), day(20200810), day(20200814), day(20200815)];
        let (table, report) = Table::load(root, &dates).unwrap();

        assert_eq!(report.rows_loaded, 4);
        assert_eq!(report.rows_skipped, 3);
        assert_eq!(report.files_loaded, 4);
        assert_eq!(report.files_failed, 1);
        assert_eq!(report.days_missing, vec![day(20200814), day(20200816)]);
        assert_eq!(table.rows(), 4);
        assert_eq!(table.dates(), vec![day(20200810), day(20200815)]);
        let names: Vec<&str> = (0..4).map(|i| table.row(i).unwrap().site_name).collect();
        assert_eq!(names, ["Rangely, CO", "Missing", "Later, CA", "Kept"]);
        assert_eq!(table.row(0).unwrap().aqi, 62);
        assert_eq!(table.row(3).unwrap().date, 20200815);

        let csv = root.join("20200810/20200810-01.csv").display().to_string();
        assert_eq!(
            report.skipped,
            vec![SkippedRows {
                reason: SkipReason::Malformed,
                count: 3,
                first: format!("{csv}:2: has 12 fields, expected 13"),
            }]
        );
        let warnings = report.warnings.join("\n");
        assert!(
            warnings.contains("20200815-01.csv: read failed"),
            "{warnings}"
        );
        assert_eq!(report.warnings.len(), 1, "{warnings}");

        let pm = Filter {
            parameter: Some("PM2.5".into()),
            ..Filter::default()
        };
        assert_eq!(table.scan(&pm, &dates, 0, 10).batch.num_rows, 1);
    }

    #[test]
    fn warnings_stop_at_the_cap_but_counting_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let bad = line("x", "PM2.5", "oops").repeat(MAX_WARNINGS + 10);
        write(dir.path(), "20200810/20200810-01.csv", &bad);
        let (table, report) = Table::load(dir.path(), &[day(20200810)]).unwrap();
        assert_eq!(table.rows(), 0);
        assert_eq!(table.dates(), vec![day(20200810)]);
        assert_eq!(report.rows_skipped, MAX_WARNINGS as u64 + 10);
        assert_eq!(report.skipped[0].count, MAX_WARNINGS as u64 + 10);
        assert!(report.skipped[0]
            .first
            .ends_with(":1: value 'oops' is not a finite number"));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn impossible_rows_are_counted_by_reason_with_the_first_of_each() {
        let dir = tempfile::tempdir().unwrap();
        let good = line("Good", "PM2.5", "1.0");
        let rows = [
            good.clone(),
            good.replace("\"41.75613\"", "\"999\""),
            at(good.clone(), "2020-08-10T03:00"),
            at(good.clone(), "not a time"),
            good.replace("\"41.75613\"", "\"-91\""),
            good.replace("\"62.0\"", "\"-5\""),
            good.replace("\"1.0\"", "\"one\""),
        ]
        .concat();
        write(dir.path(), "20200810/20200810-01.csv", &rows);
        let (table, report) = Table::load(dir.path(), &[day(20200810)]).unwrap();
        assert_eq!((table.rows(), report.rows_skipped), (1, 6));
        let counts: Vec<(&str, u64, &str)> = report
            .skipped
            .iter()
            .map(|rows| (rows.reason.name(), rows.count, rows.first.as_str()))
            .collect();
        let csv = dir.path().join("20200810/20200810-01.csv");
        let at_line = |n: usize, why: &str| format!("{}:{n}: {why}", csv.display());
        assert_eq!(counts.len(), 4, "{counts:?}");
        assert_eq!(
            (counts[0].0, counts[0].1, counts[0].2),
            (
                "malformed",
                1,
                at_line(7, "value 'one' is not a finite number").as_str()
            )
        );
        assert_eq!(
            (counts[1].0, counts[1].1, counts[1].2),
            (
                "coordinates",
                2,
                at_line(2, "latitude 999 is outside [-90, 90]").as_str()
            )
        );
        assert_eq!((counts[2].0, counts[2].1), ("timestamp", 2));
        assert!(
            counts[2].2.contains(":3: timestamp '2020-08-10T03:00'"),
            "{counts:?}"
        );
        assert_eq!((counts[3].0, counts[3].1), ("schema", 1));
        assert!(
            counts[3].2.contains(":6: aqi '-5' is impossible"),
            "{counts:?}"
        );
    }

    #[test]
    fn only_a_missing_or_unreadable_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = Table::load(&missing, &[day(20200810)]).unwrap_err();
        assert!(matches!(err, StoreError::MissingRoot { .. }));
        let message = err.to_string();
        assert!(message.contains("does not exist"), "{message}");
        assert!(message.contains("nope"), "{message}");
        assert!(message.contains("run `harness data generate` or pass --dataset-root"));
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = Table::load(&file, &[]).unwrap_err();
        assert!(matches!(err, StoreError::NotAFolder { .. }), "{err}");
        assert!(err.to_string().contains("is a file, not a folder"), "{err}");
        let (table, report) = Table::load(dir.path(), &[]).unwrap();
        assert_eq!((table.rows(), report), (0, LoadReport::default()));
    }
}
