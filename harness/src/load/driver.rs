//! The load driver: `lanes` tasks take tickets from a [`Schedule`], wait until each is due,
//! send it and hand the sample to a collector task that records it. Closed and open loop
//! differ only in the schedules and the lanes' teams ([`lanes_of`]); there is one driver.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use overlay::proto::overlay_node_client::OverlayNodeClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::arrival::{Schedule, Ticket};
use super::call::{attempt, Answer, Clients};
use super::collector::collect;
use super::mix::PreparedMix;
use super::retry::{time_to_answer, AfterRejection, RetryPolicy};
use crate::client::{connect, endpoint, node_client, ClientError};
use crate::raw::{RawStep, RawWriter};
use crate::stats::{Outcome, Recorder, Sample, StepMeasure};
use crate::stop::Stop;
use crate::trace::{SampledQuery, StepSampler, TraceContext};
use crate::verdict::AnswerChecker;
use crate::workload::{LoadMode, StepLength};

/// Samples queued between the lanes and the collector (bounded: lanes wait when it is full).
const SAMPLE_QUEUE: usize = 16_384;

/// How long opening a connection to a spare entry node may take.
const SPARE_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the lanes may take to finish after a stop is asked for.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Least share of its timeout a request must have left to be sent (see [`never_sent`]).
const MIN_SEND_SHARE: f64 = 0.1;

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
    /// Picks the measured requests that carry a sampled `traceparent` and keeps what they
    /// took (none: no request carries one).
    pub trace: Option<Arc<StepSampler>>,
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
    let (schedules, lane_plan) = lanes_of(plan, &mix);
    let schedules: Vec<Arc<Schedule>> = schedules.into_iter().map(Arc::new).collect();
    let warmup_end = schedules[0].warmup_end;
    let clock = Clock::now();
    let (tx, rx) = mpsc::channel::<Option<Sample>>(SAMPLE_QUEUE);
    let collector = tokio::spawn(collect(
        rx,
        mix.clone(),
        warmup_end,
        progress,
        plan.completed.clone(),
        plan.raw.clone(),
        plan.plain_progress.clone(),
    ));
    let mut lanes = Vec::new();
    for (lane, &(schedule, fixed_team)) in lane_plan.iter().enumerate() {
        let client = target.clients[lane % target.clients.len()].clone();
        let clients = Clients {
            address: target.address.clone(),
            client,
            fallbacks: target.fallbacks.clone(),
        };
        let lane = Lane {
            schedule: schedules[schedule].clone(),
            mix: mix.clone(),
            fixed_team,
            tx: tx.clone(),
            plan: plan.clone(),
            clock,
        };
        lanes.push(tokio::spawn(run_lane(clients, lane, stop.clone())));
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
        .map(|t| t.saturating_duration_since(warmup_end))
        .unwrap_or_default();
    recorder.finish(window.as_secs_f64())
}

/// Why a request is not sent at `now`, and whether that counts as timed out: due longer ago
/// than its timeout before a lane was free, or (open loop) still waiting for a lane when the
/// measured window closed. Only a first attempt is held back by the window's end; a rejected
/// request already sent keeps retrying until its deadline.
///
/// A first attempt that finds a lane with less than [`MIN_SEND_SHARE`] of its timeout left is
/// not sent either and counts as timed out: under overload, lanes otherwise spend themselves on
/// requests that can only time out at the node (after costing it work), and every request of
/// the backlog is sent too late to be answered, so goodput collapses in the generator, not in
/// the cluster.
fn never_sent(
    now: Instant,
    due: Instant,
    deadline: Instant,
    ticket: &Ticket,
    attempts: u32,
) -> Option<(&'static str, bool)> {
    if now >= deadline {
        return Some(("not sent within the timeout: every lane was busy", true));
    }
    if attempts > 0 {
        return None;
    }
    if ticket.send_by.is_some_and(|end| now >= end) {
        return Some(("not sent before the step ended: every lane was busy", false));
    }
    let left = deadline - now;
    if left.as_secs_f64() < (deadline - due).as_secs_f64() * MIN_SEND_SHARE {
        return Some((
            "not sent: every lane was busy until too little of the timeout was left",
            true,
        ));
    }
    None
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

/// The schedules of a step and, per lane, which schedule it takes tickets from and the team
/// it sends for (`None`: each ticket draws its team).
///
/// Closed loop: one schedule; the lanes are apportioned to the teams by share (a team's
/// workers). Open loop: one schedule per team at the team's own rate, and the step's in-flight
/// cap apportioned to the teams by share, at least one lane each (a level below the number of
/// teams runs one lane per team). So a team's requests wait only for that team's own lanes: a
/// heavy team whose answers are slow cannot hold back a light team's sends, and what each team
/// is served is decided by the cluster's admission, not by the generator's queue.
fn lanes_of(plan: &StepPlan, mix: &PreparedMix) -> (Vec<Schedule>, Vec<(usize, Option<usize>)>) {
    match plan.mode {
        LoadMode::Closed => {
            let schedule = Schedule::new(plan.mode, plan.warmup, plan.length, plan.seed);
            let teams = mix.lane_teams(plan.lanes);
            let lanes = (0..plan.lanes)
                .map(|lane| (0, teams.as_ref().map(|teams| teams[lane])))
                .collect();
            (vec![schedule], lanes)
        }
        LoadMode::Open { .. } => {
            let shares = mix.shares();
            let schedules =
                Schedule::per_team(plan.mode, plan.warmup, plan.length, plan.seed, &shares);
            let lanes = mix
                .lane_teams(plan.lanes.max(shares.len()))
                .unwrap_or_default()
                .into_iter()
                .map(|team| (team, Some(team)))
                .collect();
            (schedules, lanes)
        }
    }
}

/// What one lane works with.
struct Lane {
    schedule: Arc<Schedule>,
    mix: Arc<PreparedMix>,
    fixed_team: Option<usize>,
    tx: mpsc::Sender<Option<Sample>>,
    plan: StepPlan,
    clock: Clock,
}

async fn run_lane(mut clients: Clients, lane: Lane, mut stop: Stop) {
    while let Some(ticket) = next_due(&lane.schedule, &mut stop).await {
        let go_on = tokio::select! {
            go_on = handle(&mut clients, &lane, ticket) => go_on,
            _ = stop.wait() => return,
        };
        if !go_on {
            return;
        }
    }
}

/// Sends one ticket's request and hands its sample to the collector (a warm-up one as a
/// bare count); false when the collector has gone.
async fn handle(clients: &mut Clients, lane: &Lane, ticket: Ticket) -> bool {
    let plan = &lane.plan;
    let warmup_end = lane.schedule.warmup_end;
    let sample = send(
        clients,
        &lane.mix,
        lane.fixed_team,
        &ticket,
        plan,
        warmup_end,
        lane.clock,
    )
    .await;
    let rejected = sample.outcome == Outcome::Rejected;
    let message = (!ticket.warmup).then_some(sample);
    if lane.tx.send(message).await.is_err() {
        return false;
    }
    // With retries the backoff came before each retry already.
    if rejected
        && !plan.retry_rejected
        && plan.mode == LoadMode::Closed
        && !plan.reject_backoff.is_zero()
    {
        tokio::time::sleep(plan.reject_backoff).await;
    }
    true
}

/// The next ticket of `schedule` once it is due; `None` when the schedule has no more or a
/// stop is asked for.
async fn next_due(schedule: &Schedule, stop: &mut Stop) -> Option<Ticket> {
    if stop.is_set() {
        return None;
    }
    let ticket = schedule.take()?;
    tokio::select! {
        _ = tokio::time::sleep_until(ticket.due.into()) => Some(ticket),
        _ = stop.wait() => None,
    }
}

/// Sends one request (see [`try_until_done`]) and turns how it ended into its sample; a
/// sampled request's trace id and client latency go to the step's sampler.
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
    let traced = sampled(plan, ticket);
    let traceparent = traced.as_ref().map(|(_, context)| context.traceparent());
    let request = Request {
        query,
        team,
        ticket,
        due,
        traceparent: traceparent.as_deref(),
    };
    let tried = try_until_done(clients, mix, &request, plan, deadline).await;
    let Tried {
        answer,
        sent,
        done,
        timed_out,
        attempts,
        rejected_attempts,
    } = tried;
    if let Some((sampler, context)) = traced {
        sampler.record(SampledQuery {
            trace_id: context.trace_id,
            query: mix.queries[query].clone(),
            team: mix.teams[team].clone(),
            outcome: answer.outcome.label().to_string(),
            latency_ms: (done - first_sent).as_secs_f64() * 1000.0,
            start_unix_ms: clock.unix_ms(first_sent),
        });
    }
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

/// The step's sampler and a fresh trace context, when `ticket` is measured and the step
/// still samples.
fn sampled<'a>(plan: &'a StepPlan, ticket: &Ticket) -> Option<(&'a StepSampler, TraceContext)> {
    let sampler = plan.trace.as_deref().filter(|_| !ticket.warmup)?;
    Some((sampler, sampler.take()?))
}

/// What one request asks: the query and team of the mix, its ticket, when it was due, and
/// the `traceparent` of a sampled one.
struct Request<'a> {
    query: usize,
    team: usize,
    ticket: &'a Ticket,
    due: Instant,
    traceparent: Option<&'a str>,
}

/// How a request's attempts ended: the last answer, when the last attempt was sent and ended,
/// whether it timed out, and how many attempts were made and rejected.
struct Tried {
    answer: Answer,
    sent: Instant,
    done: Instant,
    timed_out: bool,
    attempts: u32,
    rejected_attempts: u32,
}

/// Sends a request's first attempt, and after each rejection (with retries on) a pause and
/// another attempt, until it is answered, fails or reaches its `deadline` (when it was due,
/// plus the timeout).
async fn try_until_done(
    clients: &mut Clients,
    mix: &PreparedMix,
    request: &Request<'_>,
    plan: &StepPlan,
    deadline: Instant,
) -> Tried {
    let policy = RetryPolicy {
        retry_rejected: plan.retry_rejected,
        backoff: plan.reject_backoff,
    };
    let (query, team, ticket) = (request.query, request.team, request.ticket);
    let checker = plan.checker.as_deref().filter(|c| c.checks(query));
    let (mut attempts, mut rejected_attempts) = (0u32, 0u32);
    let (answer, sent, done, timed_out) = loop {
        let sent = Instant::now();
        if let Some((error, timed_out)) = never_sent(sent, request.due, deadline, ticket, attempts)
        {
            break (
                Answer::failed(error.to_string(), false),
                sent,
                sent,
                timed_out,
            );
        }
        let left = deadline.saturating_duration_since(sent);
        let trying = attempt(
            clients,
            mix,
            query,
            team,
            ticket,
            checker,
            request.traceparent,
        );
        let answer = match tokio::time::timeout(left, trying).await {
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
    Tried {
        answer,
        sent,
        done,
        timed_out,
        attempts,
        rejected_attempts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(due: Instant, send_by: Option<Instant>) -> Ticket {
        Ticket {
            due,
            warmup: false,
            query_draw: 0.0,
            team_draw: 0.0,
            send_by,
        }
    }

    #[test]
    fn a_request_waiting_past_the_window_is_unserved_demand_not_sent_late() {
        let due = Instant::now();
        let end = due + Duration::from_secs(1);
        let deadline = due + Duration::from_secs(2);
        let open = ticket(due, Some(end));
        assert_eq!(
            never_sent(due, due, deadline, &open, 0),
            None,
            "sent in time"
        );
        let (why, timed_out) = never_sent(end, due, deadline, &open, 0).expect("held back");
        assert!(why.contains("step ended") && !timed_out, "{why}");
        assert_eq!(
            never_sent(end, due, deadline, &open, 1),
            None,
            "a rejected request already sent keeps retrying"
        );
        let (why, timed_out) = never_sent(deadline, due, deadline, &open, 0).expect("too late");
        assert!(why.contains("timeout") && timed_out, "{why}");
        let closed = ticket(due, None);
        assert_eq!(
            never_sent(end, due, deadline, &closed, 0),
            None,
            "no window end"
        );
        let nearly = deadline - Duration::from_millis(150);
        let (why, timed_out) = never_sent(nearly, due, deadline, &closed, 0).expect("hopeless");
        assert!(why.contains("too little") && timed_out, "{why}");
        assert_eq!(
            never_sent(nearly, due, deadline, &closed, 1),
            None,
            "a retry runs to its deadline"
        );
    }
}

#[cfg(test)]
mod lane_tests {
    use super::*;
    use crate::workload::{MixEntry, Tenant};

    fn mix(shares: &[(&str, f64)]) -> PreparedMix {
        let tenants: Vec<Tenant> = shares
            .iter()
            .map(|&(team, share)| Tenant {
                team: team.to_string(),
                share,
                rate: None,
                weight: 1,
            })
            .collect();
        let entry = MixEntry {
            name: "m".into(),
            query_type: "metrics".into(),
            weight: 1.0,
            params: serde_json::Map::new(),
        };
        PreparedMix::new(&[entry], &tenants, None)
    }

    fn plan(mode: LoadMode, lanes: usize, seconds: f64) -> StepPlan {
        StepPlan {
            mode,
            lanes,
            warmup: Duration::ZERO,
            length: StepLength::Seconds(seconds),
            timeout: Duration::from_secs(2),
            reject_backoff: Duration::ZERO,
            retry_rejected: false,
            raw: None,
            seed: 7,
            checker: None,
            completed: Arc::new(AtomicU64::new(0)),
            plain_progress: None,
            trace: None,
        }
    }

    const OPEN: LoadMode = LoadMode::Open {
        rate: 400.0,
        poisson: false,
    };

    #[test]
    fn open_loop_lanes_belong_to_one_team_each_and_every_team_has_one() {
        let mix = mix(&[("heavy", 0.9), ("light", 0.1)]);
        let (schedules, lanes) = lanes_of(&plan(OPEN, 10, 1.0), &mix);
        assert_eq!(schedules.len(), 2, "one schedule per team");
        assert!(lanes.iter().all(|&(s, team)| team == Some(s)));
        assert_eq!(lanes.iter().filter(|l| l.1 == Some(1)).count(), 2);
        let (_, lanes) = lanes_of(&plan(OPEN, 1, 1.0), &mix);
        assert_eq!(lanes, vec![(0, Some(0)), (1, Some(1))], "one lane per team");
        let (schedules, lanes) = lanes_of(&plan(LoadMode::Closed, 1, 1.0), &mix);
        assert_eq!((schedules.len(), lanes), (1, vec![(0, None)]));
    }

    /// The heavy team's requests never come back, so every one of its lanes is stuck after
    /// its first send; the light team's sends still all go out, each close to when it is due.
    /// (With one pool of lanes in arrival order, the heavy team's stuck requests would take
    /// every lane and the light team would send almost nothing.)
    #[tokio::test]
    async fn a_heavy_team_cannot_delay_a_light_teams_sends() {
        let mix = mix(&[("heavy", 0.9), ("light", 0.1)]);
        // 400/s for 0.5 s: about 180 heavy and 20 light tickets, evenly spaced.
        let (schedules, lanes) = lanes_of(&plan(OPEN, 10, 0.5), &mix);
        let schedules: Vec<Arc<Schedule>> = schedules.into_iter().map(Arc::new).collect();
        let (_raise, stop) = Stop::channel();
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<(usize, Duration)>();
        let mut tasks = Vec::new();
        for (schedule, team) in lanes {
            let (schedule, sent_tx, mut stop) =
                (schedules[schedule].clone(), sent_tx.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(ticket) = next_due(&schedule, &mut stop).await {
                    let _ = sent_tx.send((team.unwrap_or(9), Instant::now() - ticket.due));
                    if team == Some(0) {
                        std::future::pending::<()>().await;
                    }
                }
            }));
        }
        drop(sent_tx);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for task in &tasks {
            task.abort();
        }
        let mut sent = [0usize; 2];
        let mut light_late = Duration::ZERO;
        while let Ok((team, late)) = sent_rx.try_recv() {
            sent[team] += 1;
            if team == 1 {
                light_late = light_late.max(late);
            }
        }
        assert_eq!(sent[0], 8, "each heavy lane sends once and is stuck");
        // 40/s for 0.5 s (one either way for the rounding of the last offset).
        assert!(
            (19..=21).contains(&sent[1]),
            "every light ticket is sent: {sent:?}"
        );
        assert!(light_late < Duration::from_millis(300), "{light_late:?}");
    }
}
