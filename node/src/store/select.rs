//! A [`Filter`] compiled against one table: which days, which parameter code, which sites.
//!
//! Scan and aggregate share it, so both apply exactly the semantics of
//! [`Filter::accepts_date`], [`Filter::accepts_value`] and [`Filter::accepts_position`].

use overlay::date::DateKey;
use overlay::query::Filter;

use super::table::{Day, Table};
use crate::cancel::Cancel;

/// The row test of a filter over one table, with everything per-table precomputed.
pub(crate) struct Selection<'a> {
    /// The table.
    table: &'a Table,
    /// The filter, for its value bounds.
    filter: &'a Filter,
    /// Per parameter code: is it the filter's parameter. `None` when the filter names none.
    parameters: Option<[bool; 256]>,
    /// Per site index: does the site lie in the filter's box. Empty when there is no box.
    sites: Vec<bool>,
    /// Indexes into `table.days` of the days to visit, ascending.
    days: Vec<usize>,
    /// Raised when the caller has gone: no further day is visited.
    cancel: Option<Cancel>,
}

impl<'a> Selection<'a> {
    /// Compiles `filter` for `table`, restricted to the days in `dates` (days not held are
    /// ignored). `None` when no row can match: the parameter is not in the table, or no day is
    /// left.
    ///
    /// Parameters are stored as written and compared ignoring ASCII case, since the query
    /// parser upper-cases the filter's parameter.
    pub(crate) fn new(table: &'a Table, filter: &'a Filter, dates: &[DateKey]) -> Option<Self> {
        let parameters = match &filter.parameter {
            Some(wanted) => Some(parameter_mask(table, wanted)?),
            None => None,
        };
        let days: Vec<usize> = table
            .days
            .iter()
            .enumerate()
            .filter(|(_, day)| filter.accepts_date(day.date) && dates.contains(&day.date))
            .filter(|(_, day)| !day.rows.is_empty())
            .map(|(index, _)| index)
            .collect();
        if days.is_empty() {
            return None;
        }
        let has_box = filter.lat_min.is_some()
            || filter.lat_max.is_some()
            || filter.lon_min.is_some()
            || filter.lon_max.is_some();
        let sites = if has_box {
            table
                .sites
                .iter()
                .map(|site| filter.accepts_position(site.latitude, site.longitude))
                .collect()
        } else {
            Vec::new()
        };
        Some(Selection {
            table,
            filter,
            parameters,
            sites,
            days,
            cancel: None,
        })
    }

    /// Stops the visit of further days once `cancel` is raised (see [`Selection::days`]).
    pub(crate) fn until(mut self, cancel: Option<&Cancel>) -> Self {
        self.cancel = cancel.cloned();
        self
    }

    /// The days to visit, ascending: their index in `Table::days` and the day. With a
    /// [`Cancel`] (see [`Selection::until`]) the flag is checked before each day, and once it
    /// is raised no further day comes: the scan ends with what it has, which nobody reads.
    pub(crate) fn days(&self) -> impl Iterator<Item = (usize, &'a Day)> + '_ {
        let table = self.table;
        self.days
            .iter()
            .take_while(|_| !self.cancel.as_ref().is_some_and(Cancel::is_cancelled))
            .map(move |&index| (index, &table.days[index]))
    }

    /// True when row `index` (inside one of [`Selection::days`]) matches the filter.
    #[inline]
    pub(crate) fn matches(&self, index: usize) -> bool {
        let c = &self.table.columns;
        if let Some(wanted) = &self.parameters {
            if !wanted[usize::from(c.parameter[index])] {
                return false;
            }
        }
        if !self.sites.is_empty() && !self.sites[c.site[index] as usize] {
            return false;
        }
        self.filter.accepts_value(c.value[index])
    }
}

/// Which parameter codes equal `wanted` ignoring ASCII case; `None` when none does.
fn parameter_mask(table: &Table, wanted: &str) -> Option<[bool; 256]> {
    let mut mask = [false; 256];
    for (code, &id) in table.parameters.iter().enumerate() {
        if let Some(slot) = mask.get_mut(code) {
            *slot = table.text(id).eq_ignore_ascii_case(wanted);
        }
    }
    mask.contains(&true).then_some(mask)
}
