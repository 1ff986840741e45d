//! `harness topology`: a generated cluster config, written to a file or standard output.

use anyhow::Context;

use crate::cli::TopologyArgs;
use crate::topology::{addresses, generate, PerTeam, TopologyError, TopologySpec};

/// Runs the command; a refused argument is an error naming its flag (exit code 1).
pub fn run(args: TopologyArgs) -> anyhow::Result<()> {
    let workers = match args.workers.as_slice() {
        [one] => PerTeam::Each(*one),
        list => PerTeam::List(list.to_vec()),
    };
    let spec = TopologySpec {
        teams: args.teams,
        workers,
        weights: args.weights,
        dates: args.dates,
    };
    let shape = spec.check().map_err(flag_error)?;
    let places = addresses(&args.host, args.base_port, shape.nodes()).map_err(flag_error)?;
    let text = serde_json::to_string_pretty(&generate(&shape, &places))? + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} to {}", shape.label(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The error with the command line's name of the argument (`--base-port`).
fn flag_error(err: TopologyError) -> anyhow::Error {
    anyhow::anyhow!("--{}: {}", err.field.replace('_', "-"), err.message)
}
