//! `overlay-node`: parse arguments, set up logging, bind, build the node, serve until stopped.

use clap::Parser;
use overlay_node::cli::NodeArgs;
use overlay_node::logs::LogRing;
use overlay_node::server;
use overlay_node::trace::{self, TraceSettings};
use std::path::PathBuf;
use tracing_subscriber::filter::LevelFilter;
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
    let trace_file = args
        .trace_file
        .as_ref()
        .map(|path| PathBuf::from(path.to_string_lossy().replace("{id}", &args.id)));
    let traces = trace::layer(&TraceSettings {
        node: &args.id,
        otlp_endpoint: args.otlp_endpoint.as_deref(),
        trace_file: trace_file.as_deref(),
        sample: args.trace_sample,
    })?;
    let (trace_layer, tracing) = traces.unzip();
    // Each layer has its own filter, so the trace spans (target overlay_trace) reach only the
    // trace layer and never show in the log lines.
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(overlay::logging::stderr_layer(args.log_format).with_filter(log_filter))
        .with(logs.layer().with_filter(LevelFilter::INFO))
        .with(trace_layer)
        .init();
    let result = server::run(&args, logs, server::termination_signal()).await;
    if let Some(tracing) = tracing {
        tokio::task::spawn_blocking(move || tracing.shutdown()).await?;
    }
    result
}
