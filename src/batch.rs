//! Columnar record batches: building them, checking ones that came off the network, reading
//! their rows, and rendering rows as the original JSON (in `json`, the inner loop of every JSON
//! chunk).
//!
//! A [`RecordBatch`] keeps every string column as indexes into one per-batch dictionary, so a
//! batch of 2,000 records carries each site's name once and decodes without a per-row
//! allocation.

use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::{DefaultHashBuilder, HashTable};
use prost::bytes::Bytes;
use prost::Message;
use serde::Serialize;

use crate::proto::RecordBatch;
use crate::record::Record;

mod json;

pub use json::{json_array, write_json_rows};

/// One row of a batch, borrowed. Serializes to the original JSON record.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RowRef<'a> {
    /// Site latitude.
    pub latitude: f64,
    /// Site longitude.
    pub longitude: f64,
    /// Observation hour, `YYYY-MM-DDTHH:MM`.
    pub timestamp: &'a str,
    /// Pollutant.
    pub parameter: &'a str,
    /// Concentration.
    pub value: f64,
    /// Unit of the concentration.
    pub unit: &'a str,
    /// Raw concentration.
    pub raw_concentration: f64,
    /// Air quality index.
    pub aqi: i32,
    /// AQI category.
    pub category: i32,
    /// Site name.
    pub site_name: &'a str,
    /// Operating agency.
    pub agency_name: &'a str,
    /// AQS id.
    pub aqs_id: &'a str,
    /// Full AQS id.
    pub full_aqs_id: &'a str,
    /// Date folder as `YYYYMMDD`.
    #[serde(serialize_with = "date_as_string")]
    pub date: u32,
}

fn date_as_string<S: serde::Serializer>(date: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{date:08}"))
}

impl RowRef<'_> {
    /// An owned copy of the row.
    pub fn to_record(&self) -> Record {
        Record {
            latitude: self.latitude,
            longitude: self.longitude,
            timestamp: self.timestamp.to_string(),
            parameter: self.parameter.to_string(),
            value: self.value,
            unit: self.unit.to_string(),
            raw_concentration: self.raw_concentration,
            aqi: self.aqi,
            category: self.category,
            site_name: self.site_name.to_string(),
            agency_name: self.agency_name.to_string(),
            aqs_id: self.aqs_id.to_string(),
            full_aqs_id: self.full_aqs_id.to_string(),
            date: format!("{:08}", self.date),
        }
    }
}

/// Why a batch received from a peer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A column's length differs from `num_rows`.
    #[error("column {column} has {found} entries, expected {expected}")]
    ColumnLength {
        /// The column.
        column: &'static str,
        /// Its length.
        found: usize,
        /// `num_rows`.
        expected: usize,
    },
    /// A string column points past the dictionary.
    #[error("column {column} refers to dictionary entry {index}, but the dictionary has {size}")]
    DictionaryIndex {
        /// The column.
        column: &'static str,
        /// The bad index.
        index: u32,
        /// The dictionary's size.
        size: usize,
    },
    /// A dictionary entry is not UTF-8 text.
    #[error("dictionary entry {index} is not UTF-8 text")]
    NotText {
        /// The entry.
        index: usize,
    },
    /// The bytes are not a protobuf batch.
    #[error("batch does not decode: {0}")]
    Decode(String),
}

/// Decodes and checks a batch received from the network.
pub fn decode_batch(bytes: &[u8]) -> Result<RecordBatch, BatchError> {
    let batch = <RecordBatch as prost::Message>::decode(bytes)
        .map_err(|err| BatchError::Decode(err.to_string()))?;
    validate(&batch)?;
    Ok(batch)
}

/// Checks that every column has `num_rows` entries and every string index is in the dictionary,
/// so that [`row`] cannot fail afterwards.
pub fn validate(batch: &RecordBatch) -> Result<(), BatchError> {
    let expected = batch.num_rows as usize;
    let lengths = [
        ("latitude", batch.latitude.len()),
        ("longitude", batch.longitude.len()),
        ("value", batch.value.len()),
        ("raw_concentration", batch.raw_concentration.len()),
        ("aqi", batch.aqi.len()),
        ("category", batch.category.len()),
        ("date", batch.date.len()),
    ];
    for (column, found) in lengths
        .into_iter()
        .chain(string_columns(batch).map(|(c, v)| (c, v.len())))
    {
        if found != expected {
            return Err(BatchError::ColumnLength {
                column,
                found,
                expected,
            });
        }
    }
    if let Some(index) = batch
        .dictionary
        .iter()
        .position(|entry| std::str::from_utf8(entry).is_err())
    {
        return Err(BatchError::NotText { index });
    }
    let size = batch.dictionary.len();
    for (column, values) in string_columns(batch) {
        if let Some(&index) = values.iter().find(|&&index| index as usize >= size) {
            return Err(BatchError::DictionaryIndex {
                column,
                index,
                size,
            });
        }
    }
    Ok(())
}

fn string_columns(batch: &RecordBatch) -> impl Iterator<Item = (&'static str, &Vec<u32>)> {
    [
        ("timestamp", &batch.timestamp),
        ("parameter", &batch.parameter),
        ("unit", &batch.unit),
        ("site_name", &batch.site_name),
        ("agency_name", &batch.agency_name),
        ("aqs_id", &batch.aqs_id),
        ("full_aqs_id", &batch.full_aqs_id),
    ]
    .into_iter()
}

/// Row `index` of a batch that passed [`validate`]. Panics on an unchecked, inconsistent batch.
pub fn row(batch: &RecordBatch, index: usize) -> RowRef<'_> {
    let text = |codes: &Vec<u32>| dictionary_text(batch, codes[index]);
    RowRef {
        latitude: batch.latitude[index],
        longitude: batch.longitude[index],
        timestamp: text(&batch.timestamp),
        parameter: text(&batch.parameter),
        value: batch.value[index],
        unit: text(&batch.unit),
        raw_concentration: batch.raw_concentration[index],
        aqi: batch.aqi[index],
        category: batch.category[index],
        site_name: text(&batch.site_name),
        agency_name: text(&batch.agency_name),
        aqs_id: text(&batch.aqs_id),
        full_aqs_id: text(&batch.full_aqs_id),
        date: batch.date[index],
    }
}

/// Dictionary entry `code` of a checked batch as text ("" for an entry [`validate`] would
/// refuse).
fn dictionary_text(batch: &RecordBatch, code: u32) -> &str {
    std::str::from_utf8(&batch.dictionary[code as usize]).unwrap_or_default()
}

/// Every row of a checked batch as owned records.
pub fn to_records(batch: &RecordBatch) -> Vec<Record> {
    (0..batch.num_rows as usize)
        .map(|i| row(batch, i).to_record())
        .collect()
}

/// Builds a batch row by row, interning strings into the batch dictionary.
///
/// The intern table holds only codes and compares against the dictionary itself, so each
/// distinct string is allocated once (interning sits on every scan's hot path).
#[derive(Default)]
pub struct BatchBuilder {
    batch: RecordBatch,
    codes: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("rows", &self.batch.num_rows)
            .finish()
    }
}

impl BatchBuilder {
    /// An empty builder with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        let mut batch = RecordBatch::default();
        batch.latitude.reserve(rows);
        batch.longitude.reserve(rows);
        batch.value.reserve(rows);
        batch.raw_concentration.reserve(rows);
        batch.date.reserve(rows);
        Self {
            batch,
            codes: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The dictionary index of `text`, adding it on first use.
    pub fn intern(&mut self, text: &str) -> u32 {
        let hash = self.hasher.hash_one(text);
        let dictionary = &self.batch.dictionary;
        if let Some(&code) = self
            .codes
            .find(hash, |&code| dictionary[code as usize] == text.as_bytes())
        {
            return code;
        }
        let code = dictionary.len() as u32;
        self.batch
            .dictionary
            .push(Bytes::copy_from_slice(text.as_bytes()));
        let (dictionary, hasher) = (&self.batch.dictionary, &self.hasher);
        self.codes.insert_unique(hash, code, |&code| {
            hasher.hash_one(std::str::from_utf8(&dictionary[code as usize]).unwrap_or_default())
        });
        code
    }

    /// Appends one row.
    pub fn push(&mut self, row: &RowRef<'_>) {
        let codes = [
            self.intern(row.timestamp),
            self.intern(row.parameter),
            self.intern(row.unit),
            self.intern(row.site_name),
            self.intern(row.agency_name),
            self.intern(row.aqs_id),
            self.intern(row.full_aqs_id),
        ];
        self.push_coded(row, codes);
    }

    /// Appends one row whose string columns are already dictionary codes of this builder, in
    /// the order timestamp, parameter, unit, site_name, agency_name, aqs_id, full_aqs_id
    /// (the `&str` fields of `row` are then ignored). Lets a caller cache codes.
    pub fn push_coded(&mut self, row: &RowRef<'_>, codes: [u32; 7]) {
        push_columns(&mut self.batch, row, codes);
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.batch.num_rows as usize
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.batch.num_rows == 0
    }

    /// The finished batch.
    pub fn finish(self) -> RecordBatch {
        self.batch
    }
}

/// Appends one row's numeric columns and string codes to a batch.
fn push_columns(b: &mut RecordBatch, row: &RowRef<'_>, codes: [u32; 7]) {
    b.num_rows += 1;
    b.latitude.push(row.latitude);
    b.longitude.push(row.longitude);
    b.value.push(row.value);
    b.raw_concentration.push(row.raw_concentration);
    b.aqi.push(row.aqi);
    b.category.push(row.category);
    b.date.push(row.date);
    b.timestamp.push(codes[0]);
    b.parameter.push(codes[1]);
    b.unit.push(codes[2]);
    b.site_name.push(codes[3]);
    b.agency_name.push(codes[4]);
    b.aqs_id.push(codes[5]);
    b.full_aqs_id.push(codes[6]);
}

/// A batch under construction whose dictionary borrows its strings (from a table that outlives
/// it), encoded straight to protobuf bytes: the scan path allocates no string at all.
#[derive(Debug, Default)]
pub struct BorrowedBatch<'a> {
    dictionary: Vec<&'a str>,
    columns: RecordBatch,
}

impl<'a> BorrowedBatch<'a> {
    /// An empty batch with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            dictionary: Vec::new(),
            columns: BatchBuilder::with_capacity(rows).finish(),
        }
    }

    /// Adds a dictionary entry and returns its code. The caller guarantees `text` is not in the
    /// dictionary yet (for example because it comes from an already-interned table), so no
    /// hashing is needed.
    pub fn push_text(&mut self, text: &'a str) -> u32 {
        self.dictionary.push(text);
        (self.dictionary.len() - 1) as u32
    }

    /// Appends one row whose string columns are codes returned by [`Self::push_text`], in the
    /// order of [`BatchBuilder::push_coded`].
    pub fn push_coded(&mut self, row: &RowRef<'_>, codes: [u32; 7]) {
        push_columns(&mut self.columns, row, codes);
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.columns.num_rows as usize
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.columns.num_rows == 0
    }

    /// The protobuf encoding of the equivalent [`RecordBatch`]: the columns, then the dictionary
    /// entries as field 2 (protobuf lets fields come in any order; repeated entries keep theirs).
    pub fn encode(&self) -> Vec<u8> {
        use prost::encoding::{encode_key, encode_varint, WireType};
        let text_bytes: usize = self.dictionary.iter().map(|t| t.len() + 3).sum();
        let mut out = Vec::with_capacity(self.columns.encoded_len() + text_bytes);
        // Encoding into a Vec cannot run out of room.
        let _ = self.columns.encode(&mut out);
        for text in &self.dictionary {
            encode_key(DICTIONARY_FIELD, WireType::LengthDelimited, &mut out);
            encode_varint(text.len() as u64, &mut out);
            out.extend_from_slice(text.as_bytes());
        }
        out
    }
}

/// Field number of `RecordBatch.dictionary` in `proto/overlay.proto`.
const DICTIONARY_FIELD: u32 = 2;

/// Rows `range` taken across a sequence of checked batches (as if they were one), re-encoded
/// into one batch with its own dictionary. Each source dictionary entry is interned at most
/// once (codes are remapped per source batch), so the cost is one array lookup per string
/// field, not one hash per field.
pub fn slice_batches(batches: &[RecordBatch], range: Range<usize>) -> RecordBatch {
    let mut builder = BatchBuilder::with_capacity(range.len());
    let mut start = 0;
    for batch in batches {
        let rows = batch.num_rows as usize;
        let (from, to) = (range.start.max(start), range.end.min(start + rows));
        if from < to {
            append_rows(&mut builder, batch, from - start..to - start);
        }
        start += rows;
    }
    builder.finish()
}

/// Appends rows of one checked batch, remapping its dictionary codes into the builder's.
fn append_rows(builder: &mut BatchBuilder, batch: &RecordBatch, rows: Range<usize>) {
    const UNMAPPED: u32 = u32::MAX;
    let mut remap = vec![UNMAPPED; batch.dictionary.len()];
    let mut code = |builder: &mut BatchBuilder, source: u32| {
        let slot = &mut remap[source as usize];
        if *slot == UNMAPPED {
            *slot = builder.intern(dictionary_text(batch, source));
        }
        *slot
    };
    for index in rows {
        let codes = [
            code(builder, batch.timestamp[index]),
            code(builder, batch.parameter[index]),
            code(builder, batch.unit[index]),
            code(builder, batch.site_name[index]),
            code(builder, batch.agency_name[index]),
            code(builder, batch.aqs_id[index]),
            code(builder, batch.full_aqs_id[index]),
        ];
        builder.push_coded(&row(batch, index), codes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(site: &str, value: f64, date: u32) -> RowRef<'_> {
        RowRef {
            latitude: 41.75613,
            longitude: -124.20347,
            timestamp: "2020-08-10T01:00",
            parameter: "PM2.5",
            value,
            unit: "UG/M3",
            raw_concentration: 18.0,
            aqi: 62,
            category: 2,
            site_name: site,
            agency_name: "North Coast",
            aqs_id: "840060150007",
            full_aqs_id: "840060150007",
            date,
        }
    }

    #[test]
    fn builder_interns_strings_and_rows_read_back() {
        let mut builder = BatchBuilder::with_capacity(2);
        builder.push(&sample("Rangely, CO", 17.3, 20200810));
        builder.push(&sample("Rangely, CO", 48.0, 20200810));
        let batch = builder.finish();
        assert_eq!(batch.dictionary.len(), 7 - 1); // aqs_id and full_aqs_id share one entry
        validate(&batch).unwrap();
        assert_eq!(row(&batch, 1), sample("Rangely, CO", 48.0, 20200810));
    }

    #[test]
    fn json_matches_the_original_record_shape() {
        let mut builder = BatchBuilder::default();
        builder.push(&sample("Crescent City", 17.3, 20200810));
        let json = json_array(&[builder.finish()], 0..1);
        assert_eq!(
            json,
            r#"[{"latitude":41.75613,"longitude":-124.20347,"timestamp":"2020-08-10T01:00","parameter":"PM2.5","value":17.3,"unit":"UG/M3","raw_concentration":18.0,"aqi":62,"category":2,"site_name":"Crescent City","agency_name":"North Coast","aqs_id":"840060150007","full_aqs_id":"840060150007","date":"20200810"}]"#
        );
        let records: Vec<Record> = serde_json::from_str(&json).unwrap();
        assert_eq!(records[0].value, 17.3);
    }

    #[test]
    fn fast_json_rows_equal_serde_json_for_awkward_values() {
        let awkward = [
            ("plain", 17.3),
            ("Rangely, CO", 48.0),
            ("quote \" and backslash \\", -999.0),
            ("tab\tnewline\ncontrol\u{1}", 0.1),
            ("unicode: Café – 東京", 1e-7),
            ("", f64::NAN),
        ];
        for (text, value) in awkward {
            let mut row = sample(text, value, 20200810);
            row.timestamp = text;
            row.aqi = -999;
            let mut fast = Vec::new();
            json::write_json_row(&row, &mut fast);
            let serde = serde_json::to_vec(&row).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }

    #[test]
    fn slicing_spans_batches() {
        let batches: Vec<RecordBatch> = (0..3)
            .map(|b| {
                let mut builder = BatchBuilder::default();
                for i in 0..4 {
                    builder.push(&sample("s", f64::from(b * 10 + i), 20200810));
                }
                builder.finish()
            })
            .collect();
        let middle = slice_batches(&batches, 3..9);
        let values: Vec<f64> = middle.value.clone();
        assert_eq!(values, vec![3.0, 10.0, 11.0, 12.0, 13.0, 20.0]);
        let json: Vec<Record> = serde_json::from_str(&json_array(&batches, 3..9)).unwrap();
        assert_eq!(json.iter().map(|r| r.value).collect::<Vec<_>>(), values);
        assert_eq!(json_array(&batches, 5..5), "[]");
    }

    #[test]
    fn borrowed_batches_encode_like_built_ones() {
        let strings: Vec<String> = [
            "2020-08-10T01:00",
            "PM2.5",
            "UG/M3",
            "Rangely, CO",
            "Agency",
            "840",
        ]
        .map(String::from)
        .to_vec();
        let mut borrowed = BorrowedBatch::with_capacity(2);
        let codes: Vec<u32> = strings.iter().map(|s| borrowed.push_text(s)).collect();
        let row_codes = [
            codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[5],
        ];
        let mut built = BatchBuilder::default();
        for value in [1.5, 2.5] {
            let row = RowRef {
                value,
                ..sample("Rangely, CO", value, 20200810)
            };
            let row = RowRef {
                agency_name: "Agency",
                aqs_id: "840",
                full_aqs_id: "840",
                ..row
            };
            borrowed.push_coded(&row, row_codes);
            built.push(&row);
        }
        let decoded = decode_batch(&borrowed.encode()).unwrap();
        assert_eq!(to_records(&decoded), to_records(&built.finish()));
        let texts: Vec<&str> = decoded
            .dictionary
            .iter()
            .map(|b| std::str::from_utf8(b).unwrap())
            .collect();
        assert_eq!(texts, strings);
    }

    #[test]
    fn corrupt_batches_are_refused() {
        let mut builder = BatchBuilder::default();
        builder.push(&sample("s", 1.0, 20200810));
        let mut batch = builder.finish();
        let mut not_text = batch.clone();
        not_text.dictionary[0] = Bytes::from_static(&[0xff, 0xfe]);
        assert_eq!(validate(&not_text), Err(BatchError::NotText { index: 0 }));
        batch.site_name[0] = 99;
        assert!(matches!(
            validate(&batch),
            Err(BatchError::DictionaryIndex {
                column: "site_name",
                ..
            })
        ));
        batch.value.push(2.0);
        assert!(matches!(
            validate(&batch),
            Err(BatchError::ColumnLength {
                column: "value",
                ..
            })
        ));
        assert!(decode_batch(&[0xff, 0xff, 0xff]).is_err());
    }
}
