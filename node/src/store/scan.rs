//! Filter scans: the matching rows of some days, paged by offset and limit, as a record batch.

use overlay::batch::{decode_batch, BorrowedBatch, RowRef};
use overlay::date::DateKey;
use overlay::proto::RecordBatch;
use overlay::query::{Filter, LIMIT_CAP};

use super::select::Selection;
use super::table::Table;
use crate::cancel::Cancel;

/// Marks a string id not yet interned into the batch being built.
const NOT_INTERNED: u32 = u32::MAX;

/// What a scan found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanOutcome {
    /// The rows, in (day, file, row) order.
    pub batch: RecordBatch,
    /// True when no matching row exists past `offset` + the rows returned.
    pub exhausted: bool,
}

/// What a scan found, already encoded for the wire (the serving path: no string is copied).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncodedScan {
    /// A protobuf-encoded `RecordBatch` of the rows, in (day, file, row) order.
    pub encoded: Vec<u8>,
    /// Rows in the batch.
    pub rows: u32,
    /// True when no matching row exists past `offset` + the rows returned.
    pub exhausted: bool,
}

impl Table {
    /// Matching rows of the given days, decoded (see [`Table::scan_encoded`]).
    pub fn scan(&self, filter: &Filter, dates: &[DateKey], offset: u32, limit: u32) -> ScanOutcome {
        let scanned = self.scan_encoded(filter, dates, offset, limit);
        ScanOutcome {
            // The encoder and decoder are ours; a failure here is a bug the tests catch.
            batch: decode_batch(&scanned.encoded).unwrap_or_default(),
            exhausted: scanned.exhausted,
        }
    }

    /// Matching rows of the given days (a slice; days not held are ignored), in
    /// (day, file, row) order, skipping the first `offset` matches, at most `limit` rows,
    /// encoded as a `RecordBatch` whose dictionary borrows the table's strings.
    pub fn scan_encoded(
        &self,
        filter: &Filter,
        dates: &[DateKey],
        offset: u32,
        limit: u32,
    ) -> EncodedScan {
        self.scan_encoded_until(filter, dates, offset, limit, None)
    }

    /// [`Table::scan_encoded`] that stops between days once `cancel` is raised (its result is
    /// then incomplete: the caller, who has gone, must not use it).
    pub fn scan_encoded_until(
        &self,
        filter: &Filter,
        dates: &[DateKey],
        offset: u32,
        limit: u32,
        cancel: Option<&Cancel>,
    ) -> EncodedScan {
        let Some(selection) = Selection::new(self, filter, dates).map(|s| s.until(cancel)) else {
            return EncodedScan {
                encoded: Vec::new(),
                rows: 0,
                exhausted: true,
            };
        };
        let mut out = Output::new(self, limit);
        let mut to_skip = offset;
        for (_, day) in selection.days() {
            for index in day.rows.clone() {
                if !selection.matches(index) {
                    continue;
                }
                if to_skip > 0 {
                    to_skip -= 1;
                } else if out.is_full() {
                    return out.finish(false);
                } else {
                    out.push(index, day.date);
                }
            }
        }
        out.finish(true)
    }
}

/// The batch being built, with a per-scan map from table string ids to batch codes so that
/// each distinct string is interned once per batch.
struct Output<'a> {
    table: &'a Table,
    builder: BorrowedBatch<'a>,
    /// Batch code per table string id, [`NOT_INTERNED`] until first use.
    codes: Vec<u32>,
    limit: usize,
}

impl<'a> Output<'a> {
    fn new(table: &'a Table, limit: u32) -> Self {
        let limit = limit as usize;
        Output {
            table,
            // A caller may pass a huge limit to mean "all": reserve no more than a page.
            builder: BorrowedBatch::with_capacity(limit.min(LIMIT_CAP as usize)),
            codes: Vec::new(),
            limit,
        }
    }

    fn is_full(&self) -> bool {
        self.builder.len() >= self.limit
    }

    fn push(&mut self, index: usize, date: DateKey) {
        let table = self.table;
        let c = &table.columns;
        let site = table.sites[c.site[index] as usize];
        let parameter = table.parameters[usize::from(c.parameter[index])];
        let unit = table.units[usize::from(c.unit[index])];
        let codes = [
            self.code(c.timestamp[index]),
            self.code(parameter),
            self.code(unit),
            self.code(site.name),
            self.code(site.agency),
            self.code(site.aqs_id),
            self.code(site.full_aqs_id),
        ];
        let row = RowRef {
            latitude: site.latitude,
            longitude: site.longitude,
            timestamp: "",
            parameter: "",
            value: c.value[index],
            unit: "",
            raw_concentration: c.raw_concentration[index],
            aqi: c.aqi[index],
            category: c.category[index],
            site_name: "",
            agency_name: "",
            aqs_id: "",
            full_aqs_id: "",
            date: date.as_u32(),
        };
        self.builder.push_coded(&row, codes);
    }

    /// The batch code of table string `id`, interning it on first use.
    fn code(&mut self, id: u32) -> u32 {
        if self.codes.is_empty() {
            self.codes = vec![NOT_INTERNED; self.table.strings.len()];
        }
        let slot = id as usize;
        match self.codes.get(slot) {
            Some(&code) if code != NOT_INTERNED => code,
            _ => {
                // Table string ids are unique per text, so no lookup is needed.
                let code = self.builder.push_text(self.table.text(id));
                if let Some(entry) = self.codes.get_mut(slot) {
                    *entry = code;
                }
                code
            }
        }
    }

    fn finish(self, exhausted: bool) -> EncodedScan {
        EncodedScan {
            encoded: self.builder.encode(),
            rows: self.builder.len() as u32,
            exhausted,
        }
    }
}

#[cfg(test)]
mod tests {
    use overlay::batch::{to_records, validate};
    use overlay::record::Record;

    use super::super::fixture::{days, fixture, naive_matches};
    use super::*;

    fn scan_all(table: &Table, filter: &Filter, dates: &[DateKey]) -> Vec<Record> {
        let outcome = table.scan(filter, dates, 0, u32::MAX);
        assert!(outcome.exhausted);
        validate(&outcome.batch).unwrap();
        to_records(&outcome.batch)
    }

    fn expected(records: &[Record], filter: &Filter, dates: &[DateKey]) -> Vec<Record> {
        records
            .iter()
            .filter(|r| naive_matches(filter, dates, r))
            .cloned()
            .collect()
    }

    fn filters() -> Vec<Filter> {
        let day = |n| DateKey::from_u32(n);
        vec![
            Filter::default(),
            Filter {
                parameter: Some("PM2.5".into()),
                ..Filter::default()
            },
            Filter {
                parameter: Some("pm2.5".into()),
                min_value: Some(10.0),
                max_value: Some(50.0),
                ..Filter::default()
            },
            Filter {
                min_value: Some(50.0),
                ..Filter::default()
            },
            Filter {
                max_value: Some(-999.0),
                ..Filter::default()
            },
            Filter {
                date_start: day(20200814),
                ..Filter::default()
            },
            Filter {
                date_start: day(20200811),
                date_end: day(20200814),
                ..Filter::default()
            },
            Filter {
                lat_min: Some(30.0),
                lat_max: Some(40.0),
                lon_min: Some(-120.0),
                lon_max: Some(-100.0),
                ..Filter::default()
            },
            Filter {
                lat_max: Some(35.5),
                parameter: Some("OZONE".into()),
                ..Filter::default()
            },
        ]
    }

    #[test]
    fn every_filter_key_matches_the_naive_reading_in_table_order() {
        let (table, records) = fixture();
        let all = days();
        for filter in filters() {
            for dates in [all.clone(), all[1..].to_vec(), vec![all[0], all[2]]] {
                let want = expected(&records, &filter, &dates);
                assert_eq!(
                    scan_all(&table, &filter, &dates),
                    want,
                    "{filter:?} {dates:?}"
                );
            }
        }
        // The fixture exercises the boundaries it claims to.
        let range = &filters()[2];
        let hits = expected(&records, range, &all);
        assert!(hits.iter().any(|r| r.value == 10.0) && hits.iter().any(|r| r.value == 50.0));
        assert!(!hits.iter().any(|r| r.value == 9.75 || r.value == 50.25));
        assert_eq!(
            scan_all(&table, &Filter::default(), &all).len(),
            records.len()
        );
    }

    #[test]
    fn nothing_to_match_gives_an_empty_exhausted_batch() {
        let (table, _) = fixture();
        let unknown = Filter {
            parameter: Some("SO2".into()),
            ..Filter::default()
        };
        let not_held = DateKey::from_u32(20200901).unwrap();
        for (filter, dates) in [
            (unknown, days()),
            (Filter::default(), vec![not_held]),
            (Filter::default(), vec![]),
        ] {
            let outcome = table.scan(&filter, &dates, 0, 10);
            assert!(outcome.exhausted);
            assert_eq!(outcome.batch.num_rows, 0);
        }
    }

    #[test]
    fn a_raised_cancel_stops_scans_before_the_next_day() {
        let (table, _) = fixture();
        let all = days();
        let cancel = Cancel::default();
        let filter = Filter::default();
        let whole = table.scan_encoded_until(&filter, &all, 0, u32::MAX, Some(&cancel));
        assert!(whole.rows > 0 && whole.exhausted);
        let spec = overlay::query::AggregateSpec {
            op: overlay::query::AggregateOp::Count,
            field: overlay::record::NumericField::Value,
            group_by: None,
        };
        assert!(!table
            .aggregate_until(&filter, &spec, &all, Some(&cancel))
            .groups
            .is_empty());
        cancel.cancel();
        let stopped = table.scan_encoded_until(&filter, &all, 0, u32::MAX, Some(&cancel));
        assert_eq!(stopped.rows, 0);
        assert!(table
            .aggregate_until(&filter, &spec, &all, Some(&cancel))
            .groups
            .is_empty());
    }

    #[test]
    fn paging_gives_the_rows_of_one_big_scan() {
        let (table, _) = fixture();
        let all = days();
        for filter in filters() {
            let whole = scan_all(&table, &filter, &all);
            for page in [1, 3, 7, 1000] {
                let mut pages = Vec::new();
                let mut offset = 0;
                loop {
                    let outcome = table.scan(&filter, &all, offset, page);
                    let rows = to_records(&outcome.batch);
                    offset += rows.len() as u32;
                    pages.extend(rows);
                    if outcome.exhausted {
                        break;
                    }
                }
                assert_eq!(pages, whole, "{filter:?} page {page}");
            }
        }
    }

    #[test]
    fn exhausted_is_exact_at_the_boundaries() {
        let (table, _) = fixture();
        let all = days();
        let filter = &filters()[2];
        let total = scan_all(&table, filter, &all).len() as u32;
        assert!(total > 2);
        let probe = |offset, limit| {
            let outcome = table.scan(filter, &all, offset, limit);
            (outcome.batch.num_rows, outcome.exhausted)
        };
        assert_eq!(probe(0, total), (total, true));
        assert_eq!(probe(0, total - 1), (total - 1, false));
        assert_eq!(probe(1, total - 1), (total - 1, true));
        assert_eq!(probe(total - 1, 0), (0, false));
        assert_eq!(probe(total, 0), (0, true));
        assert_eq!(probe(total, 5), (0, true));
        assert_eq!(probe(total + 5, 5), (0, true));
    }

    #[test]
    fn each_string_is_interned_once_per_batch() {
        let (table, _) = fixture();
        let batch = table.scan(&Filter::default(), &days(), 0, u32::MAX).batch;
        let mut dictionary = batch.dictionary.clone();
        dictionary.sort();
        dictionary.dedup();
        assert_eq!(dictionary.len(), batch.dictionary.len());
    }
}
