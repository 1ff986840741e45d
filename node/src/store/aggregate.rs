//! Aggregate partials over the table: totals per group, grouped by code, keyed by name at the end.

use overlay::aggregate::{AggregatePartial, GroupTotals, ALL_GROUP};
use overlay::date::DateKey;
use overlay::query::{AggregateSpec, Filter, GroupBy};
use overlay::record::NumericField;

use super::select::Selection;
use super::table::Table;
use crate::cancel::Cancel;

impl Table {
    /// Aggregate partial of the matching rows of the given days. Group keys: parameter name
    /// (as stored), date `YYYYMMDD`, or the site's full AQS id; ungrouped → the single group
    /// `all`. Only groups with at least one matching row appear, so a partial over no rows is
    /// empty.
    pub fn aggregate(
        &self,
        filter: &Filter,
        spec: &AggregateSpec,
        dates: &[DateKey],
    ) -> AggregatePartial {
        self.aggregate_until(filter, spec, dates, None)
    }

    /// [`Table::aggregate`] that stops between days once `cancel` is raised (its partial is
    /// then incomplete: the caller, who has gone, must not use it).
    pub fn aggregate_until(
        &self,
        filter: &Filter,
        spec: &AggregateSpec,
        dates: &[DateKey],
        cancel: Option<&Cancel>,
    ) -> AggregatePartial {
        let mut partial = AggregatePartial::default();
        let Some(selection) = Selection::new(self, filter, dates).map(|s| s.until(cancel)) else {
            return partial;
        };
        let field = FieldReader {
            table: self,
            field: spec.field,
        };
        let c = &self.columns;
        let keyed: Vec<(String, GroupTotals)> = match spec.group_by {
            None => {
                let totals = accumulate(&selection, &field, 1, |_, _| 0);
                named(totals, |_| ALL_GROUP.to_string())
            }
            Some(GroupBy::Parameter) => {
                let totals = accumulate(&selection, &field, self.parameters.len(), |_, row| {
                    usize::from(c.parameter[row])
                });
                named(totals, |code| self.text(self.parameters[code]).to_string())
            }
            Some(GroupBy::Date) => {
                let totals = accumulate(&selection, &field, self.days.len(), |day, _| day);
                named(totals, |day| self.days[day].date.to_string())
            }
            Some(GroupBy::Site) => {
                let totals = accumulate(&selection, &field, self.sites.len(), |_, row| {
                    c.site[row] as usize
                });
                named(totals, |site| {
                    self.text(self.sites[site].full_aqs_id).to_string()
                })
            }
        };
        for (key, totals) in keyed {
            // Two sites may share a full AQS id (or two parameters a name): merge, not replace.
            partial.groups.entry(key).or_default().merge(&totals);
        }
        partial
    }
}

/// Reads the aggregated field of a row as `f64` (the AQI's -999 stays the missing sentinel).
struct FieldReader<'a> {
    table: &'a Table,
    field: NumericField,
}

impl FieldReader<'_> {
    #[inline]
    fn read(&self, row: usize) -> f64 {
        let c = &self.table.columns;
        match self.field {
            NumericField::Value => c.value[row],
            NumericField::RawConcentration => c.raw_concentration[row],
            NumericField::Aqi => f64::from(c.aqi[row]),
        }
    }
}

/// Totals per group code over the selection's matching rows. `group_of(day, row)` gives the
/// code of a row (`day` indexes `Table::days`) and must be below `groups`.
fn accumulate(
    selection: &Selection<'_>,
    field: &FieldReader<'_>,
    groups: usize,
    group_of: impl Fn(usize, usize) -> usize,
) -> Vec<GroupTotals> {
    let mut totals = vec![GroupTotals::default(); groups];
    for (day_index, day) in selection.days() {
        for row in day.rows.clone() {
            if selection.matches(row) {
                if let Some(group) = totals.get_mut(group_of(day_index, row)) {
                    group.add(field.read(row));
                }
            }
        }
    }
    totals
}

/// The groups that saw at least one row, with their names.
fn named(totals: Vec<GroupTotals>, name: impl Fn(usize) -> String) -> Vec<(String, GroupTotals)> {
    totals
        .into_iter()
        .enumerate()
        .filter(|(_, totals)| totals.count + totals.missing > 0)
        .map(|(code, totals)| (name(code), totals))
        .collect()
}

#[cfg(test)]
mod tests {
    use overlay::query::AggregateOp;
    use overlay::record::Record;

    use super::super::fixture::{days, fixture, naive_matches};
    use super::*;

    fn naive(
        records: &[Record],
        filter: &Filter,
        spec: &AggregateSpec,
        dates: &[DateKey],
    ) -> AggregatePartial {
        let mut partial = AggregatePartial::default();
        for record in records.iter().filter(|r| naive_matches(filter, dates, r)) {
            let key = match spec.group_by {
                None => ALL_GROUP.to_string(),
                Some(GroupBy::Parameter) => record.parameter.clone(),
                Some(GroupBy::Date) => record.date.clone(),
                Some(GroupBy::Site) => record.full_aqs_id.clone(),
            };
            let value = match spec.field {
                NumericField::Value => record.value,
                NumericField::RawConcentration => record.raw_concentration,
                NumericField::Aqi => f64::from(record.aqi),
            };
            partial.groups.entry(key).or_default().add(value);
        }
        partial
    }

    fn specs() -> Vec<AggregateSpec> {
        let mut specs = Vec::new();
        for op in AggregateOp::ALL {
            for field in [
                NumericField::Value,
                NumericField::Aqi,
                NumericField::RawConcentration,
            ] {
                for group_by in [
                    None,
                    Some(GroupBy::Parameter),
                    Some(GroupBy::Date),
                    Some(GroupBy::Site),
                ] {
                    specs.push(AggregateSpec {
                        op,
                        field,
                        group_by,
                    });
                }
            }
        }
        specs
    }

    #[test]
    fn every_spec_equals_the_naive_computation() {
        let (table, records) = fixture();
        let all = days();
        let filters = [
            Filter::default(),
            Filter {
                parameter: Some("PM2.5".into()),
                min_value: Some(10.0),
                max_value: Some(50.0),
                ..Filter::default()
            },
            Filter {
                lat_min: Some(38.0),
                date_end: DateKey::from_u32(20200814),
                ..Filter::default()
            },
        ];
        for filter in &filters {
            for spec in specs() {
                for dates in [all.clone(), all[1..].to_vec()] {
                    let got = table.aggregate(filter, &spec, &dates);
                    assert_eq!(got, naive(&records, filter, &spec, &dates), "{spec:?}");
                    assert!(!got.groups.is_empty());
                }
            }
        }
    }

    #[test]
    fn missing_values_are_counted_apart_and_sites_merge_by_full_id() {
        let (table, records) = fixture();
        let spec = AggregateSpec {
            op: AggregateOp::Avg,
            field: NumericField::Value,
            group_by: Some(GroupBy::Site),
        };
        let partial = table.aggregate(&Filter::default(), &spec, &days());
        assert_eq!(partial.groups.len(), 5); // six sites, two sharing a full AQS id
        let twins = partial.groups["840000000005"];
        let twin_rows = records
            .iter()
            .filter(|r| r.full_aqs_id == "840000000005")
            .count() as u64;
        assert_eq!(twins.count + twins.missing, twin_rows);
        let total: u64 = partial.groups.values().map(|g| g.missing).sum();
        let sentinels = records.iter().filter(|r| r.value == -999.0).count() as u64;
        assert!(sentinels > 0);
        assert_eq!(total, sentinels);
    }

    #[test]
    fn no_matching_row_gives_an_empty_partial() {
        let (table, _) = fixture();
        let nothing = Filter {
            min_value: Some(1.0e9),
            ..Filter::default()
        };
        let unknown = Filter {
            parameter: Some("SO2".into()),
            ..Filter::default()
        };
        for spec in specs() {
            assert!(table.aggregate(&nothing, &spec, &days()).groups.is_empty());
            assert!(table.aggregate(&unknown, &spec, &days()).groups.is_empty());
            assert!(table
                .aggregate(&Filter::default(), &spec, &[])
                .groups
                .is_empty());
        }
    }
}
