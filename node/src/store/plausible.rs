//! Whether a parsed row could be a real observation of its file: coordinates on the globe, a
//! timestamp of the file's own day (and hour, for `YYYYMMDD-HH.csv` files), and the record
//! schema's pollutants, units, AQI and category (see [`overlay::record`]).

use std::path::Path;

use overlay::batch::RowRef;
use overlay::date::DateKey;
use overlay::record::PARAMETER_UNITS;

use super::parse::RowError;

/// The provider's sentinel for a missing integer field (AQI, category).
const MISSING: i32 = -999;

/// The time a file's rows must carry: its day folder's date, and the hour its name gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileTime {
    date: DateKey,
    hour: Option<u32>,
}

impl FileTime {
    /// The time of `path` in the folder of `date`: the hour is taken from a file named
    /// `<date>-HH.csv` (HH 00–23); any other name checks the day only.
    pub(crate) fn of(date: DateKey, path: &Path) -> FileTime {
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("");
        let hour = stem
            .strip_prefix(&date.to_string())
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|hh| hh.len() == 2)
            .and_then(|hh| hh.parse::<u32>().ok())
            .filter(|hour| *hour < 24);
        FileTime { date, hour }
    }

    fn expected(&self) -> String {
        let (y, m, d) = (self.date.year(), self.date.month(), self.date.day());
        match self.hour {
            Some(hour) => format!("{y:04}-{m:02}-{d:02}T{hour:02}:MM"),
            None => format!("{y:04}-{m:02}-{d:02}THH:MM"),
        }
    }
}

/// Checks a parsed row against its file's time and the record schema.
pub(crate) fn check_row(row: &RowRef<'_>, time: &FileTime) -> Result<(), RowError> {
    check_coordinate("latitude", row.latitude, 90.0)?;
    check_coordinate("longitude", row.longitude, 180.0)?;
    check_timestamp(row.timestamp, time)?;
    check_parameter(row.parameter, row.unit)?;
    check_integer("aqi", row.aqi, 0..=i32::MAX)?;
    check_integer("category", row.category, 1..=6)
}

fn check_coordinate(field: &'static str, value: f64, bound: f64) -> Result<(), RowError> {
    if (-bound..=bound).contains(&value) {
        Ok(())
    } else {
        Err(RowError::OffTheGlobe {
            field,
            value,
            bound,
        })
    }
}

/// `YYYY-MM-DDTHH:MM` of the file's day (and hour), minutes 00–59.
fn check_timestamp(text: &str, time: &FileTime) -> Result<(), RowError> {
    let wrong = || RowError::WrongTime {
        text: text.chars().take(40).collect(),
        expected: time.expected(),
    };
    let bytes = text.as_bytes();
    let shape = bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(wrong());
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(u32::MAX);
    let date = DateKey::from_ymd(number(0..4), number(5..7), number(8..10));
    let (hour, minute) = (number(11..13), number(14..16));
    let fits = date == Some(time.date)
        && hour < 24
        && time.hour.is_none_or(|expected| expected == hour)
        && minute < 60;
    if fits {
        Ok(())
    } else {
        Err(wrong())
    }
}

/// One of the feed's pollutants, in its own unit (both ignoring ASCII case).
fn check_parameter(parameter: &str, unit: &str) -> Result<(), RowError> {
    let known = PARAMETER_UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(parameter));
    match known {
        None => Err(RowError::OutOfSchema {
            field: "parameter",
            text: parameter.chars().take(40).collect(),
            allowed: "OZONE, PM2.5, PM10, NO2, SO2 or CO".into(),
        }),
        Some((_, expected)) if !expected.eq_ignore_ascii_case(unit) => Err(RowError::OutOfSchema {
            field: "unit",
            text: unit.chars().take(40).collect(),
            allowed: format!("{expected} for {parameter}"),
        }),
        Some(_) => Ok(()),
    }
}

/// An integer in `range`, or the missing-value sentinel.
fn check_integer(
    field: &'static str,
    value: i32,
    range: std::ops::RangeInclusive<i32>,
) -> Result<(), RowError> {
    if value == MISSING || range.contains(&value) {
        return Ok(());
    }
    let allowed = if *range.end() == i32::MAX {
        format!("{} or more, or {MISSING}", range.start())
    } else {
        format!("{} to {}, or {MISSING}", range.start(), range.end())
    };
    Err(RowError::OutOfSchema {
        field,
        text: value.to_string(),
        allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(timestamp: &'a str) -> RowRef<'a> {
        RowRef {
            latitude: 41.75613,
            longitude: -124.20347,
            timestamp,
            parameter: "PM2.5",
            value: 17.3,
            unit: "UG/M3",
            raw_concentration: 18.0,
            aqi: 62,
            category: 2,
            site_name: "Crescent City",
            agency_name: "Agency",
            aqs_id: "1",
            full_aqs_id: "1",
            date: 0,
        }
    }

    fn time(name: &str) -> FileTime {
        FileTime::of(DateKey::from_u32(20200810).unwrap(), Path::new(name))
    }

    fn err(row: &RowRef<'_>, name: &str) -> String {
        check_row(row, &time(name)).unwrap_err().to_string()
    }

    #[test]
    fn a_real_row_passes_and_missing_sentinels_are_allowed() {
        let hourly = time("20200810-01.csv");
        assert_eq!(hourly.hour, Some(1));
        assert_eq!(time("notes.csv").hour, None);
        assert_eq!(time("20200810-25.csv").hour, None);
        assert!(check_row(&row("2020-08-10T01:00"), &hourly).is_ok());
        assert!(check_row(&row("2020-08-10T17:59"), &time("any.csv")).is_ok());
        let missing = RowRef {
            aqi: -999,
            category: -999,
            value: -999.0,
            parameter: "ozone",
            unit: "ppb",
            ..row("2020-08-10T01:00")
        };
        assert!(check_row(&missing, &hourly).is_ok());
    }

    #[test]
    fn impossible_fields_are_named() {
        let lat = RowRef {
            latitude: 999.0,
            ..row("2020-08-10T01:00")
        };
        assert_eq!(
            err(&lat, "20200810-01.csv"),
            "latitude 999 is outside [-90, 90]"
        );
        let lon = RowRef {
            longitude: -180.5,
            ..row("2020-08-10T01:00")
        };
        assert!(err(&lon, "x.csv").starts_with("longitude -180.5 is outside"));
        for bad in [
            "2020-08-10T03:00",
            "2020-08-11T01:00",
            "2020-08-10T01:60",
            "2020-02-30T01:00",
            "yesterday",
            "2020-08-10 01:00",
        ] {
            let message = err(&row(bad), "20200810-01.csv");
            assert!(message.contains("2020-08-10T01:MM"), "{bad}: {message}");
        }
        assert!(err(&row("2020-08-10T24:00"), "x.csv").contains("2020-08-10THH:MM"));
        let aqi = RowRef {
            aqi: -3,
            ..row("2020-08-10T01:00")
        };
        assert_eq!(
            err(&aqi, "x.csv"),
            "aqi '-3' is impossible (allowed: 0 or more, or -999)"
        );
        let category = RowRef {
            category: 7,
            ..row("2020-08-10T01:00")
        };
        assert!(err(&category, "x.csv").contains("1 to 6, or -999"));
        let gas = RowRef {
            parameter: "SMOKE",
            ..row("2020-08-10T01:00")
        };
        assert!(err(&gas, "x.csv").starts_with("parameter 'SMOKE' is impossible"));
        let unit = RowRef {
            unit: "PPB",
            ..row("2020-08-10T01:00")
        };
        assert!(err(&unit, "x.csv").contains("UG/M3 for PM2.5"));
    }
}
