//! `harness query`: one query with a summary, or a quick closed-loop load test.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use overlay::config::ClusterConfig;
use overlay::proto::RecordFormat;

use crate::cli::{OutputFormat, QueryArgs};
use crate::client::{connect, run_query, QueryOutcome, QuerySpec};
use crate::latency::{new_histogram, record, LatencySummary};

/// Runs the command.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let address = match &args.node {
        Some(node) => node.clone(),
        None => ClusterConfig::load(&args.config)?.leader().address(),
    };
    let spec = QuerySpec {
        query_type: args.query_type.clone(),
        params: args.params.clone(),
        format: if args.json_chunks {
            RecordFormat::Json
        } else {
            RecordFormat::Typed
        },
        chunk_size: effective_chunk_size(args.chunk_size, args.json_chunks),
        client_id: "harness-query".to_string(),
    };
    if args.repeat <= 1 {
        return single(&address, &spec, args.output).await;
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    load_test(&address, &spec, args.repeat, args.concurrency).await
}

/// The chunk size to ask for: as given, else — for typed batches — one chunk for a whole
/// capped filter answer (a native client has no reason to poll 200 records at a time), and
/// the node's default (the original behaviour) for JSON.
fn effective_chunk_size(requested: i32, json_chunks: bool) -> i32 {
    match (requested, json_chunks) {
        (0, false) => overlay::query::LIMIT_CAP as i32,
        (size, _) => size,
    }
}

async fn single(address: &str, spec: &QuerySpec, output: OutputFormat) -> anyhow::Result<()> {
    let mut client = connect(address).await?;
    let outcome = run_query(&mut client, spec).await?;
    eprintln!(
        "status {} · {} records in {} chunks · {:.1} ms · hops {}",
        outcome.status,
        outcome.drained.record_count(),
        outcome.total_chunks,
        outcome.latency.as_secs_f64() * 1000.0,
        outcome.hops.join(" → ")
    );
    if outcome.partial {
        eprintln!(
            "PARTIAL answer: missing dates {} (slices of {})",
            outcome.missing_dates.join(", "),
            outcome.missing_nodes.join(", ")
        );
    }
    print_records(&outcome, output)?;
    if outcome.status != "ready" {
        bail!("the answer is '{}', not ready", outcome.status);
    }
    Ok(())
}

fn print_records(outcome: &QueryOutcome, output: OutputFormat) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        OutputFormat::None => {}
        OutputFormat::Json => {
            if outcome.drained.batches.is_empty() {
                for row in outcome.drained.json_rows()? {
                    writeln!(out, "{row}")?;
                }
            } else {
                for record in outcome.drained.records()? {
                    writeln!(out, "{}", serde_json::to_string(&record)?)?;
                }
            }
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for record in outcome
                .drained
                .records()
                .context("CSV output is for filter queries; use --output json for aggregates")?
            {
                writer.serialize(record)?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}

async fn load_test(
    address: &str,
    spec: &QuerySpec,
    repeat: u32,
    concurrency: u32,
) -> anyhow::Result<()> {
    let remaining = Arc::new(AtomicU32::new(repeat));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(repeat) {
        let mut client = connect(address).await?;
        let (spec, remaining) = (spec.clone(), remaining.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram = new_histogram();
            let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
            let mut records = 0u64;
            while remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                match run_query(&mut client, &spec).await {
                    Ok(outcome) => {
                        record(&mut histogram, outcome.latency);
                        records += outcome.drained.record_count() as u64;
                        *statuses.entry(outcome.status).or_default() += 1;
                    }
                    Err(err) => *statuses.entry(format!("error: {err}")).or_default() += 1,
                }
            }
            (histogram, statuses, records)
        }));
    }
    let mut histogram = new_histogram();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut records = 0;
    for worker in workers {
        let (h, s, r) = worker.await.context("load worker panicked")?;
        histogram.add(&h).context("merging histograms")?;
        for (status, n) in s {
            *statuses.entry(status).or_default() += n;
        }
        records += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = LatencySummary::of(&histogram);
    println!("{repeat} queries at concurrency {concurrency} in {elapsed:.2} s against {address}");
    println!("throughput  {:.1} queries/s", f64::from(repeat) / elapsed);
    println!(
        "latency ms  mean {:.2}  min {:.2}  p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        summary.mean_ms,
        summary.min_ms,
        summary.p50_ms,
        summary.p95_ms,
        summary.p99_ms,
        summary.max_ms
    );
    println!(
        "records     {records} ({:.1} per query)",
        records as f64 / f64::from(repeat)
    );
    for (status, count) in &statuses {
        println!("status      {status}: {count}");
    }
    Ok(())
}
