//! The Overlay harness: drives a cluster and reports what it measured.
//!
//! - [`cli`]: the command line.
//! - [`commands`]: one module per command.
//! - [`client`]: a native client (one query, drained to the last chunk).
//! - [`control`]: a client of a node's control service (faults, strategy, shutdown).
//! - [`cluster`]: launching local clusters (node binary, processes, ports, background state).
//! - [`checker`]: expected answers by a plain scan of the dataset, and comparisons.
//! - [`data`]: the synthetic data generator.
//! - [`fairness`]: Jain's index, per-team goodput from node metrics, demand-aware fairness.
//! - [`latency`]: HDR histograms and latency summaries.
//! - [`verdict`]: verdicts on a run's aggregate answers against the harness's own scan.
//! - [`faults`]: fault schedules: plan, windows, phases, execution and detection times.
//! - [`workload`]: workload files (TOML), checked before anything starts.
//! - [`input`]: what the workload's and the fault schedule's checks share (error, checker).
//! - [`load`]: the load driver (closed and open loop), arrivals and the query mix.
//! - [`provenance`]: the strategy and limits the nodes report, checked against the workload.
//! - [`raw`]: `requests.csv` / `requests.jsonl`, one row per measured request.
//! - [`stats`]: per-outcome histograms (success latency, time to answer), time series.
//! - [`thresholds`]: a workload's pass/fail `[thresholds]`, parsed and evaluated per step.
//! - [`report`]: text reports, results.json, summary.md and charts.
//! - [`runner`]: `harness run` from data to reports.

pub mod checker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod commands;
pub mod control;
pub mod data;
pub mod fairness;
pub mod faults;
pub mod input;
pub mod latency;
pub mod load;
pub mod provenance;
pub mod raw;
pub mod report;
pub mod runner;
pub mod stats;
pub mod thresholds;
pub mod verdict;
pub mod workload;
