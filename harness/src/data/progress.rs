//! Generating a dataset with a progress bar over its files (`harness data generate`, and
//! `harness run` when the workload's data is missing).

use indicatif::{ProgressBar, ProgressStyle};

use super::generate::{generate, GenerateOptions, GenerateSummary};

/// Generates a dataset, with a progress bar over the files when `show` is true.
pub fn generate_with_progress(
    options: &GenerateOptions,
    show: bool,
) -> anyhow::Result<GenerateSummary> {
    let bar = if show {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("generating {}", options.root.display()));
    let summary = generate(options, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(summary)
}
