//! `harness compare DIR DIR...`: several runs against the first, step by step, as a table of
//! deltas and overlay charts. Runs whose settings differ are refused unless `--force`.

use crate::cli::CompareArgs;
use crate::results::{differences, RunResults};

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
    let diffs: Vec<(String, Vec<String>)> = runs[1..]
        .iter()
        .map(|r| (r.run_id.clone(), differences(&runs[0], r)))
        .collect();
    let differing: Vec<String> = diffs
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(run, d)| {
            format!(
                "{run} differs from {}:\n  {}",
                runs[0].run_id,
                d.join("\n  ")
            )
        })
        .collect();
    if !differing.is_empty() {
        if !args.force {
            anyhow::bail!(
                "{}\nthese runs did not measure the same thing, so their deltas would mix those changes with the strategies'; compare runs of one workload on one machine, or pass --force to compare anyway (the differences then head compare.md)",
                differing.join("\n")
            );
        }
        eprintln!("WARNING: comparing runs that differ (--force):");
        for d in &differing {
            eprintln!("{d}");
        }
    }
    let table = crate::report::compare::compare(&runs, &diffs);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("compare.md"), &table)?;
    crate::report::charts::render_compare(&args.out, &runs)?;
    println!("{table}");
    println!("table and charts in {}", args.out.display());
    Ok(())
}
