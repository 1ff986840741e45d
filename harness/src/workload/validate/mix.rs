//! `[[query]]`: the query mix.

use super::MixEntry;
use crate::input::{within, Checker, WorkloadError};
use crate::workload::spec::QuerySpecToml;

/// `[[query]]`: the mix, each entry's params checked as the node would parse them.
pub(super) fn check_mix(
    c: &Checker<'_>,
    queries: &[QuerySpecToml],
) -> Result<Vec<MixEntry>, WorkloadError> {
    if queries.is_empty() {
        return c.fail("query", "no [[query]] entries; the mix needs at least one");
    }
    let mut mix = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let key = format!("query[{i}]");
        c.one_of(
            &format!("{key}.type"),
            &q.query_type,
            &["filter", "aggregate", "metrics"],
        )?;
        if !within(q.weight, 0.0, f64::MAX, false) {
            return c.fail(
                &format!("{key}.weight"),
                format!("is {}; it must be > 0", q.weight),
            );
        }
        if q.name.is_empty() || queries[..i].iter().any(|p| p.name == q.name) {
            return c.fail(
                &format!("{key}.name"),
                format!("'{}' must be non-empty and unique", q.name),
            );
        }
        let params = match serde_json::to_value(&q.params) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return c.fail(&format!("{key}.params"), "must be a table of query params"),
        };
        if params.contains_key("team") {
            return c.fail(
                &format!("{key}.params.team"),
                "is set per [[tenant]]; remove it here",
            );
        }
        if q.query_type != "metrics" {
            let parsed = overlay::query::Query::parse(
                &q.query_type,
                &serde_json::Value::Object(params.clone()).to_string(),
            );
            if let Err(err) = parsed {
                return c.fail(
                    &format!("{key}.params"),
                    format!("the node would refuse it: {err}"),
                );
            }
        }
        mix.push(MixEntry {
            name: q.name.clone(),
            query_type: q.query_type.clone(),
            weight: q.weight,
            params,
        });
    }
    Ok(mix)
}
