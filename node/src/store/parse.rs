//! One CSV row → one borrowed [`RowRef`], parsing bytes in place (no per-field allocation).

use csv::ByteRecord;
use overlay::batch::RowRef;
use overlay::record::CSV_COLUMNS;

/// Why a CSV row is broken. The text names the field and quotes the bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RowError {
    /// Not 13 fields (a short, long or truncated line).
    #[error("has {found} fields, expected {}", CSV_COLUMNS.len())]
    FieldCount {
        /// Fields found.
        found: usize,
    },
    /// A number field that is not a finite number.
    #[error("{field} '{text}' is not a finite number")]
    NotANumber {
        /// The field's name.
        field: &'static str,
        /// Its text.
        text: String,
    },
    /// An integer field that is not a whole number in range.
    #[error("{field} '{text}' is not a whole number")]
    NotAnInteger {
        /// The field's name.
        field: &'static str,
        /// Its text.
        text: String,
    },
    /// A text field that is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    NotUtf8 {
        /// The field's name.
        field: &'static str,
    },
    /// The timestamp is empty.
    #[error("timestamp is empty")]
    EmptyTimestamp,
    /// A latitude or longitude off the globe.
    #[error("{field} {value} is outside [-{bound}, {bound}]")]
    OffTheGlobe {
        /// `latitude` or `longitude`.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The largest magnitude allowed.
        bound: f64,
    },
    /// A timestamp that is not a time of the file's day (and hour).
    #[error("timestamp '{text}' is not a time of this file (expected {expected})")]
    WrongTime {
        /// The timestamp (its first 40 characters).
        text: String,
        /// The form this file's timestamps take.
        expected: String,
    },
    /// A field value the record schema rules out.
    #[error("{field} '{text}' is impossible (allowed: {allowed})")]
    OutOfSchema {
        /// The field's name.
        field: &'static str,
        /// Its value (at most 40 characters).
        text: String,
        /// What the schema allows.
        allowed: String,
    },
}

/// Why a row was skipped, as counted in the load report and `GetMetrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not a CSV row of 13 fields with numbers where numbers belong and UTF-8 text.
    Malformed,
    /// A latitude outside [-90, 90] or a longitude outside [-180, 180].
    Coordinates,
    /// A missing or unparsable timestamp, or one of another day or hour than its file's.
    Timestamp,
    /// A pollutant, unit, AQI or category the record schema rules out (or that the table
    /// cannot store).
    Schema,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::Malformed,
        SkipReason::Coordinates,
        SkipReason::Timestamp,
        SkipReason::Schema,
    ];

    /// The reason's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::Malformed => "malformed",
            SkipReason::Coordinates => "coordinates",
            SkipReason::Timestamp => "timestamp",
            SkipReason::Schema => "schema",
        }
    }
}

impl RowError {
    /// The reason a row with this error is counted under.
    pub(crate) fn reason(&self) -> SkipReason {
        match self {
            RowError::FieldCount { .. }
            | RowError::NotANumber { .. }
            | RowError::NotAnInteger { .. }
            | RowError::NotUtf8 { .. } => SkipReason::Malformed,
            RowError::OffTheGlobe { .. } => SkipReason::Coordinates,
            RowError::EmptyTimestamp | RowError::WrongTime { .. } => SkipReason::Timestamp,
            RowError::OutOfSchema { .. } => SkipReason::Schema,
        }
    }
}

/// Parses a record of the 13 CSV columns ([`CSV_COLUMNS`]). The row's `date` is left 0: it
/// comes from the folder, not the row.
pub(crate) fn parse_row(record: &ByteRecord) -> Result<RowRef<'_>, RowError> {
    if record.len() != CSV_COLUMNS.len() {
        return Err(RowError::FieldCount {
            found: record.len(),
        });
    }
    let timestamp = text(record, 2)?;
    if timestamp.is_empty() {
        return Err(RowError::EmptyTimestamp);
    }
    Ok(RowRef {
        latitude: number(record, 0)?,
        longitude: number(record, 1)?,
        timestamp,
        parameter: text(record, 3)?,
        value: number(record, 4)?,
        unit: text(record, 5)?,
        raw_concentration: number(record, 6)?,
        aqi: integer(record, 7)?,
        category: integer(record, 8)?,
        site_name: text(record, 9)?,
        agency_name: text(record, 10)?,
        aqs_id: text(record, 11)?,
        full_aqs_id: text(record, 12)?,
        date: 0,
    })
}

fn field(record: &ByteRecord, index: usize) -> &[u8] {
    record.get(index).unwrap_or_default()
}

fn text(record: &ByteRecord, index: usize) -> Result<&str, RowError> {
    std::str::from_utf8(field(record, index)).map_err(|_| RowError::NotUtf8 {
        field: CSV_COLUMNS[index],
    })
}

/// A finite `f64`. NaN and infinities are refused: they would poison sums and compare unlike
/// every real measurement.
fn number(record: &ByteRecord, index: usize) -> Result<f64, RowError> {
    let bytes = field(record, index).trim_ascii();
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|value| value.is_finite())
        .ok_or_else(|| RowError::NotANumber {
            field: CSV_COLUMNS[index],
            text: String::from_utf8_lossy(bytes).into_owned(),
        })
}

/// An `i32`, written as an integer ("62", "-999") or as a whole float ("62.0").
fn integer(record: &ByteRecord, index: usize) -> Result<i32, RowError> {
    let bytes = field(record, index).trim_ascii();
    let text = std::str::from_utf8(bytes).ok();
    let parsed = text.and_then(|text| {
        text.parse::<i32>().ok().or_else(|| {
            let value = text.parse::<f64>().ok()?;
            let whole = value.fract() == 0.0
                && value >= f64::from(i32::MIN)
                && value <= f64::from(i32::MAX);
            whole.then_some(value as i32)
        })
    });
    parsed.ok_or_else(|| RowError::NotAnInteger {
        field: CSV_COLUMNS[index],
        text: String::from_utf8_lossy(bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    const GOOD: [&str; 13] = [
        "41.75613",
        "-124.20347",
        "2020-08-10T01:00",
        "PM2.5",
        "17.3",
        "UG/M3",
        "18.0",
        "62",
        "2",
        "Rangely, CO",
        "North Coast",
        "060150007",
        "840060150007",
    ];

    fn with(index: usize, value: &str) -> ByteRecord {
        let mut fields = GOOD;
        fields[index] = value;
        record(&fields)
    }

    #[test]
    fn parses_a_good_row_and_whole_floats_as_integers() {
        let good = record(&GOOD);
        let row = parse_row(&good).unwrap();
        assert_eq!(row.latitude, 41.75613);
        assert_eq!((row.aqi, row.category), (62, 2));
        assert_eq!(row.site_name, "Rangely, CO");
        assert_eq!(parse_row(&with(7, "62.0")).unwrap().aqi, 62);
        assert_eq!(parse_row(&with(8, "-999")).unwrap().category, -999);
        assert_eq!(parse_row(&with(4, "-999")).unwrap().value, -999.0);
    }

    #[test]
    fn names_the_field_of_a_broken_row() {
        let err = |record: ByteRecord| parse_row(&record).unwrap_err().to_string();
        assert_eq!(
            err(record(&GOOD[..12])),
            "has 12 fields, expected 13".to_string()
        );
        assert_eq!(err(with(4, "abc")), "value 'abc' is not a finite number");
        assert_eq!(err(with(0, "NaN")), "latitude 'NaN' is not a finite number");
        assert_eq!(err(with(7, "62.5")), "aqi '62.5' is not a whole number");
        assert_eq!(err(with(8, "")), "category '' is not a whole number");
        assert_eq!(err(with(2, "")), "timestamp is empty");
        let mut fields: Vec<&[u8]> = GOOD.iter().map(|f| f.as_bytes()).collect();
        fields[9] = b"\xff\xfe";
        assert_eq!(
            err(ByteRecord::from(fields)),
            "site_name is not valid UTF-8"
        );
    }
}
