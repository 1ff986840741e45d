//! `[[tenant]]`: the teams, their shares or rates and weights.

use super::{Tenant, MAX_RATE};
use crate::input::{within, Checker, WorkloadError};
use crate::workload::spec::WorkloadSpec;

/// `[[tenant]]`: unique teams, a share or (open loop) a rate each, weights; shares
/// normalised to sum to 1.
pub(super) fn check_tenants(
    c: &Checker<'_>,
    spec: &WorkloadSpec,
    cluster: &overlay::config::ClusterConfig,
) -> Result<Vec<Tenant>, WorkloadError> {
    if spec.tenants.is_empty() {
        return c.fail("tenant", "no [[tenant]] entries; name at least one team");
    }
    let with_rate = spec.tenants.iter().filter(|t| t.rate.is_some()).count();
    let mut tenants = Vec::new();
    for (i, t) in spec.tenants.iter().enumerate() {
        let key = format!("tenant[{i}]");
        if t.team.is_empty() || spec.tenants[..i].iter().any(|p| p.team == t.team) {
            return c.fail(
                &format!("{key}.team"),
                format!("'{}' must be non-empty and unique", t.team),
            );
        }
        let share = match (t.share, t.rate) {
            (Some(_), Some(_)) => {
                return c.fail(&key, "give share or rate, not both")
            }
            (None, None) => return c.fail(&format!("{key}.share"), "give share (or, open loop, rate)"),
            (Some(share), None) if with_rate > 0 => {
                return c.fail(
                    &format!("{key}.rate"),
                    format!("other tenants give a rate; give this one a rate too instead of share = {share}"),
                )
            }
            (Some(share), None) => share,
            (None, Some(rate)) => {
                if !within(rate, 0.0, MAX_RATE, false) {
                    return c.fail(
                        &format!("{key}.rate"),
                        format!("is {rate}; it must lie in (0, {MAX_RATE}]"),
                    );
                }
                if !cluster.team_date_bounds.contains_key(&t.team) {
                    let known: Vec<&str> = cluster.team_date_bounds.keys().map(String::as_str).collect();
                    return c.fail(
                        &format!("{key}.rate"),
                        format!("team '{}' is not in the cluster config (teams: {})", t.team, known.join(", ")),
                    );
                }
                rate
            }
        };
        if !within(share, 0.0, f64::MAX, false) {
            return c.fail(
                &format!("{key}.share"),
                format!("is {share}; it must be > 0"),
            );
        }
        if !(1..=1000).contains(&t.weight) {
            return c.fail(
                &format!("{key}.weight"),
                format!("is {}; it must be a whole number from 1 to 1000", t.weight),
            );
        }
        tenants.push(Tenant {
            team: t.team.clone(),
            share,
            weight: t.weight as u32,
            rate: t.rate,
        });
    }
    let total: f64 = tenants.iter().map(|t| t.share).sum();
    for t in &mut tenants {
        t.share /= total;
    }
    Ok(tenants)
}
