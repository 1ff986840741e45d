//! `harness compare DIR DIR...`: several runs side by side, as a table and overlay charts.

use crate::cli::CompareArgs;
use crate::results::RunResults;

/// Runs the command.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    if args.dirs.len() < 2 {
        anyhow::bail!("give at least two run folders to compare");
    }
    let runs = args
        .dirs
        .iter()
        .map(|d| RunResults::load(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let table = crate::report::summary::compare(&runs);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("compare.md"), &table)?;
    crate::report::charts::render_compare(&args.out, &runs)?;
    println!("{table}");
    println!("table and charts in {}", args.out.display());
    Ok(())
}
