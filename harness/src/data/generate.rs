//! Deterministic synthetic generator of AirNow hourly CSV files: the real dataset's layout
//! (43 day folders × 12 odd-hour files, 13 quoted fields per row) with made-up sites and values.

mod aqi;
mod row;
mod sites;
mod values;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::sites::Site;
use self::values::Conditions;

/// Rows in the real dataset, which scale 1.0 reproduces.
const REAL_ROWS: f64 = overlay::dataset::REAL_ROW_COUNT as f64;
/// Distinct sites in the real dataset; the table has this many from `scale` 0.1 up to 1.
const REAL_SITES: f64 = 1_417.0;
/// Below `scale` 0.1 the site table shrinks in proportion (1 / 0.1 = 10), so tiny datasets
/// still show most sites in most files.
const SITE_SCALE_FACTOR: f64 = 10.0;
/// Fewest sites at any scale: enough for several agencies, parameters and a comma name.
const MIN_SITES: usize = 20;
/// Largest accepted scale: 10× the real data (~1.8 GB on disk) bounds disk use.
const MAX_SCALE: f64 = 10.0;
use overlay::dataset::HOURS;
/// Relative spread of per-file row counts (real files: sd 24 on a mean of 2,263 ≈ 1 %).
const FILE_JITTER: f64 = 0.011;
/// ChaCha stream of the site table; files use streams 0, 1, …, so this is far past them.
const SITE_STREAM: u64 = 1 << 40;
/// ChaCha stream of the per-file row-count jitter.
const JITTER_STREAM: u64 = (1 << 40) + 1;
/// Write buffer per file: a real-size file is ~350 kB, so a few large writes each.
const WRITE_BUFFER: usize = 1 << 17;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Dataset root; day folders (`YYYYMMDD`) are created under it.
    pub root: PathBuf,
    /// 1.0 = the real size (≈1,167,525 rows); 0.01 = 1 %; must be > 0 and ≤ 10.
    pub scale: f64,
    /// Same seed and scale give byte-identical files.
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Day folders written (always 43).
    pub dates: usize,
    /// CSV files written (always 516).
    pub files: usize,
    /// Data rows written across all files.
    pub rows: u64,
    /// Sites in the generated site table.
    pub sites: usize,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `scale` was not a finite number in (0, 10].
    #[error(
        "invalid scale {0}: use a number greater than 0 and at most 10 \
         (1.0 = the real size, 0.01 = 1 %)"
    )]
    InvalidScale(f64),
    /// Creating a day folder or writing a file failed.
    #[error(
        "cannot write {}: {source}; check that the dataset root is a writable folder \
         and that the disk has room",
        path.display()
    )]
    Io {
        /// The folder or file being created.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Writes the dataset; calls `progress(files_done, files_total)` after each file.
pub fn generate(
    options: &GenerateOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<GenerateSummary, GenerateError> {
    let scale = options.scale;
    if !(scale > 0.0 && scale <= MAX_SCALE) {
        return Err(GenerateError::InvalidScale(scale));
    }
    let days = dates();
    let files_total = days.len() * HOURS.len();
    let table = sites::build(&mut stream(options.seed, SITE_STREAM), site_count(scale));
    let ends = cumulative_targets(options.seed, REAL_ROWS * scale, files_total);
    let mut rows = 0;
    let mut done = 0;
    for (day_index, &(year, month, day)) in days.iter().enumerate() {
        let name = format!("{year:04}{month:02}{day:02}");
        let folder = options.root.join(&name);
        fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let smoke = values::fire_intensity(month, day);
        for (slot, hour) in HOURS.into_iter().enumerate() {
            let file = FileSpec {
                path: folder.join(format!("{name}-{hour:02}.csv")),
                stamp: format!("\"{year:04}-{month:02}-{day:02}T{hour:02}:00\","),
                index: done,
                day: day_index as u64,
                slot,
                smoke,
                // Aim at the running total so one file's overshoot is taken back by the next.
                target: ends[done].saturating_sub(rows) as usize,
            };
            rows += write_file(&file, &table, options.seed)?;
            done += 1;
            progress(done, files_total);
        }
    }
    let manifest = super::manifest::Manifest {
        scale,
        seed: options.seed,
        rows,
        files: done,
        days: days.len(),
        generator: format!("overlay-harness {}", env!("CARGO_PKG_VERSION")),
    };
    manifest.write(&options.root).map_err(|e| match e {
        super::manifest::ManifestError::Io { path, source, .. } => {
            GenerateError::Io { path, source }
        }
        other => GenerateError::Io {
            path: options.root.clone(),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    Ok(GenerateSummary {
        dates: days.len(),
        files: done,
        rows,
        sites: table.len(),
    })
}

/// The real dataset's dates (year, month, day): 2020-08-10, then 2020-08-14 … 2020-09-24.
/// Kept as the one place that lists dates so a shared helper can replace it.
fn dates() -> Vec<(u32, u32, u32)> {
    overlay::dataset::airnow_2020_dates()
        .into_iter()
        .map(|d| (d.year(), d.month(), d.day()))
        .collect()
}

/// Everything `write_file` needs to know about one file.
struct FileSpec {
    /// Where the file is written.
    path: PathBuf,
    /// `"YYYY-MM-DDTHH:00",` — the timestamp field and its comma.
    stamp: String,
    /// Position among all files; selects the file's random stream.
    index: usize,
    /// Position of the date among the dates; keys the per-day smoke hashes.
    day: u64,
    /// Position of the hour among the day's files.
    slot: usize,
    /// The date's fire intensity.
    smoke: f64,
    /// Rows to aim for.
    target: usize,
}

/// Writes one file (rows in site-table order) and returns its row count.
fn write_file(file: &FileSpec, table: &[Site], seed: u64) -> Result<u64, GenerateError> {
    let mut rng = stream(seed, file.index as u64);
    let chosen = choose_sites(&mut rng, table, file.target);
    let handle = File::create(&file.path).map_err(io_error(&file.path))?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, handle);
    let mut line = Vec::with_capacity(512);
    let mut rows = 0;
    for site in table
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(s, _)| s)
    {
        let smoke = values::smoke_factor(seed, file.day, file.smoke, site);
        let conditions = Conditions {
            slot: file.slot,
            smoke,
        };
        for &param in &site.params {
            let reading = values::sample(&mut rng, site, &conditions, param);
            line.clear();
            row::push_row(&mut line, site, file.stamp.as_bytes(), param, &reading);
            out.write_all(&line).map_err(io_error(&file.path))?;
            rows += 1;
        }
    }
    out.flush().map_err(io_error(&file.path))?;
    Ok(rows)
}

/// Picks sites in random order until their parameter rows add up to (about) `target`;
/// a site that would overshoot is taken only if that lands closer to the target.
fn choose_sites(rng: &mut ChaCha8Rng, table: &[Site], target: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..table.len()).collect();
    let mut chosen = vec![false; table.len()];
    let mut rows = 0;
    for i in 0..order.len() {
        if rows >= target {
            break;
        }
        let pick = rng.random_range(i..order.len());
        order.swap(i, pick);
        let site = order[i];
        let after = rows + table[site].params.len();
        if after <= target || after - target < target - rows {
            chosen[site] = true;
            rows = after;
        }
    }
    chosen
}

/// Running row totals after each file: `total` spread over `files` with ~1 % jitter per
/// file; the last entry is `total` rounded.
fn cumulative_targets(seed: u64, total: f64, files: usize) -> Vec<u64> {
    let mut rng = stream(seed, JITTER_STREAM);
    let weights: Vec<f64> = (0..files)
        .map(|_| (1.0 + FILE_JITTER * values::normal(&mut rng)).max(0.5))
        .collect();
    let per_weight = total / weights.iter().sum::<f64>();
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|weight| {
            cumulative += weight * per_weight;
            cumulative.round() as u64
        })
        .collect()
}

/// Sites for `scale`: the real 1,417 from 0.1 to 1, proportionally fewer below (at least
/// [`MIN_SITES`]), proportionally more above so files can hold the extra rows.
fn site_count(scale: f64) -> usize {
    let share = (scale * SITE_SCALE_FACTOR).min(1.0).max(scale);
    ((REAL_SITES * share).round() as usize).max(MIN_SITES)
}

/// The ChaCha8 stream `stream` of `seed`: independent, reproducible sequences per purpose.
fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Wraps an I/O error with the path it concerns.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Generates into a fresh temporary root.
    fn run(scale: f64, seed: u64) -> (tempfile::TempDir, GenerateSummary) {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = GenerateOptions {
            root: dir.path().to_path_buf(),
            scale,
            seed,
        };
        let summary = generate(&options, |_, _| {}).expect("generate");
        (dir, summary)
    }

    /// Every file of the day folders under `root`, keyed by its path relative to the root.
    fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for day in fs::read_dir(root).expect("root") {
            let day = day.expect("entry").path();
            if !day.is_dir() {
                continue;
            }
            for file in fs::read_dir(&day).expect("day") {
                let file = file.expect("entry").path();
                let key = file
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.insert(key, fs::read(&file).expect("read"));
            }
        }
        out
    }

    /// All records of all files, parsed by the csv crate.
    fn records(root: &Path) -> Vec<csv::StringRecord> {
        let mut out = Vec::new();
        for bytes in files(root).values() {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            out.extend(reader.records().map(|r| r.expect("valid csv")));
        }
        out
    }

    #[test]
    fn same_seed_and_scale_give_identical_bytes() {
        let (a, sa) = run(0.005, 9);
        let (b, sb) = run(0.005, 9);
        assert_eq!(sa, sb);
        assert!(files(a.path()) == files(b.path()), "files differ");
    }

    #[test]
    fn different_seeds_give_different_files() {
        let (a, _) = run(0.005, 1);
        let (b, _) = run(0.005, 2);
        assert!(files(a.path()) != files(b.path()));
    }

    #[test]
    fn layout_is_43_day_folders_of_12_odd_hour_files() {
        let (dir, summary) = run(0.002, 3);
        assert_eq!((summary.dates, summary.files), (43, 516));
        let all = files(dir.path());
        assert_eq!(all.len(), 516);
        let entries: Vec<_> = fs::read_dir(dir.path())
            .expect("root")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(entries.iter().filter(|p| p.is_dir()).count(), 43);
        // Beside the day folders, only the manifest of what was written.
        let manifest = super::super::manifest::Manifest::read(dir.path())
            .expect("manifest")
            .expect("written");
        assert_eq!(entries.len(), 44);
        assert_eq!(
            (manifest.scale, manifest.seed, manifest.rows, manifest.files),
            (0.002, 3, summary.rows, 516)
        );
        for (year, month, day) in dates() {
            for hour in HOURS {
                let name =
                    format!("{year}{month:02}{day:02}/{year}{month:02}{day:02}-{hour:02}.csv");
                assert!(all.contains_key(&name), "missing {name}");
            }
        }
        assert!(all.contains_key("20200810/20200810-01.csv"));
        assert!(all.contains_key("20200924/20200924-23.csv"));
    }

    #[test]
    fn dates_are_the_real_ones() {
        let days = dates();
        assert_eq!(days.len(), 43);
        assert_eq!(days[0], (2020, 8, 10));
        assert_eq!(days[1], (2020, 8, 14));
        assert_eq!(days[42], (2020, 9, 24));
        assert!(days.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_row_is_13_quoted_fields_in_the_feed_format() {
        let (dir, summary) = run(0.005, 4);
        for (name, bytes) in files(dir.path()) {
            let text = String::from_utf8(bytes).expect("utf-8");
            let stamp = format!(
                "\"{}-{}-{}T{}:00\"",
                &name[0..4],
                &name[4..6],
                &name[6..8],
                &name[18..20]
            );
            for line in text.lines() {
                assert!(line.starts_with('"') && line.ends_with('"'), "{line}");
                assert!(line.contains(&stamp), "{name}: {line}");
            }
        }
        let rows = records(dir.path());
        assert_eq!(rows.len() as u64, summary.rows);
        let units = overlay::record::PARAMETER_UNITS;
        for row in &rows {
            assert_eq!(row.len(), 13, "{row:?}");
            assert!(units.contains(&(&row[3], &row[5])), "{row:?}");
            for field in [&row[4], &row[6]] {
                let decimals = field.split('.').nth(1).map(str::len);
                assert_eq!(decimals, Some(1), "{row:?}");
                field.parse::<f64>().expect("number");
            }
            let category: i64 = row[8].parse().expect("category");
            assert!((1..=6).contains(&category) || category == -999);
            row[7].parse::<i64>().expect("aqi");
            assert_eq!(row[12].len(), 12);
        }
        assert!(
            rows.iter().any(|r| r[9].contains(',')),
            "no site name with a comma"
        );
    }

    #[test]
    fn total_rows_are_within_two_percent_of_the_scaled_real_total() {
        for (scale, seed) in [(0.005, 5), (0.02, 6)] {
            let (dir, summary) = run(scale, seed);
            let expected = REAL_ROWS * scale;
            let error = (summary.rows as f64 - expected).abs() / expected;
            assert!(
                error < 0.02,
                "scale {scale}: {} rows vs {expected}",
                summary.rows
            );
            let lines: usize = files(dir.path())
                .values()
                .map(|f| f.split(|b| *b == b'\n').count() - 1)
                .sum();
            assert_eq!(lines as u64, summary.rows);
        }
    }

    #[test]
    fn rows_per_file_vary_a_little() {
        let (dir, _) = run(0.05, 7);
        let counts: Vec<usize> = files(dir.path())
            .values()
            .map(|f| f.iter().filter(|b| **b == b'\n').count())
            .collect();
        let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
        assert!(min < max, "{min:?} {max:?}");
        assert!(min >= Some(90) && max <= Some(135), "{min:?} {max:?}");
    }

    #[test]
    fn invalid_scales_are_rejected_before_writing() {
        for scale in [0.0, -1.0, 10.5, f64::NAN, f64::INFINITY] {
            let dir = tempfile::tempdir().expect("tempdir");
            let root = dir.path().join("data");
            let options = GenerateOptions {
                root: root.clone(),
                scale,
                seed: 1,
            };
            let error = generate(&options, |_, _| {}).expect_err("must fail");
            assert!(matches!(error, GenerateError::InvalidScale(_)));
            assert!(
                error.to_string().contains("greater than 0 and at most 10"),
                "{error}"
            );
            assert!(!root.exists());
        }
        let upper = GenerateError::InvalidScale(10.5).to_string();
        assert!(upper.contains("10.5"), "{upper}");
    }

    #[test]
    fn io_errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("not-a-folder");
        fs::write(&root, b"x").expect("write");
        let options = GenerateOptions {
            root: root.clone(),
            scale: 0.001,
            seed: 1,
        };
        let error = generate(&options, |_, _| {}).expect_err("must fail");
        assert!(matches!(&error, GenerateError::Io { path, .. } if path.starts_with(&root)));
        assert!(error.to_string().contains("not-a-folder"), "{error}");
    }

    #[test]
    fn progress_is_reported_after_every_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = GenerateOptions {
            root: dir.path().to_path_buf(),
            scale: 0.001,
            seed: 8,
        };
        let mut calls = Vec::new();
        generate(&options, |done, total| calls.push((done, total))).expect("generate");
        let expected: Vec<_> = (1..=516).map(|done| (done, 516)).collect();
        assert_eq!(calls, expected);
    }

    #[test]
    fn pm25_mid_range_share_is_plausible() {
        // Real: 116,218 of 1,167,525 rows (≈ 10 %) are PM2.5 with 10 ≤ value ≤ 50.
        let (dir, _) = run(0.02, 42);
        let rows = records(dir.path());
        let mid = rows
            .iter()
            .filter(|r| &r[3] == "PM2.5")
            .filter(|r| {
                r[4].parse::<f64>()
                    .is_ok_and(|v| (10.0..=50.0).contains(&v))
            })
            .count();
        let share = mid as f64 / rows.len() as f64;
        assert!((0.06..0.15).contains(&share), "share {share}");
        let negative = rows.iter().filter(|r| r[4].starts_with('-')).count() as f64;
        assert!(
            (0.004..0.02).contains(&(negative / rows.len() as f64)),
            "{negative}"
        );
    }

    #[test]
    fn site_count_follows_scale() {
        assert_eq!(site_count(1.0), 1417);
        assert_eq!(site_count(0.1), 1417);
        assert_eq!(site_count(0.05), 709);
        assert_eq!(site_count(0.0001), MIN_SITES);
        assert_eq!(site_count(2.0), 2834);
        let (_, summary) = run(0.003, 1);
        assert_eq!(summary.sites, site_count(0.003));
    }

    #[test]
    fn cumulative_targets_end_at_the_total() {
        let ends = cumulative_targets(3, 11_675.25, 516);
        assert_eq!(ends.last(), Some(&11_675));
        let steps: Vec<u64> = ends.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|t| (20..=25).contains(t)), "{steps:?}");
    }
}
