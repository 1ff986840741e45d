//! Lifecycle hooks: callbacks registered per [`EventKind`] that run on a small bounded
//! worker pool, so a slow, failing or panicking hook never delays or breaks a query.
//!
//! A node keeps one [`HookPool`] (in an `Arc`). [`HookPool::fire`] never blocks: it
//! queues one job per hook listening to the event's kind (higher priority first, then FIFO)
//! and drops jobs, counting them, when the queue is full. Each job runs under a timeout
//! with panics caught. [`builtin`] holds the shipped hooks.

pub mod builtin;
#[cfg(test)]
mod tests;

pub use builtin::{parse_kinds, JsonLinesHook, LogHook, DEFAULT_FILE_EVENTS, DEFAULT_HOOK_EVENTS};
pub use overlay::event::{Event, EventKind};

use std::any::Any;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::timeout;

/// This kind's bit in a registration mask.
fn bit(kind: EventKind) -> u32 {
    1 << (kind as u32)
}

/// A callback run on events; it returns `Err(reason)` to report a failure.
pub trait Hook: Send + Sync + 'static {
    /// Short name used in logs.
    fn name(&self) -> &str;
    /// Handles one event; runs on the hook pool under the configured timeout.
    fn run(&self, event: Arc<Event>) -> BoxFuture<'static, Result<(), String>>;
}

/// Sizing of the hook pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookSettings {
    /// Worker tasks running hooks (default 2; at least 1 is used).
    pub workers: usize,
    /// Most jobs waiting to run; further jobs are dropped (default 1024; at least 1).
    pub queue_capacity: usize,
    /// Longest a single hook run may take before it is cancelled (default 2 s).
    pub timeout: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            queue_capacity: 1024,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Counters of the hook pool, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HookCounts {
    /// Jobs queued (one per hook per fired event).
    pub triggered: u64,
    /// Runs that returned `Ok`.
    pub succeeded: u64,
    /// Runs that returned `Err`, panicked or timed out.
    pub failed: u64,
    /// Jobs not run: queue full, fired after shutdown, or abandoned at shutdown.
    pub dropped: u64,
    /// Runs cancelled by the timeout (also counted in `failed`).
    pub timed_out: u64,
    /// Hooks registered.
    pub registered: usize,
}

/// One registered hook.
struct Registration {
    mask: u32,
    priority: i32,
    hook: Arc<dyn Hook>,
}

/// Queue order of a job: highest priority first, then first queued first.
type JobKey = (Reverse<i32>, u64);

/// One waiting hook run.
type Job = (Arc<dyn Hook>, Arc<Event>);

/// Least time between two "jobs dropped" warnings.
const DROP_WARN_EVERY: Duration = Duration::from_secs(1);

/// The bounded priority queue shared by the workers, and the counters it keeps.
#[derive(Default)]
struct Queue {
    jobs: BTreeMap<JobKey, Job>,
    next_seq: u64,
    closed: bool,
    counts: HookCounts,
    last_drop_warn: Option<Instant>,
}

/// State shared by the pool and its workers.
struct Shared {
    node: String,
    settings: HookSettings,
    queue: Mutex<Queue>,
    wake: Notify,
    /// Sorted by priority, highest first (ties in registration order).
    registrations: RwLock<Vec<Registration>>,
    /// Union of the registration masks.
    wanted: AtomicU32,
}

/// Text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

impl Shared {
    /// The queue, recovered if a holder panicked.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The registrations, recovered if a writer panicked.
    fn registrations(&self) -> RwLockReadGuard<'_, Vec<Registration>> {
        self.registrations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one job per target (dropping what does not fit); returns how many were
    /// queued and dropped, and, at most once per [`DROP_WARN_EVERY`], the total dropped.
    fn enqueue(
        &self,
        targets: Vec<(i32, Arc<dyn Hook>)>,
        event: Arc<Event>,
    ) -> (u64, u64, Option<u64>) {
        let mut queue = self.queue();
        let (mut queued, mut dropped) = (0, 0);
        for (priority, hook) in targets {
            if queue.closed || queue.jobs.len() >= self.settings.queue_capacity {
                dropped += 1;
                continue;
            }
            let key = (Reverse(priority), queue.next_seq);
            queue.next_seq += 1;
            queue.jobs.insert(key, (hook, Arc::clone(&event)));
            queued += 1;
        }
        queue.counts.triggered += queued;
        queue.counts.dropped += dropped;
        let warn = dropped > 0
            && queue
                .last_drop_warn
                .is_none_or(|at| at.elapsed() >= DROP_WARN_EVERY);
        if warn {
            queue.last_drop_warn = Some(Instant::now());
        }
        (queued, dropped, warn.then_some(queue.counts.dropped))
    }

    /// Marks the queue closed and wakes every idle worker so it can exit.
    fn close(&self) {
        self.queue().closed = true;
        self.wake.notify_waiters();
    }

    /// Waits for the next job; `None` once the queue is closed and empty.
    async fn next_job(&self) -> Option<Job> {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Registered before looking at the queue, so no wake-up is missed.
            notified.as_mut().enable();
            {
                let mut queue = self.queue();
                if let Some((_, job)) = queue.jobs.pop_first() {
                    return Some(job);
                }
                if queue.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// One worker: runs jobs until the queue is closed and drained.
    async fn work(self: Arc<Self>) {
        while let Some(job) = self.next_job().await {
            self.run(job).await;
        }
    }

    /// Runs one job under the timeout with panics caught, then counts and logs the outcome.
    async fn run(&self, (hook, event): Job) {
        let started = catch_unwind(AssertUnwindSafe(|| hook.run(Arc::clone(&event))));
        let outcome = match started {
            Ok(future) => {
                timeout(
                    self.settings.timeout,
                    AssertUnwindSafe(future).catch_unwind(),
                )
                .await
            }
            Err(payload) => Ok(Err(payload)),
        };
        let kind = event.kind;
        let problem = match outcome {
            Ok(Ok(Ok(()))) => {
                self.queue().counts.succeeded += 1;
                return;
            }
            Ok(Ok(Err(reason))) => format!("failed on {kind}: {reason}"),
            Ok(Err(payload)) => format!("panicked on {kind}: {}", panic_message(&*payload)),
            Err(_elapsed) => {
                self.queue().counts.timed_out += 1;
                format!("timed out after {:?} on {kind}", self.settings.timeout)
            }
        };
        self.queue().counts.failed += 1;
        tracing::warn!("[HookManager] {} hook {} {problem}", self.node, hook.name());
    }
}

/// Runs registered hooks on a bounded pool of worker tasks; see the module docs.
pub struct HookPool {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl HookPool {
    /// Starts `settings.workers` worker tasks.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub fn new(node_id: impl Into<String>, settings: HookSettings) -> Arc<Self> {
        let settings = HookSettings {
            workers: settings.workers.max(1),
            queue_capacity: settings.queue_capacity.max(1),
            ..settings
        };
        let shared = Arc::new(Shared {
            node: node_id.into(),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            registrations: RwLock::new(Vec::new()),
            wanted: AtomicU32::new(0),
            settings,
        });
        let workers = (0..shared.settings.workers)
            .map(|_| tokio::spawn(Arc::clone(&shared).work()))
            .collect();
        Arc::new(Self {
            shared,
            workers: Mutex::new(workers),
        })
    }

    /// Registers `hook` for `kinds`; higher `priority` runs first when several jobs wait.
    pub fn register(&self, kinds: &[EventKind], priority: i32, hook: Arc<dyn Hook>) {
        let mask = kinds.iter().fold(0, |mask, kind| mask | bit(*kind));
        let events: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let (node, name, events) = (&self.shared.node, hook.name(), events.join(","));
        tracing::info!(
            "[HookManager] {node} registered hook {name} for {events} (priority {priority})"
        );
        let mut registrations = self
            .shared
            .registrations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let at = registrations.partition_point(|r| r.priority >= priority);
        registrations.insert(
            at,
            Registration {
                mask,
                priority,
                hook,
            },
        );
        self.shared.wanted.fetch_or(mask, Ordering::Relaxed);
    }

    /// True when some hook listens to `kind` (callers skip building unwanted events).
    pub fn wants(&self, kind: EventKind) -> bool {
        self.shared.wanted.load(Ordering::Relaxed) & bit(kind) != 0
    }

    /// Fires an event of `kind` from this node; `detail` fills it in, and runs only when some
    /// hook listens (events on the query path cost nothing without hooks).
    pub fn emit(&self, kind: EventKind, detail: impl FnOnce(Event) -> Event) {
        if self.wants(kind) {
            self.fire(detail(Event::new(kind, self.shared.node.as_str())));
        }
    }

    /// Queues one job per hook registered for the event's kind; never blocks nor awaits.
    /// Jobs that do not fit in the queue (lowest priorities first) are dropped and counted.
    pub fn fire(&self, event: Event) {
        let kind = event.kind;
        if !self.wants(kind) {
            return;
        }
        let targets: Vec<_> = self
            .shared
            .registrations()
            .iter()
            .filter(|r| r.mask & bit(kind) != 0)
            .map(|r| (r.priority, Arc::clone(&r.hook)))
            .collect();
        let callbacks = targets.len();
        let (queued, dropped, warn) = self.shared.enqueue(targets, Arc::new(event));
        for _ in 0..queued {
            self.shared.wake.notify_one();
        }
        let node = &self.shared.node;
        if let Some(total) = warn {
            let capacity = self.shared.settings.queue_capacity;
            tracing::warn!("[HookManager] {node} dropped {dropped} hook job(s) for {kind}: queue full ({capacity} waiting) or shut down; {total} dropped so far");
        }
        // The original system's line, which its tools look for, exactly.
        if kind.is_per_query() {
            tracing::debug!("[HookManager] Triggering '{kind}' hook ({callbacks} callbacks)");
        } else {
            tracing::info!("[HookManager] Triggering '{kind}' hook ({callbacks} callbacks)");
        }
    }

    /// Current counters.
    pub fn counts(&self) -> HookCounts {
        let registered = self.shared.registrations().len();
        HookCounts {
            registered,
            ..self.shared.queue().counts
        }
    }

    /// Stops the workers once the queued jobs finish, or aborts them (and abandons the
    /// queue, counted as dropped) when `grace` passes first. Later fires are dropped.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.close();
        let handles =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
        let node = &self.shared.node;
        if timeout(grace, futures::future::join_all(handles))
            .await
            .is_ok()
        {
            tracing::info!("[HookManager] {node} hook workers stopped");
            return;
        }
        aborts.iter().for_each(AbortHandle::abort);
        let abandoned = {
            let mut queue = self.shared.queue();
            let abandoned = queue.jobs.len() as u64;
            queue.jobs.clear();
            queue.counts.dropped += abandoned;
            abandoned
        };
        tracing::warn!("[HookManager] {node} hook workers aborted after {grace:?} grace; {abandoned} queued job(s) abandoned");
    }
}

impl Drop for HookPool {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl fmt::Debug for HookPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookPool")
            .field("node", &self.shared.node)
            .field("settings", &self.shared.settings)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
