//! Whether two runs measured the same thing: the same workload (mix, teams, load, timing,
//! faults), the same data, the same strategy settings and the same machine. `harness compare`
//! refuses runs that differ, unless told to go on.

use serde_json::Value;

use super::RunResults;

/// Workload keys allowed to differ between compared runs: names and paths, what is swept
/// (steps are paired by strategy and level), how often, and what is reported.
const FREE_KEYS: [&str; 12] = [
    "name",
    "description",
    "file",
    "data_path",
    "strategies",
    "concurrency",
    "repetitions",
    "confidence",
    "raw",
    "thresholds",
    "baseline",
    "ready_timeout_s",
];

/// Every difference between run `a` and run `b` that makes their figures incomparable, one
/// sentence each naming the setting and both values (empty when they compare).
pub fn differences(a: &RunResults, b: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    let (wa, wb) = (workload_value(a), workload_value(b));
    if let (Value::Object(ma), Value::Object(mb)) = (&wa, &wb) {
        let mut keys: Vec<&String> = ma.keys().chain(mb.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let (va, vb) = (ma.get(key), mb.get(key));
            if va != vb {
                out.push(format!("workload {key}: {} vs {}", shown(va), shown(vb)));
            }
        }
    }
    let (da, db) = (&a.data, &b.data);
    if !da.fingerprint.is_empty() && !db.fingerprint.is_empty() && da.fingerprint != db.fingerprint
    {
        out.push(format!(
            "data fingerprint: {} vs {}",
            da.fingerprint, db.fingerprint
        ));
    }
    let (ma, mb) = (&a.machine, &b.machine);
    for (what, x, y) in [
        ("machine host", ma.hostname.clone(), mb.hostname.clone()),
        ("machine CPUs", ma.cpus.to_string(), mb.cpus.to_string()),
        (
            "machine CPU model",
            ma.cpu_model.clone(),
            mb.cpu_model.clone(),
        ),
    ] {
        if x != y {
            out.push(format!("{what}: {x} vs {y}"));
        }
    }
    out
}

/// The workload as JSON without the keys allowed to differ.
fn workload_value(r: &RunResults) -> Value {
    let mut v = serde_json::to_value(&r.workload).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        for key in FREE_KEYS {
            map.remove(key);
        }
    }
    v
}

fn shown(v: Option<&Value>) -> String {
    v.map_or("absent".to_string(), |v| {
        let s = v.to_string();
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(80).collect::<String>())
        } else {
            s
        }
    })
}
