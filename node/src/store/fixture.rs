//! Test fixture: a small deterministic table and the rows it should hold, for naive checks.

use overlay::batch::RowRef;
use overlay::date::DateKey;
use overlay::query::Filter;
use overlay::record::Record;

use super::{Table, TableBuilder};

/// Sites as (latitude, longitude, name, full AQS id). The last two share a full AQS id, and
/// some coordinates sit exactly on the box edges the tests use.
const SITES: [(f64, f64, &str, &str); 6] = [
    (30.0, -120.0, "Edge South, CA", "840000000001"),
    (35.5, -110.0, "Middle", "840000000002"),
    (40.0, -100.0, "Edge North, CO", "840000000003"),
    (45.25, -75.5, "East", "840000000004"),
    (38.0, -120.0, "Twin A", "840000000005"),
    (38.0, -119.0, "Twin B", "840000000005"),
];

const PARAMETERS: [(&str, &str); 4] = [
    ("OZONE", "PPB"),
    ("PM2.5", "UG/M3"),
    ("PM10", "UG/M3"),
    ("CO", "PPM"),
];

/// Values drawn from: boundary values of the 10–50 range, the sentinel, and others. All are
/// multiples of 1/4 so that sums are exact in any order.
const VALUES: [f64; 9] = [10.0, 50.0, 9.75, 50.25, -999.0, 0.0, 25.5, 100.0, 12.25];

/// The fixture's days, ascending.
pub(super) fn days() -> Vec<DateKey> {
    [20200810, 20200814, 20200815]
        .into_iter()
        .filter_map(DateKey::from_u32)
        .collect()
}

/// The fixture table and its rows in table order (day, file, row), dates filled in.
pub(super) fn fixture() -> (Table, Vec<Record>) {
    let mut builder = TableBuilder::new();
    let mut records = Vec::new();
    let mut state: u64 = 12345;
    for date in days() {
        for hour in [1, 3] {
            let timestamp = format!("2020-08-10T{hour:02}:00");
            for _ in 0..40 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pick = |n: usize, shift: u32| (state >> shift) as usize % n;
                let site = SITES[pick(SITES.len(), 33)];
                let (parameter, unit) = PARAMETERS[pick(PARAMETERS.len(), 41)];
                let value = VALUES[pick(VALUES.len(), 47)];
                let aqi = if pick(5, 53) == 0 {
                    -999
                } else {
                    pick(200, 20) as i32
                };
                let row = RowRef {
                    latitude: site.0,
                    longitude: site.1,
                    timestamp: &timestamp,
                    parameter,
                    value,
                    unit,
                    raw_concentration: value * 2.0,
                    aqi,
                    category: aqi.clamp(-999, 6),
                    site_name: site.2,
                    agency_name: "Agency, Inc",
                    aqs_id: &site.3[3..],
                    full_aqs_id: site.3,
                    date: date.as_u32(),
                };
                builder.push(date, &row);
                records.push(row.to_record());
            }
        }
    }
    (builder.finish(), records)
}

/// The naive reading of a filter over one record, restricted to `dates`.
pub(super) fn naive_matches(filter: &Filter, dates: &[DateKey], record: &Record) -> bool {
    let Ok(date) = record.date.parse::<DateKey>() else {
        return false;
    };
    dates.contains(&date)
        && filter.accepts_date(date)
        && filter
            .parameter
            .as_ref()
            .is_none_or(|p| p.eq_ignore_ascii_case(&record.parameter))
        && filter.accepts_value(record.value)
        && filter.accepts_position(record.latitude, record.longitude)
}
