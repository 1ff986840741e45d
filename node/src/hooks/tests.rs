//! Unit tests of the hook pool and the built-in hooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Semaphore;

use super::*;

type RunFn = dyn Fn(Arc<Event>) -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// A hook built from a closure.
struct FnHook {
    name: String,
    run: Box<RunFn>,
}

impl Hook for FnHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, event: Arc<Event>) -> BoxFuture<'static, Result<(), String>> {
        (self.run)(event)
    }
}

fn hook(
    name: &str,
    run: impl Fn(Arc<Event>) -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
) -> Arc<dyn Hook> {
    Arc::new(FnHook {
        name: name.to_owned(),
        run: Box::new(run),
    })
}

/// A hook appending `label` (and the event's `i` detail, if any) to `log`.
fn recorder(label: &'static str, log: &Arc<Mutex<Vec<String>>>) -> Arc<dyn Hook> {
    let log = Arc::clone(log);
    hook(label, move |event| {
        let i = event
            .detail
            .get("i")
            .map(|v| format!("#{v}"))
            .unwrap_or_default();
        log.lock().unwrap().push(format!("{label}{i}"));
        async { Ok(()) }.boxed()
    })
}

/// A hook that counts its starts and then waits for a permit of `gate`.
fn gated(started: &Arc<AtomicUsize>, gate: &Arc<Semaphore>) -> Arc<dyn Hook> {
    let (started, gate) = (Arc::clone(started), Arc::clone(gate));
    hook("gated", move |_| {
        started.fetch_add(1, Ordering::SeqCst);
        let gate = Arc::clone(&gate);
        async move {
            gate.acquire().await.map_err(|e| e.to_string())?.forget();
            Ok(())
        }
        .boxed()
    })
}

fn settings(workers: usize, queue_capacity: usize, timeout_ms: u64) -> HookSettings {
    HookSettings {
        workers,
        queue_capacity,
        timeout: Duration::from_millis(timeout_ms),
    }
}

/// Polls `done` every millisecond for up to one second.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn higher_priority_runs_first_then_fifo_with_one_worker() {
    let hooks = HookPool::new("A", settings(1, 16, 1000));
    let (started, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
    hooks.register(&[EventKind::CircuitOpened], 100, gated(&started, &gate));
    let log = Arc::new(Mutex::new(Vec::new()));
    hooks.register(&[EventKind::Failover], 1, recorder("low", &log));
    hooks.register(&[EventKind::Failover], 5, recorder("high", &log));
    hooks.register(&[EventKind::Failover], 3, recorder("mid", &log));
    hooks.register(&[EventKind::Failover], 3, recorder("mid2", &log));

    hooks.fire(Event::new(EventKind::CircuitOpened, "A"));
    wait_until("gate hook start", || started.load(Ordering::SeqCst) == 1).await;
    hooks.fire(Event::new(EventKind::Failover, "A").with("i", 1));
    hooks.fire(Event::new(EventKind::Failover, "A").with("i", 2));
    gate.add_permits(1);
    wait_until("all runs", || hooks.counts().succeeded == 9).await;

    let order = log.lock().unwrap().clone();
    let expected = [
        "high#1", "high#2", "mid#1", "mid2#1", "mid#2", "mid2#2", "low#1", "low#2",
    ];
    assert_eq!(order, expected);
    let counts = hooks.counts();
    assert_eq!(
        (
            counts.triggered,
            counts.failed,
            counts.dropped,
            counts.registered
        ),
        (9, 0, 0, 5)
    );
}

#[tokio::test]
async fn sleeping_hook_times_out_without_delaying_fire_or_other_hooks() {
    let hooks = HookPool::new("A", settings(1, 16, 100));
    let sleeper = hook("sleeper", |_| {
        async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(())
        }
        .boxed()
    });
    hooks.register(&[EventKind::NeighborFailed], 10, sleeper);
    let log = Arc::new(Mutex::new(Vec::new()));
    hooks.register(&[EventKind::NeighborFailed], 0, recorder("fast", &log));

    let start = Instant::now();
    hooks.fire(Event::new(EventKind::NeighborFailed, "A").with("neighbor", "B"));
    assert!(
        start.elapsed() < Duration::from_millis(5),
        "fire took {:?}",
        start.elapsed()
    );

    wait_until("fast hook", || hooks.counts().succeeded == 1).await;
    assert_eq!(*log.lock().unwrap(), ["fast"]);
    let counts = hooks.counts();
    assert_eq!(
        (counts.triggered, counts.failed, counts.timed_out),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn panicking_and_failing_hooks_are_counted_and_the_worker_survives() {
    let hooks = HookPool::new("A", settings(1, 16, 1000));
    let in_future = hook("panics_in_future", |_| async { panic!("boom") }.boxed());
    let in_call = hook("panics_in_call", |_| panic!("boom before the future"));
    let failing = hook("fails", |_| async { Err("disk full".to_owned()) }.boxed());
    let log = Arc::new(Mutex::new(Vec::new()));
    hooks.register(&[EventKind::OverloadDetected], 30, in_future);
    hooks.register(&[EventKind::OverloadDetected], 20, in_call);
    hooks.register(&[EventKind::OverloadDetected], 10, failing);
    hooks.register(&[EventKind::OverloadDetected], 0, recorder("after", &log));

    hooks.fire(Event::new(EventKind::OverloadDetected, "A").with("i", 1));
    hooks.fire(Event::new(EventKind::OverloadDetected, "A").with("i", 2));
    wait_until("all runs", || {
        let counts = hooks.counts();
        counts.succeeded + counts.failed == 8
    })
    .await;

    assert_eq!(*log.lock().unwrap(), ["after#1", "after#2"]);
    let counts = hooks.counts();
    assert_eq!(
        (counts.triggered, counts.succeeded, counts.failed),
        (8, 2, 6)
    );
    assert_eq!(counts.timed_out, 0);
}

#[tokio::test]
async fn full_queue_drops_and_counts_extra_jobs() {
    let hooks = HookPool::new("A", settings(1, 2, 1000));
    let (started, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
    hooks.register(&[EventKind::StateChanged], 0, gated(&started, &gate));

    hooks.fire(Event::new(EventKind::StateChanged, "A"));
    wait_until("worker busy", || started.load(Ordering::SeqCst) == 1).await;
    for _ in 0..5 {
        let start = Instant::now();
        hooks.fire(Event::new(EventKind::StateChanged, "A"));
        assert!(start.elapsed() < Duration::from_millis(5));
    }
    let counts = hooks.counts();
    assert_eq!((counts.triggered, counts.dropped), (3, 3));

    gate.add_permits(3);
    wait_until("queued runs", || hooks.counts().succeeded == 3).await;
    assert_eq!(hooks.counts().failed, 0);
}

#[tokio::test]
async fn wants_only_registered_kinds_and_unwanted_fires_are_free() {
    let hooks = HookPool::new("A", HookSettings::default());
    assert!(!hooks.wants(EventKind::QueryFailed));
    hooks.register(
        &[EventKind::QueryFailed, EventKind::Failover],
        0,
        Arc::new(LogHook::default()),
    );
    assert!(hooks.wants(EventKind::QueryFailed) && hooks.wants(EventKind::Failover));
    assert!(!hooks.wants(EventKind::QueryStarted));
    hooks.fire(Event::new(EventKind::QueryStarted, "A"));
    assert_eq!(
        hooks.counts(),
        HookCounts {
            registered: 1,
            ..HookCounts::default()
        }
    );
}

#[tokio::test]
async fn emit_builds_events_only_for_listeners_and_stamps_the_node() {
    let hooks = HookPool::new("B", HookSettings::default());
    let built = AtomicUsize::new(0);
    hooks.emit(EventKind::Failover, |e| {
        built.fetch_add(1, Ordering::SeqCst);
        e
    });
    assert_eq!(
        built.load(Ordering::SeqCst),
        0,
        "nobody listens: nothing built"
    );
    let nodes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&nodes);
    hooks.register(
        &[EventKind::Failover],
        0,
        hook("node", move |event| {
            seen.lock()
                .unwrap()
                .push(format!("{}:{}", event.node, event.detail["via"]));
            async { Ok(()) }.boxed()
        }),
    );
    hooks.emit(EventKind::Failover, |e| e.with("via", "D"));
    wait_until("the hook ran", || !nodes.lock().unwrap().is_empty()).await;
    assert_eq!(*nodes.lock().unwrap(), ["B:\"D\""]);
}

#[tokio::test]
async fn shutdown_finishes_queued_jobs_then_drops_later_fires() {
    let hooks = HookPool::new("A", settings(2, 16, 1000));
    let log = Arc::new(Mutex::new(Vec::new()));
    hooks.register(&[EventKind::Failover], 0, recorder("r", &log));
    for i in 0..5 {
        hooks.fire(Event::new(EventKind::Failover, "A").with("i", i));
    }
    hooks.shutdown(Duration::from_secs(1)).await;
    assert_eq!(log.lock().unwrap().len(), 5);
    hooks.fire(Event::new(EventKind::Failover, "A"));
    let counts = hooks.counts();
    assert_eq!(
        (counts.triggered, counts.succeeded, counts.dropped),
        (5, 5, 1)
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_grace() {
    let hooks = HookPool::new("A", settings(1, 16, 10_000));
    let (started, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(Semaphore::new(0)));
    hooks.register(&[EventKind::Failover], 0, gated(&started, &gate));
    for _ in 0..3 {
        hooks.fire(Event::new(EventKind::Failover, "A"));
    }
    wait_until("worker busy", || started.load(Ordering::SeqCst) == 1).await;
    let start = Instant::now();
    hooks.shutdown(Duration::from_millis(50)).await;
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(hooks.counts().dropped, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_lines_hook_writes_one_parseable_line_per_concurrent_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/events.jsonl");
    let file_hook = Arc::new(JsonLinesHook::open(&path).unwrap());
    assert_eq!(file_hook.path(), path);
    let padding = "x".repeat(8192);
    let runs = (0..200).map(|i| {
        let event = Event::new(EventKind::NeighborFailed, "B")
            .with("i", i)
            .with("pad", padding.as_str());
        file_hook.run(Arc::new(event))
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap();
    }

    let text = std::fs::read_to_string(&path).unwrap();
    let mut seen: Vec<u64> = text
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["event"], "neighbor_failed");
            assert_eq!(value["node"], "B");
            assert!(value["unix_ms"].as_u64().unwrap() > 1_600_000_000_000);
            value["detail"]["i"].as_u64().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<u64>>());
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn json_lines_hook_through_the_manager() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let hooks = HookPool::new("C", HookSettings::default());
    let kinds = parse_kinds(DEFAULT_FILE_EVENTS).unwrap();
    hooks.register(&kinds, 0, Arc::new(JsonLinesHook::open(&path).unwrap()));
    hooks.register(&kinds, 0, Arc::new(LogHook::default()));
    hooks.fire(Event::new(EventKind::QueryCompleted, "C"));
    hooks.fire(Event::new(EventKind::CircuitOpened, "C").with("neighbor", "D"));
    hooks.shutdown(Duration::from_secs(1)).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().collect::<Vec<_>>();
    assert_eq!(line.len(), 1);
    assert!(line[0].starts_with(r#"{"event":"circuit_opened","node":"C","unix_ms":"#));
    assert!(line[0].ends_with(r#","detail":{"neighbor":"D"}}"#));
    assert_eq!(hooks.counts().succeeded, 2);
}

#[test]
fn parse_kinds_accepts_lists_and_all_and_names_bad_entries() {
    assert_eq!(parse_kinds("all").unwrap(), EventKind::ALL);
    assert_eq!(
        parse_kinds(" failover , Query_Failed,failover,").unwrap(),
        [EventKind::Failover, EventKind::QueryFailed]
    );
    let defaults = parse_kinds(DEFAULT_FILE_EVENTS).unwrap();
    assert_eq!(defaults.len(), 10);
    assert!(!defaults.contains(&EventKind::QueryStarted));
    assert!(!defaults.contains(&EventKind::QueryCompleted));
    assert_eq!(parse_kinds("").unwrap(), []);

    let err = parse_kinds("query_failed,bogus").unwrap_err();
    assert!(err.contains("\"bogus\""), "{err}");
    assert!(
        err.contains("all") && err.contains("circuit_closed"),
        "{err}"
    );
}
