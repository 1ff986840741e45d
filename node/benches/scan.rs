//! Store benchmarks: filter scan, grouped aggregate, and encoding a chunk of the result.
use overlay_node::store::{Table, TableBuilder};

use criterion::{criterion_group, criterion_main, Criterion};
use overlay::batch::{json_array, RowRef};
use overlay::date::DateKey;
use overlay::query::{AggregateOp, AggregateSpec, Filter, GroupBy};
use overlay::record::NumericField;

/// About the size of one node's slice of the real data (1.17 M rows over 43 days, six nodes
/// holding a share each, with replicas).
const ROWS: usize = 300_000;
/// Days of the synthetic slice.
const DAYS: usize = 13;
/// Distinct sites, as in the real data (1,417).
const SITES: usize = 1_400;
/// Hourly files per day in the real data (odd hours).
const HOURS: usize = 12;
const PARAMETERS: [(&str, &str); 6] = overlay::record::PARAMETER_UNITS;

/// A deterministic 64-bit linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

struct SiteText {
    latitude: f64,
    longitude: f64,
    name: String,
    agency: String,
    aqs_id: String,
    full_aqs_id: String,
}

fn synthetic_table() -> (Table, Vec<DateKey>) {
    let mut lcg = Lcg(2020);
    let sites: Vec<SiteText> = (0..SITES)
        .map(|i| SiteText {
            latitude: 25.0 + lcg.next(2_500) as f64 / 100.0,
            longitude: -125.0 + lcg.next(5_500) as f64 / 100.0,
            name: format!("Site {i}, ST"),
            agency: format!("Agency {}", i % 90),
            aqs_id: format!("{:09}", 60_000_000 + i),
            full_aqs_id: format!("840{:09}", 60_000_000 + i),
        })
        .collect();
    let mut dates = Vec::new();
    let mut date = DateKey::from_ymd(2020, 8, 14).expect("valid date");
    let mut builder = TableBuilder::with_capacity(ROWS);
    let per_hour = ROWS / (DAYS * HOURS);
    for _ in 0..DAYS {
        dates.push(date);
        for hour in 0..HOURS {
            let timestamp = format!(
                "{}-{:02}-{:02}T{:02}:00",
                date.year(),
                date.month(),
                date.day(),
                hour * 2 + 1
            );
            for _ in 0..per_hour {
                let site = &sites[lcg.next(SITES as u64) as usize];
                let (parameter, unit) = PARAMETERS[lcg.next(6) as usize];
                let missing = lcg.next(20) == 0;
                let value = if missing {
                    -999.0
                } else {
                    lcg.next(1_000) as f64 / 10.0
                };
                let aqi = if missing { -999 } else { lcg.next(300) as i32 };
                builder.push(
                    date,
                    &RowRef {
                        latitude: site.latitude,
                        longitude: site.longitude,
                        timestamp: &timestamp,
                        parameter,
                        value,
                        unit,
                        raw_concentration: value,
                        aqi,
                        category: if missing { -999 } else { aqi / 50 + 1 },
                        site_name: &site.name,
                        agency_name: &site.agency,
                        aqs_id: &site.aqs_id,
                        full_aqs_id: &site.full_aqs_id,
                        date: date.as_u32(),
                    },
                );
            }
        }
        date = date.next_day();
    }
    (builder.finish(), dates)
}

fn benches(c: &mut Criterion) {
    let (table, dates) = synthetic_table();
    let pm25 = Filter {
        parameter: Some("PM2.5".to_string()),
        min_value: Some(10.0),
        max_value: Some(50.0),
        ..Filter::default()
    };
    c.bench_function("scan pm2.5 10-50 limit 2000, encoded (serving path)", |b| {
        b.iter(|| table.scan_encoded(&pm25, &dates, 0, 2000))
    });
    c.bench_function(
        "scan pm2.5 10-50 limit 333, encoded (one of six slices)",
        |b| b.iter(|| table.scan_encoded(&pm25, &dates, 0, 333)),
    );
    c.bench_function("decode 2000-row batch", |b| {
        let encoded = table.scan_encoded(&pm25, &dates, 0, 2000).encoded;
        b.iter(|| overlay::batch::decode_batch(&encoded))
    });
    let by_site = AggregateSpec {
        op: AggregateOp::Count,
        field: NumericField::Value,
        group_by: Some(GroupBy::Site),
    };
    c.bench_function("aggregate count by site", |b| {
        b.iter(|| table.aggregate(&Filter::default(), &by_site, &dates))
    });
    let batch = table.scan(&pm25, &dates, 0, 2000).batch;
    let batches = [batch];
    c.bench_function("json_array 200 rows", |b| {
        b.iter(|| json_array(&batches, 0..200))
    });
    c.bench_function("protobuf encode 2000-row batch", |b| {
        b.iter(|| prost::Message::encode_to_vec(&batches[0]))
    });
}

criterion_group!(store, benches);
criterion_main!(store);
