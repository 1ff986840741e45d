//! The record schema: one hourly observation of one pollutant at one site.
//!
//! The JSON keys and their order are the original system's, so clients that read JSON chunks
//! keep working. On the wire between native peers, records travel as columnar
//! [`RecordBatch`](crate::proto::RecordBatch)es instead (see [`crate::batch`]).

use serde::{Deserialize, Serialize};

/// The sentinel the provider writes for a missing measurement.
pub const MISSING_VALUE: f64 = -999.0;

/// The pollutants of the AirNow feed with the unit each is reported in.
pub const PARAMETER_UNITS: [(&str, &str); 6] = [
    ("OZONE", "PPB"),
    ("PM2.5", "UG/M3"),
    ("PM10", "UG/M3"),
    ("NO2", "PPB"),
    ("SO2", "PPB"),
    ("CO", "PPM"),
];

/// Fields of a CSV row, in file order. Files have no header row; this is the schema.
pub const CSV_COLUMNS: [&str; 13] = [
    "latitude",
    "longitude",
    "timestamp",
    "parameter",
    "value",
    "unit",
    "raw_concentration",
    "aqi",
    "category",
    "site_name",
    "agency_name",
    "aqs_id",
    "full_aqs_id",
];

/// One observation, owned. Used by clients and tests; nodes keep rows columnar instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Site latitude, degrees north.
    pub latitude: f64,
    /// Site longitude, degrees east (negative in the Americas).
    pub longitude: f64,
    /// Observation hour, UTC, as `YYYY-MM-DDTHH:MM`.
    pub timestamp: String,
    /// Pollutant: OZONE, PM2.5, PM10, NO2, SO2 or CO.
    pub parameter: String,
    /// Measured concentration; [`MISSING_VALUE`] when missing.
    pub value: f64,
    /// Unit of `value`: PPB, PPM or UG/M3.
    pub unit: String,
    /// Concentration before the provider's averaging.
    pub raw_concentration: f64,
    /// Air quality index; -999 when missing.
    pub aqi: i32,
    /// AQI category 1–6; -999 when missing.
    pub category: i32,
    /// Human-readable site name (may contain commas).
    pub site_name: String,
    /// Agency operating the site.
    pub agency_name: String,
    /// AQS site id.
    pub aqs_id: String,
    /// Full AQS id, unique per site.
    pub full_aqs_id: String,
    /// The date folder the row came from, `YYYYMMDD`.
    pub date: String,
}

/// A numeric field that aggregate queries can compute over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NumericField {
    /// The measured concentration.
    #[default]
    Value,
    /// The air quality index.
    Aqi,
    /// The raw concentration.
    RawConcentration,
}

impl NumericField {
    /// The name used in query params and answers.
    pub fn name(self) -> &'static str {
        match self {
            NumericField::Value => "value",
            NumericField::Aqi => "aqi",
            NumericField::RawConcentration => "raw_concentration",
        }
    }

    /// Parses a query-param name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            NumericField::Value,
            NumericField::Aqi,
            NumericField::RawConcentration,
        ]
        .into_iter()
        .find(|field| field.name() == name)
    }
}

/// True when a field value is the provider's missing-value sentinel.
pub fn is_missing(value: f64) -> bool {
    value == MISSING_VALUE
}
