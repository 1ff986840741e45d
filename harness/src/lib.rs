//! The Overlay harness: drives a cluster and reports what it measured.
//!
//! Layers, top down: [`commands`] (one module per command, the only user of [`cli`]) →
//! [`run`] → [`report`] → [`results`] → the pieces below. Nothing imports `commands`.
//!
//! - [`cli`]: the command line.
//! - [`commands`]: one module per command.
//! - [`run`]: `harness run` from data to reports (prepare, sweep, collect, provenance).
//! - [`report`]: text reports, summary.md and charts, drawn from [`results`].
//! - [`results`]: the results model of a run, saved and loaded as `results.json`.
//! - [`client`]: a native client (one query, drained to the last chunk; a node's metrics).
//! - [`control`]: a client of a node's control service (faults, strategy, shutdown).
//! - [`cluster`]: local clusters (the run's config, node binary, processes, ports, state).
//! - [`netns`]: virtual hosts: a config's hosts in network namespaces of their own.
//! - [`checker`]: expected answers by a plain scan of the dataset, and comparisons.
//! - [`data`]: the synthetic data generator.
//! - [`fairness`]: Jain's index, per-team goodput from node metrics, demand-aware fairness.
//! - [`latency`]: HDR histograms and latency summaries.
//! - [`verdict`]: verdicts on a run's aggregate answers against the harness's own scan.
//! - [`faults`]: fault schedules: plan, windows, phases, execution and detection times.
//! - [`workload`]: workload files (TOML), checked before anything starts.
//! - [`input`]: what the workload's and the fault schedule's checks share (error, checker).
//! - [`interval`]: medians of repetitions, bootstrap confidence intervals, deltas.
//! - [`load`]: the load driver (closed and open loop), arrivals and the query mix.
//! - [`raw`]: `requests.csv` / `requests.jsonl`, one row per measured request.
//! - [`stats`]: per-outcome histograms (success latency, time to answer), time series.
//! - [`say`]: progress and result lines that a closed stderr or stdout cannot turn into a crash.
//! - [`stop`]: the run's stop flag (Ctrl-C), seen by the load and the fault schedule.
//! - [`thresholds`]: a workload's pass/fail `[thresholds]`, parsed and checked.
//! - [`trace`]: traces of sampled queries: `traceparent`, span files, where the time went.
//! - [`topology`]: generated topologies (T teams of a team leader and workers) as configs.
//! - [`utc`]: UTC time stamps (run ids) on the workspace's calendar.

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
pub mod interval;
pub mod latency;
pub mod load;
pub mod netns;
pub mod raw;
pub mod report;
pub mod results;
pub mod run;
pub mod say;
pub mod stats;
pub mod stop;
pub mod thresholds;
pub mod topology;
pub mod trace;
pub mod utc;
pub mod verdict;
pub mod workload;
