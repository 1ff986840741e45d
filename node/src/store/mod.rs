//! The node's data store: its slice of the dataset, loaded into one columnar in-memory table,
//! and the two reads queries make of it.
//!
//! - `table`: the columnar [`Table`] (34 bytes a row; sites and strings held once).
//! - `builder`: [`TableBuilder`], interning strings and sites while rows are pushed.
//! - `parse` / `plausible` / `loader`: CSV rows → checked table rows; [`Table::load`] and its
//!   [`LoadReport`] (skipped rows counted by [`SkipReason`]).
//! - `select`: a query filter compiled against the table (days, parameter code, site box).
//! - `scan`: [`Table::scan`], matching rows paged into a record batch ([`ScanOutcome`]).
//! - `aggregate`: [`Table::aggregate`], an aggregate partial over matching rows.
//!
//! Filter semantics are those of [`overlay::query::Filter`]: every bound inclusive, rows with
//! the -999 sentinel ordinary rows for filtering. Parameters are stored as written in the
//! files and matched ignoring ASCII case (the query parser upper-cases the filter's).

mod aggregate;
mod builder;
mod loader;
mod parse;
mod plausible;
mod scan;
mod select;
mod table;

#[cfg(test)]
mod fixture;

pub use builder::{PushError, TableBuilder};
pub use loader::{LoadReport, SkippedRows, StoreError, MAX_WARNINGS};
pub use parse::SkipReason;
pub use scan::{EncodedScan, ScanOutcome};
pub use table::Table;
