//! `harness data generate`: synthetic data with a progress bar.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GenerateArgs;
use crate::data::generate::{generate, GenerateOptions};

/// Runs the command.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("generating {}", args.out.display()));
    let summary = generate(
        &GenerateOptions {
            root: args.out.clone(),
            scale: args.scale,
            seed: args.seed,
        },
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
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
