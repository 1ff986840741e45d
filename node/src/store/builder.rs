//! Building a [`Table`] row by row: interning strings and sites, tracking day ranges.

use std::collections::HashMap;

use overlay::batch::RowRef;
use overlay::date::DateKey;

use super::table::{Day, Site, Table};

/// Distinct parameters (or units) a table can hold: their codes are one byte per row. The real
/// data has 6 parameters and 3 units.
const MAX_CODES: usize = 256;

/// Why a row could not be added to a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The row's parameter or unit would be the 257th distinct one.
    #[error("more than {MAX_CODES} distinct {column} values; '{text}' is not stored")]
    TooManyCodes {
        /// `parameter` or `unit`.
        column: &'static str,
        /// The value that did not fit.
        text: String,
    },
}

/// Builds a [`Table`]. Rows are expected date-ascending (the loader pushes them so); rows
/// pushed out of date order are put in order by [`TableBuilder::finish`], keeping push order
/// within a day.
#[derive(Debug, Default)]
pub struct TableBuilder {
    /// The table being filled; its `days` stay empty until `finish`.
    table: Table,
    /// String id of every interned string.
    string_ids: HashMap<Box<str>, u32>,
    /// Site index by site key (see [`site_key`]).
    site_ids: HashMap<Box<[u8]>, u32>,
    /// Reused buffer for the site key of the current row.
    key: Vec<u8>,
    /// Runs of rows of one date, in push order: (date, first row).
    runs: Vec<(DateKey, usize)>,
    /// The last timestamp interned, since consecutive rows nearly always share it.
    last_timestamp: Option<u32>,
    /// Rows `push` could not store.
    rejected: u64,
}

impl TableBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for about `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        let mut builder = Self::default();
        let c = &mut builder.table.columns;
        c.site.reserve(rows);
        c.timestamp.reserve(rows);
        c.parameter.reserve(rows);
        c.unit.reserve(rows);
        c.value.reserve(rows);
        c.raw_concentration.reserve(rows);
        c.aqi.reserve(rows);
        c.category.reserve(rows);
        builder
    }

    /// Appends one row of day `date` (the row's own `date` field is ignored). A row that cannot
    /// be stored (see [`TableBuilder::try_push`]) is dropped and counted in
    /// [`TableBuilder::rejected`].
    pub fn push(&mut self, date: DateKey, row: &RowRef<'_>) {
        if self.try_push(date, row).is_err() {
            self.rejected += 1;
        }
    }

    /// Appends one row of day `date`, or says why it cannot be stored (only a 257th distinct
    /// parameter or unit can fail).
    pub fn try_push(&mut self, date: DateKey, row: &RowRef<'_>) -> Result<(), PushError> {
        let parameter = self.code(Column::Parameter, row.parameter)?;
        let unit = self.code(Column::Unit, row.unit)?;
        let timestamp = self.timestamp(row.timestamp);
        let site = self.site(row);
        self.add_day(date);
        let c = &mut self.table.columns;
        c.site.push(site);
        c.timestamp.push(timestamp);
        c.parameter.push(parameter);
        c.unit.push(unit);
        c.value.push(row.value);
        c.raw_concentration.push(row.raw_concentration);
        c.aqi.push(row.aqi);
        c.category.push(row.category);
        Ok(())
    }

    /// Declares `date` held even if no row of it is pushed (a day folder with no rows is held,
    /// and empty, rather than missing).
    pub fn add_day(&mut self, date: DateKey) {
        if self.runs.last().is_none_or(|&(last, _)| last != date) {
            self.runs.push((date, self.table.columns.len()));
        }
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.table.columns.len()
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows [`TableBuilder::push`] dropped because they could not be stored.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The finished table, rows grouped by date ascending.
    pub fn finish(self) -> Table {
        let mut table = self.table;
        let total = table.columns.len();
        let mut runs: Vec<(DateKey, std::ops::Range<usize>)> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, &(date, start))| {
                let end = self.runs.get(i + 1).map_or(total, |&(_, next)| next);
                (date, start..end)
            })
            .collect();
        let ordered = runs.windows(2).all(|pair| pair[0].0 < pair[1].0);
        if !ordered {
            // Stable: rows of one date keep their push order.
            runs.sort_by_key(|(date, _)| *date);
            let order: Vec<usize> = runs.iter().flat_map(|(_, rows)| rows.clone()).collect();
            table.columns = table.columns.permuted(&order);
        }
        table.days = merge_runs(&runs);
        table.columns.shrink_to_fit();
        table.strings.shrink_to_fit();
        table.sites.shrink_to_fit();
        table
    }

    /// The one-byte code of a parameter or unit, adding it on first use.
    fn code(&mut self, column: Column, text: &str) -> Result<u8, PushError> {
        let known = match column {
            Column::Parameter => &self.table.parameters,
            Column::Unit => &self.table.units,
        };
        if let Some(code) = known.iter().position(|&id| self.table.text(id) == text) {
            // Fits: `known` never grows past MAX_CODES entries.
            return Ok(code as u8);
        }
        if known.len() >= MAX_CODES {
            return Err(PushError::TooManyCodes {
                column: column.name(),
                text: text.to_string(),
            });
        }
        let id = self.intern(text);
        let known = match column {
            Column::Parameter => &mut self.table.parameters,
            Column::Unit => &mut self.table.units,
        };
        known.push(id);
        Ok((known.len() - 1) as u8)
    }

    /// The string id of a timestamp, checking the previous row's first.
    fn timestamp(&mut self, text: &str) -> u32 {
        if let Some(id) = self.last_timestamp {
            if self.table.text(id) == text {
                return id;
            }
        }
        let id = self.intern(text);
        self.last_timestamp = Some(id);
        id
    }

    /// The site index of a row's site, adding the site on first sight.
    fn site(&mut self, row: &RowRef<'_>) -> u32 {
        site_key(row, &mut self.key);
        if let Some(&index) = self.site_ids.get(self.key.as_slice()) {
            return index;
        }
        let site = Site {
            latitude: row.latitude,
            longitude: row.longitude,
            name: self.intern(row.site_name),
            agency: self.intern(row.agency_name),
            aqs_id: self.intern(row.aqs_id),
            full_aqs_id: self.intern(row.full_aqs_id),
        };
        let index = self.table.sites.len() as u32;
        self.table.sites.push(site);
        self.site_ids.insert(self.key.as_slice().into(), index);
        index
    }

    /// The string id of `text`, allocating only on first sight.
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(text) {
            return id;
        }
        let id = self.table.strings.len() as u32;
        self.table.strings.push(text.into());
        self.string_ids.insert(text.into(), id);
        id
    }
}

/// The string columns stored as one-byte codes.
#[derive(Clone, Copy)]
enum Column {
    Parameter,
    Unit,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Parameter => "parameter",
            Column::Unit => "unit",
        }
    }
}

/// Writes the identity of a row's site into `key`: the coordinates' bits, then each name
/// length-prefixed (so no two different sites share a key).
fn site_key(row: &RowRef<'_>, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(&row.latitude.to_bits().to_le_bytes());
    key.extend_from_slice(&row.longitude.to_bits().to_le_bytes());
    for text in [row.site_name, row.agency_name, row.aqs_id, row.full_aqs_id] {
        key.extend_from_slice(&(text.len() as u64).to_le_bytes());
        key.extend_from_slice(text.as_bytes());
    }
}

/// Date-sorted runs (adjacent after sorting when a date was pushed in several runs) → one
/// [`Day`] per date. Runs of one date are contiguous after sorting and permuting.
fn merge_runs(runs: &[(DateKey, std::ops::Range<usize>)]) -> Vec<Day> {
    let mut days: Vec<Day> = Vec::new();
    let mut next_row = 0;
    for (date, rows) in runs {
        let rows = next_row..next_row + rows.len();
        next_row = rows.end;
        match days.last_mut() {
            Some(day) if day.date == *date => day.rows.end = rows.end,
            _ => days.push(Day { date: *date, rows }),
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parameter: &str, value: f64) -> RowRef<'_> {
        RowRef {
            latitude: 1.0,
            longitude: 2.0,
            timestamp: "t",
            parameter,
            value,
            unit: "U",
            raw_concentration: 0.0,
            aqi: 0,
            category: 0,
            site_name: "s",
            agency_name: "a",
            aqs_id: "i",
            full_aqs_id: "i",
            date: 0,
        }
    }

    fn day(n: u32) -> DateKey {
        DateKey::from_u32(n).unwrap()
    }

    #[test]
    fn out_of_order_dates_are_sorted_keeping_push_order_within_a_day() {
        let mut builder = TableBuilder::new();
        builder.push(day(20200815), &row("A", 1.0));
        builder.push(day(20200810), &row("A", 2.0));
        builder.add_day(day(20200901));
        builder.push(day(20200815), &row("A", 3.0));
        builder.push(day(20200810), &row("A", 4.0));
        let table = builder.finish();
        assert_eq!(
            table.dates(),
            vec![day(20200810), day(20200815), day(20200901)]
        );
        let values: Vec<f64> = (0..4).map(|i| table.row(i).unwrap().value).collect();
        assert_eq!(values, vec![2.0, 4.0, 1.0, 3.0]);
        assert_eq!(table.row(2).unwrap().date, 20200815);
        assert_eq!(table.rows_of(day(20200901)), 0);
        assert_eq!(table.sites(), 1);
        assert_eq!(table.strings.len(), 6); // A, U, t, s, a, and i once for both ids
    }

    #[test]
    fn a_257th_parameter_is_refused_without_panicking() {
        let mut builder = TableBuilder::new();
        let names: Vec<String> = (0..=MAX_CODES).map(|i| format!("P{i}")).collect();
        for name in &names[..MAX_CODES] {
            builder.try_push(day(20200810), &row(name, 0.0)).unwrap();
        }
        let err = builder
            .try_push(day(20200810), &row(&names[MAX_CODES], 0.0))
            .unwrap_err();
        assert!(err.to_string().contains("parameter"), "{err}");
        builder.push(day(20200810), &row(&names[MAX_CODES], 0.0));
        assert_eq!(builder.rejected(), 1);
        builder.push(day(20200810), &row("P3", 0.0));
        let table = builder.finish();
        assert_eq!(table.rows(), MAX_CODES + 1);
        assert_eq!(table.row(MAX_CODES).unwrap().parameter, "P3");
    }
}
