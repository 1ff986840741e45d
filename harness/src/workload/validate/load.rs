//! `[load]`: closed or open loop, the step's length, and the open loop's rate.

use super::{LoadMode, Tenant, MAX_RATE};
use crate::input::{within, Checker, StepLength, WorkloadError};
use crate::workload::spec::{LoadSpec, WorkloadSpec};

/// The pacing and the step length of `[load]` (the tenants may give the open loop's rates).
pub(super) fn check_load(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    tenants: &[Tenant],
) -> Result<(LoadMode, StepLength), WorkloadError> {
    let l = &spec.load;
    let team_rates: Option<f64> = tenants.iter().map(|t| t.rate).sum();
    c.one_of("load.mode", &l.mode, &["closed", "open"])?;
    c.one_of("load.arrival", &l.arrival, &["uniform", "poisson"])?;
    let length = check_length(c, l)?;
    if l.mode == "closed" {
        if team_rates.is_some() {
            return c.fail(
                "tenant[0].rate",
                "applies to load.mode = \"open\" only; closed loop is paced by the answers",
            );
        }
        if l.rate.is_some() {
            return c.fail(
                "load.rate",
                "applies to mode = \"open\" only; closed loop is paced by the answers",
            );
        }
        return Ok((LoadMode::Closed, length));
    }
    let rate = check_rate(c, l, team_rates, length)?;
    Ok((
        LoadMode::Open {
            rate,
            poisson: l.arrival == "poisson",
        },
        length,
    ))
}

/// When a step ends: after `requests`, or after `duration_s` (an open loop may give both).
fn check_length(c: &Checker<'_>, l: &LoadSpec) -> Result<StepLength, WorkloadError> {
    match (l.requests, l.duration_s) {
        (Some(_), Some(_)) if l.mode == "closed" => {
            c.fail("load", "give either requests or duration_s, not both")
        }
        (None, None) => c.fail("load", "give requests (a count) or duration_s (seconds)"),
        (Some(n), _) if n < 1 => c.fail("load.requests", format!("is {n}; it must be ≥ 1")),
        (_, Some(d)) if !within(d, 0.0, 3600.0, false) => c.fail(
            "load.duration_s",
            format!("is {d}; it must lie in (0, 3600]"),
        ),
        (Some(n), _) => Ok(StepLength::Requests(n as u64)),
        (None, Some(d)) => Ok(StepLength::Seconds(d)),
    }
}

/// The open loop's rate (`load.rate`, or the sum of the tenants' rates), and that the step's
/// requests can be sent at it within the duration and within an hour.
fn check_rate(
    c: &Checker<'_>,
    l: &LoadSpec,
    team_rates: Option<f64>,
    length: StepLength,
) -> Result<f64, WorkloadError> {
    let rate = match (l.rate, team_rates) {
        (Some(_), Some(_)) => {
            return c.fail(
                "load.rate",
                "the tenants give their own rates; drop load.rate (it is their sum)",
            )
        }
        (Some(rate), None) | (None, Some(rate)) => rate,
        (None, None) => {
            return c.fail(
                "load.rate",
                "mode = \"open\" needs a rate (queries per second), or a rate per [[tenant]]",
            )
        }
    };
    if !within(rate, 0.0, MAX_RATE, false) {
        return c.fail(
            "load.rate",
            format!("is {rate}; it must lie in (0, {MAX_RATE}]"),
        );
    }
    if let (Some(n), Some(d)) = (l.requests, l.duration_s) {
        if n as f64 > rate * d {
            return c.fail(
                "load.requests",
                format!("{n} requests cannot be sent at {rate}/s within duration_s = {d} (at most {:.0}); raise the rate or the duration, or drop one", rate * d),
            );
        }
    }
    if let StepLength::Requests(n) = length {
        if n as f64 / rate > 3600.0 {
            return c.fail(
                "load.requests",
                format!("{n} requests at {rate}/s would take over an hour per step"),
            );
        }
    }
    Ok(rate)
}
