//! Rows of checked batches rendered as the original system's JSON records, byte for byte what
//! `serde_json` makes of [`RowRef`], without its per-field machinery.

use std::io::Write as _;
use std::ops::Range;

use super::{row, RowRef};
use crate::proto::RecordBatch;

/// Appends rows `range` of a checked batch to `out` as JSON objects, comma-separated (no
/// brackets), so rows of several batches can form one JSON array.
pub fn write_json_rows(batch: &RecordBatch, range: Range<usize>, out: &mut Vec<u8>) {
    for index in range {
        if out.last().is_some_and(|&last| last != b'[') {
            out.push(b',');
        }
        write_json_row(&row(batch, index), out);
    }
}

/// One record as the JSON object `serde_json` makes of [`RowRef`] (same keys, order and
/// number formatting), written without the serializer's per-field machinery: this is the
/// inner loop of every JSON chunk.
pub(super) fn write_json_row(row: &RowRef<'_>, out: &mut Vec<u8>) {
    let number = |out: &mut Vec<u8>, key: &[u8], value: f64| {
        out.extend_from_slice(key);
        // Writing a number into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &value);
    };
    let integer = |out: &mut Vec<u8>, key: &[u8], value: i32| {
        out.extend_from_slice(key);
        let _ = serde_json::to_writer(&mut *out, &value);
    };
    number(out, b"{\"latitude\":", row.latitude);
    number(out, b",\"longitude\":", row.longitude);
    json_string(out, b",\"timestamp\":", row.timestamp);
    json_string(out, b",\"parameter\":", row.parameter);
    number(out, b",\"value\":", row.value);
    json_string(out, b",\"unit\":", row.unit);
    number(out, b",\"raw_concentration\":", row.raw_concentration);
    integer(out, b",\"aqi\":", row.aqi);
    integer(out, b",\"category\":", row.category);
    json_string(out, b",\"site_name\":", row.site_name);
    json_string(out, b",\"agency_name\":", row.agency_name);
    json_string(out, b",\"aqs_id\":", row.aqs_id);
    json_string(out, b",\"full_aqs_id\":", row.full_aqs_id);
    // Writing into a Vec cannot fail.
    let _ = write!(out, ",\"date\":\"{:08}\"}}", row.date);
}

/// Writes `key` then `text` as a JSON string: copied as is when nothing needs escaping (the
/// common case), through `serde_json` otherwise.
fn json_string(out: &mut Vec<u8>, key: &[u8], text: &str) {
    out.extend_from_slice(key);
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Rows `range` across a sequence of checked batches as one JSON array.
pub fn json_array(batches: &[RecordBatch], range: Range<usize>) -> String {
    let mut out = Vec::with_capacity(range.len() * 320 + 2);
    out.push(b'[');
    let mut start = 0;
    for batch in batches {
        let rows = batch.num_rows as usize;
        let (from, to) = (range.start.max(start), range.end.min(start + rows));
        if from < to {
            write_json_rows(batch, from - start..to - start, &mut out);
        }
        start += rows;
    }
    out.push(b']');
    // serde_json writes valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}
