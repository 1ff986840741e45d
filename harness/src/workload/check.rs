//! The pieces every check of a workload file shares (the workload's own checks and the fault
//! plan's): errors naming the file and key, and range tests.

use std::path::Path;

use super::WorkloadError;

/// True when `value` lies in (`low`, `high`] — or [`low`, `high`] with `low_included` — which
/// NaN never does.
pub fn within(value: f64, low: f64, high: f64, low_included: bool) -> bool {
    let above = if low_included {
        value >= low
    } else {
        value > low
    };
    above && value <= high
}

/// Builds the errors of one file.
#[derive(Clone, Copy, Debug)]
pub struct Checker<'a> {
    /// The file being checked.
    pub file: &'a Path,
}

impl Checker<'_> {
    /// An error naming the file, `key` and `message`.
    pub fn fail<T>(&self, key: &str, message: impl Into<String>) -> Result<T, WorkloadError> {
        Err(WorkloadError {
            file: self.file.display().to_string(),
            key: key.to_string(),
            message: message.into(),
        })
    }

    /// `value` as a whole number ≥ 1 that fits a `u32`, or an error naming `key`.
    pub fn positive_u32(&self, key: &str, value: i64) -> Result<u32, WorkloadError> {
        if value < 1 || value > i64::from(u32::MAX) {
            return self.fail(key, format!("is {value}; it must be a whole number ≥ 1"));
        }
        Ok(value as u32)
    }

    /// Refuses `value` unless it is one of `allowed`, listing them.
    pub fn one_of(&self, key: &str, value: &str, allowed: &[&str]) -> Result<(), WorkloadError> {
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
