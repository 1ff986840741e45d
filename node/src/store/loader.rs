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
use super::parse::parse_row;
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
    /// Broken rows skipped.
    pub rows_skipped: u64,
    /// Files that could not be opened or read to the end (rows read before a read error are
    /// kept).
    pub files_failed: usize,
    /// Requested days whose folder is missing or unreadable; these days are not held.
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
    /// The dataset root exists but cannot be listed (not a folder, or no permission).
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
    /// rows in file order). Broken rows are skipped and counted with a warning (file:line and
    /// why); an unreadable or truncated file never aborts the load; a missing day folder is a
    /// warning. Only a missing or unreadable root is an error.
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
                    tracing::warn!(dir = %dir.display(), error = %err, "day folder missing");
                    report.warn(|| {
                        format!("{}: day folder missing or unreadable: {err}", dir.display())
                    });
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
            .map_err(|err| err.to_string())
            .and_then(|row| builder.try_push(date, &row).map_err(|err| err.to_string()));
        match stored {
            Ok(()) => report.rows_loaded += 1,
            Err(why) => {
                report.rows_skipped += 1;
                let line = record.position().map_or(0, |position| position.line());
                report.warn(|| format!("{}:{line}: row skipped: {why}", path.display()));
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
            line("Missing", "OZONE", "-999"),
            truncated.to_string(),
        ]
        .concat();
        write(root, "20200810/20200810-01.csv", &first);
        write(root, "20200810/20200810-03.csv", "");
        write(
            root,
            "20200810/20200810-05.csv",
            &line("Later, CA", "PM10", "5"),
        );
        write(root, "20200810/notes.txt", "not a csv file");
        fs::create_dir_all(root.join("20200815/20200815-01.csv")).unwrap(); // unreadable "file"
        write(root, "20200815/20200815-03.csv", &line("Kept", "CO", "0.4"));
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

        let warnings = report.warnings.join("\n");
        let csv = root.join("20200810/20200810-01.csv").display().to_string();
        assert!(
            warnings.contains(&format!("{csv}:2: row skipped: has 12 fields")),
            "{warnings}"
        );
        assert!(
            warnings.contains(&format!("{csv}:3: row skipped: value 'abc'")),
            "{warnings}"
        );
        assert!(
            warnings.contains(&format!("{csv}:5: row skipped: has 6 fields")),
            "{warnings}"
        );
        assert!(
            warnings.contains("20200815-01.csv: read failed"),
            "{warnings}"
        );
        assert!(
            warnings.contains("20200814: day folder missing"),
            "{warnings}"
        );
        assert!(
            warnings.contains("20200816: day folder missing"),
            "{warnings}"
        );
        assert_eq!(report.warnings.len(), 6);

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
        assert_eq!(report.warnings.len(), MAX_WARNINGS);
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
        assert!(matches!(err, StoreError::UnreadableRoot { .. }), "{err}");
        let (table, report) = Table::load(dir.path(), &[]).unwrap();
        assert_eq!((table.rows(), report), (0, LoadReport::default()));
    }
}
