//! `overlay-node`: parse arguments, set up logging, bind, build the node, serve until stopped.

use clap::Parser;
use overlay_node::cli::NodeArgs;
use overlay_node::logs::LogRing;
use overlay_node::server;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let args = NodeArgs::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.worker_threads {
        anyhow::ensure!(threads >= 1, "--worker-threads must be at least 1");
        runtime.worker_threads(threads);
    }
    runtime.enable_all().build()?.block_on(run(args))
}

async fn run(args: NodeArgs) -> anyhow::Result<()> {
    let logs = LogRing::default();
    tracing_subscriber::registry()
        .with(overlay::logging::stderr_layer(args.log_format))
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with(logs.layer())
        .init();
    server::run(&args, logs, server::termination_signal()).await
}
