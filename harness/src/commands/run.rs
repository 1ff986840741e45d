//! `harness run`: a workload against a local or remote cluster, then its reports.

use crate::cli::RunArgs;
use crate::run::{run as run_workload, RunOptions};
use crate::say;

/// Runs the command.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let dir = run_workload(RunOptions {
        workload: args.workload,
        out: args.out,
        strategies: args.strategies,
        concurrency: args.concurrency,
        data_path: args.data,
        build_node: true,
        progress: !args.quiet,
        raw: args.raw,
        node_args: args.node_args,
    })
    .await?;
    say::out(format_args!(
        "reports in {} ({:.1} s)",
        dir.display(),
        started.elapsed().as_secs_f64()
    ));
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap_or_default();
    for line in summary
        .lines()
        .take_while(|l| !l.starts_with("## Every level"))
    {
        say::out(format_args!("{line}"));
    }
    Ok(())
}
