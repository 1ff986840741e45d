//! What the checks of a workload file and of its fault schedule share, below both (the
//! workload resolves its `[[fault]]` entries by calling [`crate::faults`], which in turn needs
//! these and nothing else of the workload): the error naming file and key, the `Checker`
//! that builds it, `within`, and the two workload settings the schedule is checked against
//! ([`ClusterMode`], [`StepLength`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A workload file that does not hold together.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct WorkloadError {
    /// The file.
    pub file: String,
    /// The offending key (dotted path).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Local launch or remote attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMode {
    /// The harness starts, watches and stops the node processes.
    Local,
    /// The nodes already run at the config's addresses.
    Remote,
}

/// When a step stops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepLength {
    /// After this many measured queries.
    Requests(u64),
    /// After this many measured seconds.
    Seconds(f64),
}

/// True when `value` lies in (`low`, `high`] — or [`low`, `high`] with `low_included` — which
/// NaN never does.
pub(crate) fn within(value: f64, low: f64, high: f64, low_included: bool) -> bool {
    let above = if low_included {
        value >= low
    } else {
        value > low
    };
    above && value <= high
}

/// Builds the errors of one file.
pub(crate) struct Checker<'a> {
    /// The file being checked.
    pub(crate) file: &'a Path,
}

impl Checker<'_> {
    /// An error naming the file, `key` and `message`.
    pub(crate) fn fail<T>(
        &self,
        key: &str,
        message: impl Into<String>,
    ) -> Result<T, WorkloadError> {
        Err(WorkloadError {
            file: self.file.display().to_string(),
            key: key.to_string(),
            message: message.into(),
        })
    }

    /// `value` as a u32 ≥ 1, or an error naming `key`.
    pub(crate) fn positive_u32(&self, key: &str, value: i64) -> Result<u32, WorkloadError> {
        if value < 1 || value > i64::from(u32::MAX) {
            return self.fail(key, format!("is {value}; it must be a whole number ≥ 1"));
        }
        Ok(value as u32)
    }

    /// Refuses `value` unless it is one of `allowed`, listing them.
    pub(crate) fn one_of(
        &self,
        key: &str,
        value: &str,
        allowed: &[&str],
    ) -> Result<(), WorkloadError> {
        if allowed.contains(&value) {
            return Ok(());
        }
        self.fail(
            key,
            format!("is '{value}'; allowed: {}", allowed.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_honours_the_open_or_closed_lower_bound_and_refuses_nan() {
        assert!(within(1.0, 0.0, 1.0, false));
        assert!(!within(0.0, 0.0, 1.0, false));
        assert!(within(0.0, 0.0, 1.0, true));
        assert!(!within(f64::NAN, 0.0, 1.0, true));
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let c = Checker {
            file: Path::new("w.toml"),
        };
        let err = c.positive_u32("sweep.repetitions", 0).unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.key.as_str()),
            ("w.toml", "sweep.repetitions")
        );
        assert!(c
            .one_of("k", "x", &["a", "b"])
            .unwrap_err()
            .message
            .contains("a, b"));
        assert_eq!(c.positive_u32("k", 7).unwrap(), 7);
    }
}
