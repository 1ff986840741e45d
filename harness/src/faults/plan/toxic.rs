//! The `toxic` key of a `link` fault: one of Toxiproxy's connection toxics with its attributes
//! (Toxiproxy's names, the unit in the key), checked: a known type, only the attributes it
//! takes and those it needs, no negative number, no zero size.

use overlay::fault::MAX_DELAY_MS;
use serde::{Deserialize, Serialize};

use crate::input::{Checker, WorkloadError};
use crate::netns::proxy::Toxic;

/// `toxic = { type = "reset_peer", timeout_ms = 500 }` as written in a `[[fault]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicSpec {
    /// `timeout`, `reset_peer`, `slicer`, `limit_data` or `slow_close`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `timeout`, `reset_peer`: Toxiproxy's `timeout`, ms.
    pub timeout_ms: Option<i64>,
    /// `slicer`: bytes of an average piece.
    pub average_size: Option<i64>,
    /// `slicer`: ± bytes around the average.
    pub size_variation: Option<i64>,
    /// `slicer`: µs between pieces.
    pub delay_us: Option<i64>,
    /// `limit_data`: bytes that cross before the connection is closed.
    pub bytes: Option<i64>,
    /// `slow_close`: ms a close is held.
    pub delay_ms: Option<i64>,
}

/// The toxic types, as Toxiproxy names them.
const KINDS: [&str; 5] = [
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
    "slow_close",
];

/// Checks the `toxic` of entry `index`.
pub(super) fn check(
    c: &Checker<'_>,
    index: usize,
    spec: &ToxicSpec,
) -> Result<Toxic, WorkloadError> {
    let key = |field: &str| format!("fault[{index}].toxic.{field}");
    let kind = spec.kind.as_str();
    c.one_of(&key("type"), kind, &KINDS)?;
    let takes: &[&str] = match kind {
        "timeout" | "reset_peer" => &["timeout_ms"],
        "slicer" => &["average_size", "size_variation", "delay_us"],
        "limit_data" => &["bytes"],
        _ => &["delay_ms"],
    };
    only_taken(c, index, spec, takes)?;
    // (key, value, least allowed, most allowed)
    let number = |field: &str, value: Option<i64>, least: i64, most: i64| {
        let Some(value) = value else {
            return c.fail(
                &key(field),
                format!(
                    "a {kind} toxic needs {field} (it takes {})",
                    takes.join(", ")
                ),
            );
        };
        if !(least..=most).contains(&value) {
            return c.fail(
                &key(field),
                format!("is {value}; it must lie in [{least}, {most}]"),
            );
        }
        Ok(value as u64)
    };
    let ms = MAX_DELAY_MS;
    Ok(match kind {
        "timeout" => Toxic::Timeout {
            timeout_ms: number("timeout_ms", spec.timeout_ms, 0, ms)?,
        },
        "reset_peer" => Toxic::ResetPeer {
            timeout_ms: number("timeout_ms", spec.timeout_ms, 0, ms)?,
        },
        "slicer" => {
            let average_size = number("average_size", spec.average_size, 1, i64::MAX)?;
            let size_variation = spec.size_variation.unwrap_or(0) as u64;
            if size_variation >= average_size {
                return c.fail(
                    &key("size_variation"),
                    format!("is {size_variation}; it must be smaller than average_size ({average_size}), so that every piece holds a byte"),
                );
            }
            Toxic::Slicer {
                average_size,
                size_variation,
                delay_us: number("delay_us", Some(spec.delay_us.unwrap_or(0)), 0, ms * 1000)?,
            }
        }
        "limit_data" => Toxic::LimitData {
            bytes: number("bytes", spec.bytes, 1, i64::MAX)?,
        },
        _ => Toxic::SlowClose {
            delay_ms: number("delay_ms", spec.delay_ms, 1, ms)?,
        },
    })
}

/// Refuses an attribute `spec`'s type does not take (`takes`), and a negative one.
fn only_taken(
    c: &Checker<'_>,
    index: usize,
    spec: &ToxicSpec,
    takes: &[&str],
) -> Result<(), WorkloadError> {
    let given = [
        ("timeout_ms", spec.timeout_ms),
        ("average_size", spec.average_size),
        ("size_variation", spec.size_variation),
        ("delay_us", spec.delay_us),
        ("bytes", spec.bytes),
        ("delay_ms", spec.delay_ms),
    ];
    for (field, value) in given {
        let Some(value) = value else { continue };
        let key = format!("fault[{index}].toxic.{field}");
        if !takes.contains(&field) {
            return c.fail(
                &key,
                format!(
                    "does not apply to a {} toxic, which takes {}; remove it",
                    spec.kind,
                    takes.join(", ")
                ),
            );
        }
        if value < 0 {
            return c.fail(&key, format!("is {value}; it must be ≥ 0"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
