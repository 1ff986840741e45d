//! Dataset tooling: a deterministic synthetic generator of AirNow-style CSV data.

pub mod generate;
pub mod progress;
