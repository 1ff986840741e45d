//! `harness data generate`: synthetic data with a progress bar.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GenerateArgs;
use crate::data::generate::{generate, GenerateOptions, GenerateSummary};

/// Runs the command.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let options = GenerateOptions {
        root: args.out.clone(),
        scale: args.scale,
        seed: args.seed,
    };
    let summary = generate_with_progress(&options, true)?;
    println!(
        "wrote {} rows in {} files over {} days ({} sites) to {} in {:.1} s",
        summary.rows,
        summary.files,
        summary.dates,
        summary.sites,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

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
