//! Dataset tooling: a deterministic synthetic generator of AirNow-style CSV data.
//!
//! - [`generate`]: the generator (sites, values, AQI, rows), the same layout as the real set.
//! - [`manifest`]: `overlay-data.json`, what the generator wrote, checked by runs.
//! - [`progress`]: generation with a progress bar, for the commands and `harness run`.

pub mod generate;
pub mod manifest;
pub mod progress;
