//! The load driver: `lanes` tasks take tickets from one [`Schedule`], wait until each is due,
//! send it and hand the sample to a collector task that records it. Closed and open loop
//! differ only in the schedule (and the closed loop's lane-to-team assignment); there is one
//! driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::MetricsRequest;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::arrival::{Schedule, Ticket};
use super::mix::{Call, PreparedMix};
use super::retry::{time_to_answer, AfterRejection, RetryPolicy};
use crate::client::{connect, endpoint, node_client, run_query, ClientError};
use crate::raw::{RawStep, RawWriter, RequestRow};
use crate::stats::{Outcome, Recorder, Sample, StepMeasure};
use crate::stop::Stop;
use crate::verdict::{AnswerChecker, Verdict};
use crate::workload::{LoadMode, StepLength};

/// Samples queued between the lanes and the collector (bounded: lanes wait when it is full).
const SAMPLE_QUEUE: usize = 16_384;

/// How long opening a connection to a spare entry node may take.
const SPARE_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How long the lanes may take to finish after a stop is asked for.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// One step's shape.
#[derive(Clone)]
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
    /// Pause after a rejection (before the retry, or closed loop without retries: before the
    /// next request).
    pub reject_backoff: Duration,
    /// Retry rejected attempts until the timeout.
    pub retry_rejected: bool,
    /// Where each measured request's row goes, and what the step is (none: not written).
    pub raw: Option<(Arc<RawWriter>, RawStep)>,
    /// Seed of the draws.
    pub seed: u64,
    /// Checks aggregate answers against the harness's own scan, when the run does.
    pub checker: Option<Arc<AnswerChecker>>,
    /// Measured queries completed so far (fault events triggered by a request count read it).
    pub completed: Arc<AtomicU64>,
    /// Print the step's counts to stderr as a plain line every few seconds, with this label
    /// (when stderr is not a terminal and the progress bar is hidden).
    pub plain_progress: Option<String>,
}

/// Connections to the node under load, and lazily connected spares to the nodes that can
/// take over as entry (the team leaders) when it stops answering.
#[derive(Clone)]
pub struct Target {
    address: String,
    clients: Vec<OverlayNodeClient<Channel>>,
    fallbacks: Vec<(String, OverlayNodeClient<Channel>)>,
}

impl Target {
    /// Opens `connections` HTTP/2 connections to `address`; `fallbacks` are addresses to
    /// retry a query on once when the entry node fails it at the transport level.
    pub async fn connect(
        address: &str,
        connections: usize,
        fallbacks: &[String],
    ) -> anyhow::Result<Target> {
        let mut clients = Vec::new();
        for _ in 0..connections.max(1) {
            clients.push(connect(address).await?);
        }
        let fallbacks = fallbacks
            .iter()
            .map(|address| {
                // A spare is tried while the entry node fails: give up on it quickly.
                let endpoint = endpoint(address)?.connect_timeout(SPARE_CONNECT_TIMEOUT);
                Ok((address.clone(), node_client(endpoint.connect_lazy())))
            })
            .collect::<Result<_, ClientError>>()?;
        Ok(Target {
            address: address.to_string(),
            clients,
            fallbacks,
        })
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
    let clock = Clock::now();
    let (tx, rx) = mpsc::channel::<Option<Sample>>(SAMPLE_QUEUE);
    let collector = tokio::spawn(collect(
        rx,
        mix.clone(),
        schedule.warmup_end,
        progress,
        plan.completed.clone(),
        plan.raw.clone(),
        plan.plain_progress.clone(),
    ));
    let lane_teams = match plan.mode {
        LoadMode::Closed => mix.lane_teams(plan.lanes),
        LoadMode::Open { .. } => None,
    };
    let mut lanes = Vec::new();
    for lane in 0..plan.lanes {
        let client = target.clients[lane % target.clients.len()].clone();
        let fallbacks = target.fallbacks.clone();
        let address = target.address.clone();
        let fixed_team = lane_teams.as_ref().map(|teams| teams[lane]);
        let (schedule, mix, tx, stop, plan) = (
            schedule.clone(),
            mix.clone(),
            tx.clone(),
            stop.clone(),
            plan.clone(),
        );
        lanes.push(tokio::spawn(async move {
            let clients = Clients {
                address,
                client,
                fallbacks,
            };
            run_lane(clients, schedule, mix, fixed_team, tx, stop, plan, clock).await
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

/// One lane's connection to the entry node and its spares.
struct Clients {
    address: String,
    client: OverlayNodeClient<Channel>,
    fallbacks: Vec<(String, OverlayNodeClient<Channel>)>,
}

/// Turns the step's instants into Unix milliseconds for the raw rows.
#[derive(Clone, Copy)]
struct Clock {
    at: Instant,
    unix_ms: u64,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            at: Instant::now(),
            unix_ms: overlay::date::unix_ms(),
        }
    }

    fn unix_ms(&self, t: Instant) -> u64 {
        let ms = |d: Duration| d.as_millis() as u64;
        match t.checked_duration_since(self.at) {
            Some(after) => self.unix_ms + ms(after),
            None => self.unix_ms.saturating_sub(ms(self.at - t)),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_lane(
    mut clients: Clients,
    schedule: Arc<Schedule>,
    mix: Arc<PreparedMix>,
    fixed_team: Option<usize>,
    tx: mpsc::Sender<Option<Sample>>,
    mut stop: Stop,
    plan: StepPlan,
    clock: Clock,
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
            sample = send(&mut clients, &mix, fixed_team, &ticket, &plan, schedule.warmup_end, clock) => sample,
            _ = stop.wait() => return,
        };
        let rejected = sample.outcome == Outcome::Rejected;
        let message = (!ticket.warmup).then_some(sample);
        if tx.send(message).await.is_err() {
            return;
        }
        // With retries the backoff came before each retry already.
        if rejected
            && !plan.retry_rejected
            && plan.mode == LoadMode::Closed
            && !plan.reject_backoff.is_zero()
        {
            tokio::time::sleep(plan.reject_backoff).await;
        }
    }
}

/// Sends one request: its first attempt, and after each rejection (with retries on) a pause
/// and another attempt, until it is answered, fails or reaches its deadline (when it was due,
/// plus the timeout).
async fn send(
    clients: &mut Clients,
    mix: &PreparedMix,
    fixed_team: Option<usize>,
    ticket: &Ticket,
    plan: &StepPlan,
    warmup_end: Instant,
    clock: Clock,
) -> Sample {
    let query = mix.query_for(ticket.query_draw);
    let team = fixed_team.unwrap_or_else(|| mix.team_for(ticket.team_draw));
    let first_sent = Instant::now();
    // Closed loop: due == sent. Open loop: latency counts from when the query was due.
    let due = ticket.due.min(first_sent);
    // The timeout counts from when the request was due: time spent waiting for a free lane
    // (open loop) is part of the wait its client sees.
    let deadline = due + plan.timeout;
    let policy = RetryPolicy {
        retry_rejected: plan.retry_rejected,
        backoff: plan.reject_backoff,
    };
    let checker = plan.checker.as_deref().filter(|c| c.checks(query));
    let (mut attempts, mut rejected_attempts) = (0u32, 0u32);
    let (answer, sent, done, timed_out) = loop {
        let sent = Instant::now();
        if sent >= deadline {
            // Due longer ago than its timeout before a lane was free: never sent.
            let error = "not sent within the timeout: every lane was busy".to_string();
            break (Answer::failed(error, false), sent, sent, true);
        }
        let left = deadline.saturating_duration_since(sent);
        let answer =
            match tokio::time::timeout(left, attempt(clients, mix, query, team, ticket, checker))
                .await
            {
                Ok(answer) => answer,
                Err(_) => Answer::failed(format!("no answer within {:?}", plan.timeout), false),
            };
        let done = Instant::now();
        attempts += 1;
        if answer.outcome != Outcome::Rejected {
            let timed_out = answer.outcome == Outcome::Failed && done >= deadline;
            break (answer, sent, done, timed_out);
        }
        rejected_attempts += 1;
        match policy.after_rejection(done, deadline) {
            AfterRejection::Retry(pause) => tokio::time::sleep(pause).await,
            AfterRejection::GiveUp { timed_out } => break (answer, sent, done, timed_out),
        }
    };
    let answered = (answer.outcome == Outcome::Ok).then_some(done);
    let latency_from = if attempts == 1 { due } else { sent };
    Sample {
        team,
        query,
        outcome: answer.outcome,
        latency: done - latency_from,
        service: done - sent,
        answer: time_to_answer(due, answered, deadline),
        attempts,
        rejected_attempts,
        timed_out,
        start_unix_ms: clock.unix_ms(first_sent),
        due_unix_ms: matches!(plan.mode, LoadMode::Open { .. }).then(|| clock.unix_ms(due)),
        entry_node: answer.entry_node.unwrap_or_else(|| clients.address.clone()),
        at_s: done.saturating_duration_since(warmup_end).as_secs_f64(),
        records: answer.records,
        error: answer.error,
        partial: answer.partial,
        retried: answer.retried,
        verdict: answer.verdict,
    }
}

/// One attempt: through the entry node, and once through a spare when the entry node fails
/// at the transport level.
async fn attempt(
    clients: &mut Clients,
    mix: &PreparedMix,
    query: usize,
    team: usize,
    ticket: &Ticket,
    checker: Option<&AnswerChecker>,
) -> Answer {
    let call_spec = mix.call(query, team);
    let first = call(&mut clients.client, call_spec, checker, query).await;
    if !first.transport_error || clients.fallbacks.is_empty() {
        return first;
    }
    // The entry node is gone: the same query once more through a team leader.
    let spare = (ticket.query_draw * 1e6) as usize % clients.fallbacks.len();
    let (address, client) = &mut clients.fallbacks[spare];
    let mut answer = call(client, call_spec, checker, query).await;
    answer.retried = true;
    answer.entry_node = Some(address.clone());
    answer
}

/// What one call returned, before timing.
struct Answer {
    outcome: Outcome,
    records: u64,
    error: Option<String>,
    partial: bool,
    retried: bool,
    transport_error: bool,
    verdict: Option<(Verdict, Option<String>)>,
    /// The spare that answered, when not the entry node.
    entry_node: Option<String>,
}

impl Answer {
    fn failed(error: String, transport_error: bool) -> Self {
        Answer {
            outcome: Outcome::Failed,
            records: 0,
            error: Some(error),
            partial: false,
            retried: false,
            transport_error,
            verdict: None,
            entry_node: None,
        }
    }
}

async fn call(
    client: &mut OverlayNodeClient<Channel>,
    call: &Call,
    checker: Option<&AnswerChecker>,
    query: usize,
) -> Answer {
    let outcome = match call {
        Call::Metrics => {
            return match client.get_metrics(MetricsRequest {}).await {
                Ok(_) => Answer::failed(String::new(), false).succeeded(0),
                Err(status) => Answer::failed(format!("GetMetrics: {}", status.code()), true),
            }
        }
        Call::Query(spec) => run_query(client, spec).await,
    };
    match outcome {
        Ok(outcome) if outcome.status == "ready" => {
            let drained = &outcome.drained;
            // A checked answer's rows are parsed for the verdict: count those rather than
            // parse the chunks again.
            let (verdict, records) = match checker.map(|checker| (checker, drained.json_rows())) {
                Some((checker, Ok(rows))) => (
                    Some(checker.verdict(query, &rows, outcome.partial, &outcome.missing_dates)),
                    drained.typed_count() + rows.len(),
                ),
                Some((_, Err(err))) => (
                    Some((
                        Verdict::Wrong,
                        Some(format!("unreadable aggregate rows: {err}")),
                    )),
                    drained.record_count(),
                ),
                None => (None, drained.record_count()),
            };
            Answer {
                partial: outcome.partial,
                verdict,
                ..Answer::failed(String::new(), false)
            }
            .succeeded(records as u64)
        }
        Ok(outcome) if outcome.status.starts_with("rejected") => Answer {
            outcome: Outcome::Rejected,
            error: None,
            ..Answer::failed(String::new(), false)
        },
        Ok(outcome) => Answer::failed(format!("status {}", outcome.status), false),
        Err(err) => {
            let transport = matches!(err, ClientError::Rpc { .. } | ClientError::Connect { .. });
            Answer::failed(short_error(&err.to_string()), transport)
        }
    }
}

impl Answer {
    fn succeeded(mut self, records: u64) -> Self {
        self.outcome = Outcome::Ok;
        self.records = records;
        self.error = None;
        self
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
    completed: Arc<AtomicU64>,
    raw: Option<(Arc<RawWriter>, RawStep)>,
    plain_progress: Option<String>,
) -> (Recorder, Option<Instant>) {
    let mut last_line = Instant::now();
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
        completed.fetch_add(1, Ordering::Relaxed);
        let done = warmup_end + Duration::from_secs_f64(sample.at_s);
        if last_done.is_none_or(|last| done > last) {
            last_done = Some(done);
        }
        if let Some((writer, step)) = &raw {
            if let Err(err) = writer.write(&raw_row(&sample, &mix, step)) {
                tracing::warn!("raw results: {err:#}");
            }
        }
        recorder.add(sample);
        if let Some(label) = &plain_progress {
            if last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
                last_line = Instant::now();
                eprintln!(
                    "{label}: ok {} · rejected {} · failed {}",
                    counts[0], counts[1], counts[2]
                );
            }
        }
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
    if let Some((writer, _)) = &raw {
        if let Err(err) = writer.flush() {
            tracing::warn!("raw results: {err:#}");
        }
    }
    (recorder, last_done)
}

fn raw_row(s: &Sample, mix: &PreparedMix, step: &RawStep) -> RequestRow {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    RequestRow {
        start_unix_ms: s.start_unix_ms,
        due_unix_ms: s.due_unix_ms,
        answer_ms: ms(s.answer),
        latency_ms: ms(s.latency),
        service_ms: ms(s.service),
        status: match s.outcome {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
        .to_string(),
        timed_out: s.timed_out,
        team: mix.teams[s.team].clone(),
        query: mix.queries[s.query].clone(),
        strategy: step.strategy.clone(),
        concurrency: step.concurrency,
        repetition: step.repetition,
        step: step.step,
        entry_node: s.entry_node.clone(),
        records: s.records,
        partial: s.partial,
        retried: s.retried,
        attempts: s.attempts,
        rejected_attempts: s.rejected_attempts,
    }
}
