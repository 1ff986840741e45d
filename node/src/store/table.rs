//! The columnar table: one vector per field, strings interned once, sites kept in a side table.

use std::mem::size_of;
use std::ops::Range;

use overlay::batch::RowRef;
use overlay::date::DateKey;

/// One monitoring site: everything a row repeats about where it was measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Site {
    /// Latitude, degrees north.
    pub(crate) latitude: f64,
    /// Longitude, degrees east.
    pub(crate) longitude: f64,
    /// String id of the site name.
    pub(crate) name: u32,
    /// String id of the agency name.
    pub(crate) agency: u32,
    /// String id of the AQS id.
    pub(crate) aqs_id: u32,
    /// String id of the full AQS id (the key of `group_by = site`).
    pub(crate) full_aqs_id: u32,
}

/// The rows of one day folder: a contiguous range of the row columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Day {
    /// The folder's date.
    pub(crate) date: DateKey,
    /// Its rows, in (file, row) order.
    pub(crate) rows: Range<usize>,
}

/// The per-row columns. Every vector has one entry per row.
#[derive(Clone, Debug, Default)]
pub(crate) struct Columns {
    /// Index into [`Table::sites`].
    pub(crate) site: Vec<u32>,
    /// String id of the timestamp.
    pub(crate) timestamp: Vec<u32>,
    /// Index into [`Table::parameters`].
    pub(crate) parameter: Vec<u8>,
    /// Index into [`Table::units`].
    pub(crate) unit: Vec<u8>,
    /// Concentration (-999 when missing).
    pub(crate) value: Vec<f64>,
    /// Raw concentration.
    pub(crate) raw_concentration: Vec<f64>,
    /// Air quality index.
    pub(crate) aqi: Vec<i32>,
    /// AQI category.
    pub(crate) category: Vec<i32>,
}

impl Columns {
    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.site.len()
    }

    /// Heap bytes of all columns (capacity, not length: that is what is allocated).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.site.capacity() * size_of::<u32>()
            + self.timestamp.capacity() * size_of::<u32>()
            + self.parameter.capacity()
            + self.unit.capacity()
            + self.value.capacity() * size_of::<f64>()
            + self.raw_concentration.capacity() * size_of::<f64>()
            + self.aqi.capacity() * size_of::<i32>()
            + self.category.capacity() * size_of::<i32>()
    }

    /// Releases spare capacity left by growth during loading.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.site.shrink_to_fit();
        self.timestamp.shrink_to_fit();
        self.parameter.shrink_to_fit();
        self.unit.shrink_to_fit();
        self.value.shrink_to_fit();
        self.raw_concentration.shrink_to_fit();
        self.aqi.shrink_to_fit();
        self.category.shrink_to_fit();
    }

    /// The columns reordered so that new row `i` is old row `order[i]`.
    pub(crate) fn permuted(&self, order: &[usize]) -> Columns {
        fn pick<T: Copy>(column: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&index| column[index]).collect()
        }
        Columns {
            site: pick(&self.site, order),
            timestamp: pick(&self.timestamp, order),
            parameter: pick(&self.parameter, order),
            unit: pick(&self.unit, order),
            value: pick(&self.value, order),
            raw_concentration: pick(&self.raw_concentration, order),
            aqi: pick(&self.aqi, order),
            category: pick(&self.category, order),
        }
    }
}

/// The rows a node holds, columnar and immutable after loading.
///
/// A row costs 34 bytes (site and timestamp ids, parameter and unit codes, two `f64`, two
/// `i32`); what rows repeat — site coordinates and names, timestamps, parameter and unit
/// names — lives once in the site table and the string pool. Rows are grouped by day folder in
/// ascending date order, each day in (file, row) order. Build one with
/// [`TableBuilder`](super::TableBuilder) or [`Table::load`].
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Every distinct string, indexed by string id.
    pub(crate) strings: Vec<Box<str>>,
    /// Distinct sites, indexed by site index.
    pub(crate) sites: Vec<Site>,
    /// String id of each parameter code.
    pub(crate) parameters: Vec<u32>,
    /// String id of each unit code.
    pub(crate) units: Vec<u32>,
    /// Days held, ascending, with their row ranges.
    pub(crate) days: Vec<Day>,
    /// The rows.
    pub(crate) columns: Columns,
}

impl Table {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.columns.len()
    }

    /// The days held, ascending (including days whose folder was present but held no rows).
    pub fn dates(&self) -> Vec<DateKey> {
        self.days.iter().map(|day| day.date).collect()
    }

    /// Rows held for one day (0 when the day is not held).
    pub fn rows_of(&self, date: DateKey) -> usize {
        self.day_index(date).map_or(0, |i| self.days[i].rows.len())
    }

    /// Distinct sites held.
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    /// Approximate heap bytes held (all columns + dictionaries), for metrics and the memory
    /// target.
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .strings
            .iter()
            .map(|text| text.len() + size_of::<Box<str>>())
            .sum();
        self.columns.heap_bytes()
            + strings
            + (self.strings.capacity() - self.strings.len()) * size_of::<Box<str>>()
            + self.sites.capacity() * size_of::<Site>()
            + (self.parameters.capacity() + self.units.capacity()) * size_of::<u32>()
            + self.days.capacity() * size_of::<Day>()
    }

    /// Row `index` (in table order: day, file, row), or `None` past the end.
    pub fn row(&self, index: usize) -> Option<RowRef<'_>> {
        let day = self.days.iter().find(|day| day.rows.contains(&index))?;
        let c = &self.columns;
        let site = self.sites.get(*c.site.get(index)? as usize)?;
        Some(RowRef {
            latitude: site.latitude,
            longitude: site.longitude,
            timestamp: self.text(c.timestamp[index]),
            parameter: self.text(*self.parameters.get(usize::from(c.parameter[index]))?),
            value: c.value[index],
            unit: self.text(*self.units.get(usize::from(c.unit[index]))?),
            raw_concentration: c.raw_concentration[index],
            aqi: c.aqi[index],
            category: c.category[index],
            site_name: self.text(site.name),
            agency_name: self.text(site.agency),
            aqs_id: self.text(site.aqs_id),
            full_aqs_id: self.text(site.full_aqs_id),
            date: day.date.as_u32(),
        })
    }

    /// The string with id `id` (empty for an id the table never handed out).
    pub(crate) fn text(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |text| text)
    }

    /// Position of `date` in [`Table::days`].
    pub(crate) fn day_index(&self, date: DateKey) -> Option<usize> {
        self.days.binary_search_by_key(&date, |day| day.date).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::TableBuilder;
    use super::*;

    fn row(site: &str, value: f64) -> RowRef<'_> {
        RowRef {
            latitude: 40.5,
            longitude: -120.25,
            timestamp: "2020-08-10T01:00",
            parameter: "PM2.5",
            value,
            unit: "UG/M3",
            raw_concentration: value + 1.0,
            aqi: 40,
            category: 1,
            site_name: site,
            agency_name: "Agency",
            aqs_id: "0601",
            full_aqs_id: "8400601",
            date: 0,
        }
    }

    #[test]
    fn rows_read_back_with_the_day_of_their_folder() {
        let day = DateKey::from_u32(20200810).unwrap();
        let mut builder = TableBuilder::new();
        builder.push(day, &row("Rangely, CO", 17.5));
        builder.push(day, &row("Other", -999.0));
        let table = builder.finish();
        assert_eq!(table.rows(), 2);
        assert_eq!(table.sites(), 2);
        assert_eq!(table.dates(), vec![day]);
        assert_eq!(table.rows_of(day), 2);
        let back = table.row(0).unwrap();
        assert_eq!(
            back,
            RowRef {
                date: 20200810,
                ..row("Rangely, CO", 17.5)
            }
        );
        assert_eq!(table.row(1).unwrap().value, -999.0);
        assert!(table.row(2).is_none());
    }

    #[test]
    fn tables_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Table>();
    }

    #[test]
    fn heap_bytes_counts_columns_and_dictionaries() {
        let day = DateKey::from_u32(20200810).unwrap();
        let mut builder = TableBuilder::new();
        for i in 0..1000 {
            builder.push(day, &row("Site", f64::from(i)));
        }
        let table = builder.finish();
        let bytes = table.heap_bytes();
        assert!(bytes >= 34 * 1000, "{bytes}");
        assert!(bytes < 34 * 1000 + 2000, "{bytes}");
    }
}
