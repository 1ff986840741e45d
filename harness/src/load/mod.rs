//! Load generation: one driver for closed and open loop.
//!
//! - [`mix`] — the weighted query mix and tenant draws, with each query's params rendered once.
//! - [`arrival`] — when each query is due (now, evenly spaced, or Poisson) and when a step ends.
//! - [`driver`] — the lanes that send queries and the collector that records them.
//! - [`retry`] — retries of rejected attempts and the time-to-answer accounting.

pub mod arrival;
pub mod driver;
pub mod mix;
pub mod retry;
