//! Expected answers computed by a plain scan of the dataset files, independent of the node's
//! loader, table and merge code, and the comparison of the cluster's answers against them.
//!
//! Deliberately simple: every row is read into an owned record with the `csv` crate and
//! filtered with its own predicate, so a bug in the node's columnar path cannot hide in both.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use overlay::record::Record;
use serde_json::{Map, Value};

/// The relative difference tolerated in sums and means (floating-point summation order).
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Every row of a dataset, in (day, file, row) order; broken rows are skipped.
pub fn load_dataset(root: &Path) -> anyhow::Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut days: Vec<_> = std::fs::read_dir(root)
        .with_context(|| format!("cannot read dataset root {}", root.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    days.sort();
    for day in days {
        let date = day
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let mut files: Vec<_> = std::fs::read_dir(&day)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "csv"))
        {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_path(&file)?;
            for row in reader.records().filter_map(Result::ok) {
                if let Some(record) = parse_row(&row, &date) {
                    records.push(record);
                }
            }
        }
    }
    Ok(records)
}

fn parse_row(row: &csv::StringRecord, date: &str) -> Option<Record> {
    if row.len() != 13 {
        return None;
    }
    let number = |i: usize| row.get(i)?.trim().parse::<f64>().ok();
    let integer = |i: usize| number(i).map(|v| v as i32);
    Some(Record {
        latitude: number(0)?,
        longitude: number(1)?,
        timestamp: row.get(2)?.to_string(),
        parameter: row.get(3)?.to_string(),
        value: number(4)?,
        unit: row.get(5)?.to_string(),
        raw_concentration: number(6)?,
        aqi: integer(7)?,
        category: integer(8)?,
        site_name: row.get(9)?.to_string(),
        agency_name: row.get(10)?.to_string(),
        aqs_id: row.get(11)?.to_string(),
        full_aqs_id: row.get(12)?.to_string(),
        date: date.to_string(),
    })
}

/// True when a record matches the filter keys of a JSON params object.
pub fn matches(record: &Record, params: &Map<String, Value>) -> bool {
    let num = |key: &str| params.get(key).and_then(Value::as_f64);
    let day = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .map(|d| d.replace('-', ""))
    };
    params
        .get("parameter")
        .and_then(Value::as_str)
        .is_none_or(|p| p.eq_ignore_ascii_case(&record.parameter))
        && num("min_value").is_none_or(|v| record.value >= v)
        && num("max_value").is_none_or(|v| record.value <= v)
        && num("lat_min").is_none_or(|v| record.latitude >= v)
        && num("lat_max").is_none_or(|v| record.latitude <= v)
        && num("lon_min").is_none_or(|v| record.longitude >= v)
        && num("lon_max").is_none_or(|v| record.longitude <= v)
        && day("date_start").is_none_or(|d| record.date >= d)
        && day("date_end").is_none_or(|d| record.date <= d)
}

/// The expected rows of an aggregate query over `records`, as the node renders them (sorted
/// by group). Takes the records by reference so that callers can scan a filtered view of a
/// dataset without copying it.
pub fn expected_aggregate<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    params: &Map<String, Value>,
) -> Vec<Value> {
    let op = params.get("op").and_then(Value::as_str).unwrap_or("count");
    let field = params
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or("value");
    let group_by = params.get("group_by").and_then(Value::as_str);
    // (count, sum, min, max, missing) per group.
    let mut groups: BTreeMap<String, (u64, f64, f64, f64, u64)> = BTreeMap::new();
    for record in records.into_iter().filter(|r| matches(r, params)) {
        let key = match group_by {
            Some("parameter") => record.parameter.clone(),
            Some("date") => record.date.clone(),
            Some("site") => record.full_aqs_id.clone(),
            _ => "all".to_string(),
        };
        let value = match field {
            "aqi" => f64::from(record.aqi),
            "raw_concentration" => record.raw_concentration,
            _ => record.value,
        };
        let g = groups
            .entry(key)
            .or_insert((0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 0));
        if value == -999.0 {
            g.4 += 1;
        } else {
            g.0 += 1;
            g.1 += value;
            g.2 = g.2.min(value);
            g.3 = g.3.max(value);
        }
    }
    if group_by.is_none() && groups.is_empty() {
        groups.insert(
            "all".to_string(),
            (0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 0),
        );
    }
    groups
        .into_iter()
        .map(|(group, (count, sum, min, max, missing))| {
            let value = match op {
                "count" => Value::from(count),
                "sum" => Value::from(sum),
                _ if count == 0 => Value::Null,
                "min" => Value::from(min),
                "max" => Value::from(max),
                _ => Value::from(sum / count as f64),
            };
            serde_json::json!({ "group": group, "op": op, "field": field, "value": value, "count": count, "missing": missing })
        })
        .collect()
}

/// Compares aggregate rows: groups, counts and missing exactly, values within tolerance.
/// Returns a description of the first difference.
pub fn compare_aggregate(actual: &[Value], expected: &[Value]) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{} groups, expected {}",
            actual.len(),
            expected.len()
        ));
    }
    for (a, e) in actual.iter().zip(expected) {
        for key in ["group", "op", "field", "count", "missing"] {
            if a.get(key) != e.get(key) {
                return Err(format!(
                    "group {}: {key} is {:?}, expected {:?}",
                    e["group"],
                    a.get(key),
                    e.get(key)
                ));
            }
        }
        if !close(&a["value"], &e["value"]) {
            return Err(format!(
                "group {}: value {} expected {}",
                e["group"], a["value"], e["value"]
            ));
        }
    }
    Ok(())
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= RELATIVE_TOLERANCE * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(parameter: &str, value: f64, date: &str) -> Record {
        Record {
            latitude: 40.0,
            longitude: -120.0,
            timestamp: "t".into(),
            parameter: parameter.into(),
            value,
            unit: "u".into(),
            raw_concentration: value,
            aqi: 1,
            category: 1,
            site_name: "s".into(),
            agency_name: "a".into(),
            aqs_id: "1".into(),
            full_aqs_id: "1".into(),
            date: date.into(),
        }
    }

    fn params(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn aggregates_by_hand() {
        let records = [
            record("PM2.5", 10.0, "20200810"),
            record("PM2.5", 30.0, "20200901"),
            record("PM2.5", -999.0, "20200901"),
            record("OZONE", 5.0, "20200901"),
        ];
        let rows = expected_aggregate(&records, &params(r#"{"op":"avg","parameter":"pm2.5"}"#));
        assert_eq!(
            rows,
            vec![
                serde_json::json!({"group":"all","op":"avg","field":"value","value":20.0,"count":2,"missing":1})
            ]
        );
        let rows = expected_aggregate(
            &records,
            &params(r#"{"op":"max","group_by":"date","date_start":"2020-09-01"}"#),
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["value"], 30.0);
        assert!(compare_aggregate(&rows, &rows).is_ok());
        let mut off = rows.clone();
        off[0]["value"] = Value::from(30.001);
        assert!(compare_aggregate(&off, &rows).is_err());
    }
}
