//! `harness data generate`: synthetic data with a progress bar.

use std::time::Instant;

use crate::cli::GenerateArgs;
use crate::data::generate::GenerateOptions;
use crate::data::progress::generate_with_progress;

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
