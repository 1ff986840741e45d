//! Load generation: one driver for closed and open loop.
//!
//! - [`mix`] — the weighted query mix and tenant draws, with each query's params rendered once.
//! - [`arrival`] — when each query is due (now, evenly spaced, or Poisson) and when a step ends.
//! - [`driver`] — the lanes that send queries (each request until answered or timed out).
//! - `call` — one attempt: the call, its spare, the answer and its verdict.
//! - `collector` — the task that records a step's samples, raw rows and progress.
//! - [`retry`] — retries of rejected attempts and the time-to-answer accounting.

pub mod arrival;
mod call;
mod collector;
pub mod driver;
pub mod mix;
pub mod retry;
