//! Which requests of a step carry a sampled `traceparent`: the first `limit` measured ones,
//! each under a fresh random trace id; every other request carries none. The sampler also
//! keeps what each sampled request took at the client.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::SampledQuery;

/// A sampled request's trace context: its trace id and the client's span id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, never all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, never all zero: the parent of the entry node's spans.
    pub span_id: String,
}

impl TraceContext {
    /// A fresh random context.
    pub fn fresh() -> TraceContext {
        let trace = rand::random::<u128>().max(1);
        let span = rand::random::<u64>().max(1);
        TraceContext {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{span:016x}"),
        }
    }

    /// The W3C `traceparent` header: version 00, flags 01 (sampled).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// The sampling of one step, shared by its lanes.
#[derive(Debug)]
pub struct StepSampler {
    limit: u32,
    taken: AtomicU32,
    done: Mutex<Vec<SampledQuery>>,
}

impl StepSampler {
    /// Samples the first `limit` measured requests of a step.
    pub fn new(limit: u32) -> StepSampler {
        StepSampler {
            limit,
            taken: AtomicU32::new(0),
            done: Mutex::new(Vec::new()),
        }
    }

    /// A fresh trace context while fewer than `limit` were handed out, else `None`.
    pub fn take(&self) -> Option<TraceContext> {
        self.taken
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| TraceContext::fresh())
    }

    /// Keeps what a sampled request took.
    pub fn record(&self, query: SampledQuery) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(query);
    }

    /// The sampled requests recorded so far, in the order they were sent.
    pub fn finish(&self) -> Vec<SampledQuery> {
        let mut done = std::mem::take(&mut *self.done.lock().unwrap_or_else(|p| p.into_inner()));
        done.sort_by_key(|q| q.start_unix_ms);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_context_is_a_valid_sampled_traceparent() {
        let a = TraceContext::fresh();
        let header = a.traceparent();
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!((parts[0], parts[3]), ("00", "01"));
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert!(parts[1..3].iter().all(|p| p
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))));
        assert_ne!(a.trace_id, TraceContext::fresh().trace_id, "random ids");
    }

    #[test]
    fn only_the_first_limit_requests_are_sampled() {
        let sampler = StepSampler::new(3);
        let taken: Vec<_> = (0..10).filter_map(|_| sampler.take()).collect();
        assert_eq!(taken.len(), 3);
        assert!(StepSampler::new(0).take().is_none(), "0 samples nothing");
        for (i, start) in [(0, 30), (1, 10), (2, 20)] {
            sampler.record(SampledQuery {
                trace_id: taken[i].trace_id.clone(),
                query: "q".into(),
                team: "green".into(),
                outcome: "ok".into(),
                latency_ms: 1.0,
                start_unix_ms: start,
            });
        }
        let done = sampler.finish();
        let starts: Vec<u64> = done.iter().map(|q| q.start_unix_ms).collect();
        assert_eq!(starts, [10, 20, 30], "in the order sent");
        assert!(sampler.finish().is_empty(), "handed out once");
    }
}
