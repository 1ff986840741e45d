//! Reports of a run: text per strategy, `results.json`, `summary.md` and charts.
//!
//! - `results.json` is the results model of [`crate::results`], saved by [`write_all`].
//! - [`text`] — `benchmark_fairness_<strategy>.txt`.
//! - [`original`] — the original system's sections of that file, in its exact format.
//! - [`summary`] — `summary.md`.
//! - [`faulted`] — the opening of `summary.md` under faults: correctness, detection, charts.
//! - [`compare`] — `compare.md`: paired steps of several runs, deltas and their noise.
//! - [`scale`] — the scale section of `summary.md`: figures per topology against node count.
//! - [`traces`] — where the time went: the slowest sampled query of each traced step.
//! - [`charts`] — PNG and SVG charts.

pub mod charts;
pub mod compare;
pub mod faulted;
pub mod original;
pub mod scale;
pub mod summary;
pub mod text;
pub mod traces;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::results::{RunResults, Step, StrategyRun};

/// The part of a chart's file name that names one step: `<run>_c<level>_r<repetition>`.
pub fn step_stem(run: &StrategyRun, step: &Step) -> String {
    format!("{}_c{}_r{}", run.name(), step.concurrency, step.repetition)
}

/// Writes every report file of a run into `dir` (results.json included); returns the files.
pub fn write_all(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    results.save(dir)?;
    let mut files = vec![dir.join("results.json")];
    files.extend(render(dir, results)?);
    Ok(files)
}

/// Writes the text reports, the summary and the charts from results (what `harness report`
/// redraws).
pub fn render(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for run in &results.strategies {
        let path = dir.join(format!("benchmark_fairness_{}.txt", run.name()));
        let mut text = Vec::new();
        text::write_strategy(&mut text, results, run)?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        files.push(path);
    }
    let path = dir.join("summary.md");
    std::fs::write(&path, summary::run_summary(results))
        .with_context(|| format!("cannot write {}", path.display()))?;
    files.push(path);
    files.extend(charts::render_run(dir, results)?);
    Ok(files)
}
