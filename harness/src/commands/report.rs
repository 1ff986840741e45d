//! `harness report DIR`: redraws a run's text reports, summary and charts from its
//! `results.json`.

use crate::cli::ReportArgs;
use crate::results::RunResults;

/// Runs the command.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let results = RunResults::load(&args.dir)?;
    let dir = if args.dir.is_dir() {
        args.dir.clone()
    } else {
        args.dir
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    };
    let files = crate::report::render(&dir, &results)?;
    println!("redrew {} files in {}", files.len(), dir.display());
    Ok(())
}
