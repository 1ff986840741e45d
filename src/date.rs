//! Calendar dates as the dataset names them: `YYYYMMDD` folder names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A calendar day, held as the number `YYYYMMDD` so that numeric order is date order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DateKey(u32);

/// Why a text is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a date (expected YYYYMMDD or YYYY-MM-DD, a real calendar day)")]
pub struct DateError {
    /// The text that failed to parse.
    pub text: String,
}

impl DateKey {
    /// Builds a date from its parts, checking that the day exists.
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Option<Self> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(DateKey(year * 10_000 + month * 100 + day))
    }

    /// The number `YYYYMMDD`.
    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// Builds a date from the number `YYYYMMDD`, checking that the day exists.
    pub fn from_u32(value: u32) -> Option<Self> {
        Self::from_ymd(value / 10_000, value / 100 % 100, value % 100)
    }

    /// The year.
    pub fn year(self) -> u32 {
        self.0 / 10_000
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.0 / 100 % 100
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u32 {
        self.0 % 100
    }

    /// The following calendar day.
    pub fn next_day(self) -> Self {
        let (year, month, day) = (self.year(), self.month(), self.day());
        if day < days_in_month(year, month) {
            DateKey(self.0 + 1)
        } else if month < 12 {
            DateKey(year * 10_000 + (month + 1) * 100 + 1)
        } else {
            DateKey((year + 1) * 10_000 + 101)
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

impl FromStr for DateKey {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: String = match text.len() {
            8 => text.to_string(),
            10 if text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' => text.replace('-', ""),
            _ => String::new(),
        };
        let parsed = if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse::<u32>().ok().and_then(DateKey::from_u32)
        } else {
            None
        };
        parsed.ok_or_else(|| DateError {
            text: text.to_string(),
        })
    }
}

impl TryFrom<String> for DateKey {
    type Error = DateError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<DateKey> for String {
    fn from(date: DateKey) -> Self {
        date.to_string()
    }
}

impl fmt::Display for DateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it): the time stamp
/// nodes and the harness share in event logs, metrics and results.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings_and_rejects_impossible_days() {
        assert_eq!("20200810".parse::<DateKey>().unwrap().as_u32(), 20200810);
        assert_eq!("2020-08-10".parse::<DateKey>().unwrap().as_u32(), 20200810);
        assert!("20200230".parse::<DateKey>().is_err());
        assert!("2020-13-01".parse::<DateKey>().is_err());
        assert!("2020081".parse::<DateKey>().is_err());
        assert!("2020/08/10".parse::<DateKey>().is_err());
        assert!("abcdefgh".parse::<DateKey>().is_err());
    }

    #[test]
    fn next_day_crosses_months_and_years() {
        let d = |s: &str| s.parse::<DateKey>().unwrap();
        assert_eq!(d("20200831").next_day(), d("20200901"));
        assert_eq!(d("20200228").next_day(), d("20200229"));
        assert_eq!(d("20201231").next_day(), d("20210101"));
    }
}
