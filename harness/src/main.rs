//! `harness`: parse the command line, run the command.

use clap::Parser;
use overlay_harness::cli::{Cli, ClusterCommand, Command, DataCommand};
use overlay_harness::client::{use_tls, ClientTls};
use overlay_harness::commands;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Output piped into `head` and the like: a command that owns nothing stops quietly when
    // the reader goes away, as command-line tools do. `run` and `cluster up` own node
    // processes and virtual hosts: for them a broken pipe stays a write error (SIGPIPE
    // ignored, Rust's default), so the run goes on or unwinds through its cleanup instead of
    // dying with its nodes left running.
    #[cfg(unix)]
    if !cli.command.owns_processes() {
        // SAFETY: restoring the default disposition of a signal before any thread writes output.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tracing_subscriber::registry()
        .with(overlay::logging::stderr_layer(cli.log_format))
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .init();
    if let Some(tls) = cli.command.tls() {
        if let Some(tls) = ClientTls::load(&tls.files())? {
            use_tls(tls);
        }
    }
    match cli.command {
        Command::Data(DataCommand::Generate(args)) => commands::data::run(args),
        Command::Query(args) => commands::query::run(args).await,
        Command::Metrics(args) => commands::metrics::run(args).await,
        Command::Cluster(ClusterCommand::Up(args)) => commands::cluster::up(args).await,
        Command::Cluster(ClusterCommand::Down(args)) => commands::cluster::down(args).await,
        Command::Cluster(ClusterCommand::Status(args)) => commands::cluster::status(args).await,
        Command::Cluster(ClusterCommand::PrometheusConfig(args)) => {
            commands::cluster::prometheus_config(args)
        }
        Command::Run(args) => commands::run::run(args).await,
        Command::Report(args) => commands::report::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Control(args) => commands::control::run(args).await,
        Command::Topology(args) => commands::topology::run(args),
    }
}
