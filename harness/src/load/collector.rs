//! The collector of a step: every sample into the recorder, raw rows to their writer, and
//! progress on the bar or as plain lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::mix::PreparedMix;
use crate::raw::{RawStep, RawWriter, RequestRow};
use crate::stats::{Recorder, Sample};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The collector task: records every sample of a step (counting warm-up markers), writes the
/// raw rows and shows progress; returns the recorder and when the last measured query ended.
pub(super) async fn collect(
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
                crate::say::progress(format_args!(
                    "{label}: ok {} · rejected {} · failed {}",
                    counts[0], counts[1], counts[2]
                ));
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

/// The raw row of one measured request.
fn raw_row(s: &Sample, mix: &PreparedMix, step: &RawStep) -> RequestRow {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    RequestRow {
        start_unix_ms: s.start_unix_ms,
        due_unix_ms: s.due_unix_ms,
        answer_ms: ms(s.answer),
        latency_ms: ms(s.latency),
        service_ms: ms(s.service),
        status: s.outcome.label().to_string(),
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
