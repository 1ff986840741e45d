//! The load driver: `lanes` tasks take tickets from one [`Schedule`], wait until each is due,
//! send it and hand the sample to a collector task that records it. Closed and open loop
//! differ only in the schedule (and the closed loop's lane-to-team assignment); there is one
//! driver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::MetricsRequest;
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use super::arrival::{Schedule, Ticket};
use super::mix::{Call, PreparedMix};
use crate::client::{connect, run_query};
use crate::stats::{Outcome, Recorder, Sample, StepMeasure};
use crate::workload::{LoadMode, StepLength};

/// Samples queued between the lanes and the collector (bounded: lanes wait when it is full).
const SAMPLE_QUEUE: usize = 16_384;

/// How long the lanes may take to finish after a stop is asked for.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// One step's shape.
#[derive(Clone, Debug)]
pub struct StepPlan {
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Workers (closed) or most queries in flight (open).
    pub lanes: usize,
    /// Not counted.
    pub warmup: Duration,
    /// When to stop.
    pub length: StepLength,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Closed loop: pause after a rejection.
    pub reject_backoff: Duration,
    /// Seed of the draws.
    pub seed: u64,
}

/// Connections to the node under load.
#[derive(Clone)]
pub struct Target {
    clients: Vec<OverlayNodeClient<Channel>>,
}

impl Target {
    /// Opens `connections` HTTP/2 connections to `address`.
    pub async fn connect(address: &str, connections: usize) -> anyhow::Result<Target> {
        let mut clients = Vec::new();
        for _ in 0..connections.max(1) {
            clients.push(connect(address).await?);
        }
        Ok(Target { clients })
    }
}

/// A stop request (Ctrl-C) shared by the runner and the lanes.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop flag and the handle that raises it.
    pub fn channel() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    /// True once stop was asked for.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until stop is asked for.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|&stop| stop).await;
    }
}

/// Runs one step and returns what it measured (queries cut short by a stop are left out).
pub async fn run_step(
    plan: &StepPlan,
    target: &Target,
    mix: Arc<PreparedMix>,
    stop: Stop,
    progress: Option<ProgressBar>,
) -> StepMeasure {
    let schedule = Arc::new(Schedule::new(
        plan.mode,
        plan.warmup,
        plan.length,
        plan.seed,
    ));
    let (tx, rx) = mpsc::channel::<Option<Sample>>(SAMPLE_QUEUE);
    let collector = tokio::spawn(collect(rx, mix.clone(), schedule.warmup_end, progress));
    let lane_teams = match plan.mode {
        LoadMode::Closed => mix.lane_teams(plan.lanes),
        LoadMode::Open { .. } => None,
    };
    let mut lanes = Vec::new();
    for lane in 0..plan.lanes {
        let client = target.clients[lane % target.clients.len()].clone();
        let fixed_team = lane_teams.as_ref().map(|teams| teams[lane]);
        let (schedule, mix, tx, stop, plan) = (
            schedule.clone(),
            mix.clone(),
            tx.clone(),
            stop.clone(),
            plan.clone(),
        );
        lanes.push(tokio::spawn(async move {
            run_lane(client, schedule, mix, fixed_team, tx, stop, plan).await
        }));
    }
    drop(tx);
    let mut stop_wait = stop.clone();
    let all = futures::future::join_all(lanes);
    tokio::pin!(all);
    tokio::select! {
        _ = &mut all => {}
        _ = async { stop_wait.wait().await; tokio::time::sleep(STOP_GRACE).await } => {
            tracing::warn!("lanes still busy after the stop grace; leaving their queries out");
        }
    }
    let (recorder, last_done) = match collector.await {
        Ok(done) => done,
        Err(_) => (Recorder::new(mix.teams.clone(), mix.queries.clone()), None),
    };
    let window = last_done
        .map(|t| t.saturating_duration_since(schedule.warmup_end))
        .unwrap_or_default();
    recorder.finish(window.as_secs_f64())
}

async fn run_lane(
    mut client: OverlayNodeClient<Channel>,
    schedule: Arc<Schedule>,
    mix: Arc<PreparedMix>,
    fixed_team: Option<usize>,
    tx: mpsc::Sender<Option<Sample>>,
    mut stop: Stop,
    plan: StepPlan,
) {
    while !stop.is_set() {
        let Some(ticket) = schedule.take() else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(ticket.due.into()) => {}
            _ = stop.wait() => return,
        }
        let sample = tokio::select! {
            sample = send(&mut client, &mix, fixed_team, &ticket, &plan, schedule.warmup_end) => sample,
            _ = stop.wait() => return,
        };
        let rejected = sample.outcome == Outcome::Rejected;
        let message = (!ticket.warmup).then_some(sample);
        if tx.send(message).await.is_err() {
            return;
        }
        if rejected && plan.mode == LoadMode::Closed && !plan.reject_backoff.is_zero() {
            tokio::time::sleep(plan.reject_backoff).await;
        }
    }
}

async fn send(
    client: &mut OverlayNodeClient<Channel>,
    mix: &PreparedMix,
    fixed_team: Option<usize>,
    ticket: &Ticket,
    plan: &StepPlan,
    warmup_end: Instant,
) -> Sample {
    let query = mix.query_for(ticket.query_draw);
    let team = fixed_team.unwrap_or_else(|| mix.team_for(ticket.team_draw));
    let sent = Instant::now();
    let result = tokio::time::timeout(plan.timeout, call(client, mix.call(query, team))).await;
    let done = Instant::now();
    let (outcome, records, error) = match result {
        Ok(result) => result,
        Err(_) => (
            Outcome::Failed,
            0,
            Some(format!("no answer within {:?}", plan.timeout)),
        ),
    };
    // Closed loop: due == sent. Open loop: latency counts from when the query was due.
    let due = ticket.due.min(sent);
    Sample {
        team,
        query,
        outcome,
        latency: done - due,
        service: done - sent,
        at_s: done.saturating_duration_since(warmup_end).as_secs_f64(),
        records,
        error,
    }
}

async fn call(
    client: &mut OverlayNodeClient<Channel>,
    call: &Call,
) -> (Outcome, u64, Option<String>) {
    match call {
        Call::Metrics => match client.get_metrics(MetricsRequest {}).await {
            Ok(_) => (Outcome::Ok, 0, None),
            Err(status) => (
                Outcome::Failed,
                0,
                Some(format!("GetMetrics: {}", status.code())),
            ),
        },
        Call::Query(spec) => match run_query(client, spec).await {
            Ok(outcome) if outcome.status == "ready" => {
                (Outcome::Ok, outcome.drained.record_count() as u64, None)
            }
            Ok(outcome) if outcome.status.starts_with("rejected") => (Outcome::Rejected, 0, None),
            Ok(outcome) => (
                Outcome::Failed,
                0,
                Some(format!("status {}", outcome.status)),
            ),
            Err(err) => (Outcome::Failed, 0, Some(short_error(&err.to_string()))),
        },
    }
}

/// Error texts are grouped by kind; uids and indexes would make each one distinct.
fn short_error(text: &str) -> String {
    text.split(|c: char| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .join("#")
        .chars()
        .take(160)
        .collect()
}

async fn collect(
    mut rx: mpsc::Receiver<Option<Sample>>,
    mix: Arc<PreparedMix>,
    warmup_end: Instant,
    progress: Option<ProgressBar>,
) -> (Recorder, Option<Instant>) {
    let mut recorder = Recorder::new(mix.teams.clone(), mix.queries.clone());
    let mut last_done = None;
    let mut counts = [0u64; 3];
    let mut last_shown = Instant::now();
    while let Some(message) = rx.recv().await {
        let Some(sample) = message else {
            recorder.warmup();
            continue;
        };
        counts[sample.outcome as usize] += 1;
        let done = warmup_end + Duration::from_secs_f64(sample.at_s);
        if last_done.is_none_or(|last| done > last) {
            last_done = Some(done);
        }
        recorder.add(sample);
        if let Some(bar) = &progress {
            if last_shown.elapsed() > Duration::from_millis(250) {
                last_shown = Instant::now();
                bar.set_message(format!(
                    "ok {} · rejected {} · failed {}",
                    counts[0], counts[1], counts[2]
                ));
            }
        }
    }
    (recorder, last_done)
}
