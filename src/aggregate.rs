//! Aggregate partials: what a slice computes where its data lives, how partials merge up the
//! tree, and the answer rows they become.
//!
//! Merging is associative and the coordinator merges slices in partition order, so an answer is
//! bit-for-bit the same whichever holder served each slice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::proto;
use crate::query::{AggregateOp, AggregateSpec};
use crate::record::is_missing;

/// The group name of an ungrouped aggregate.
pub const ALL_GROUP: &str = "all";

/// Running totals of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupTotals {
    /// Rows with a present field value.
    pub count: u64,
    /// Sum of present values.
    pub sum: f64,
    /// Smallest present value, if any.
    pub min: Option<f64>,
    /// Largest present value, if any.
    pub max: Option<f64>,
    /// Matching rows whose field holds the missing-value sentinel.
    pub missing: u64,
}

impl GroupTotals {
    /// Adds one row's field value (the sentinel counts as missing).
    pub fn add(&mut self, value: f64) {
        if is_missing(value) {
            self.missing += 1;
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = Some(self.min.map_or(value, |min| min.min(value)));
        self.max = Some(self.max.map_or(value, |max| max.max(value)));
    }

    /// Folds another group's totals into this one.
    pub fn merge(&mut self, other: &GroupTotals) {
        self.count += other.count;
        self.sum += other.sum;
        self.missing += other.missing;
        self.min = pick(self.min, other.min, f64::min);
        self.max = pick(self.max, other.max, f64::max);
    }

    /// The op's value over this group: `None` (JSON null) for min/max/avg of no rows.
    pub fn value(&self, op: AggregateOp) -> Option<Value> {
        match op {
            AggregateOp::Count => Some(Value::from(self.count)),
            AggregateOp::Sum => Some(Value::from(self.sum)),
            AggregateOp::Min => self.min.map(Value::from),
            AggregateOp::Max => self.max.map(Value::from),
            AggregateOp::Avg => (self.count > 0).then(|| Value::from(self.sum / self.count as f64)),
        }
    }
}

fn pick(a: Option<f64>, b: Option<f64>, choose: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(choose(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Totals per group, as computed over one slice or merged over many.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregatePartial {
    /// Groups by key, sorted.
    pub groups: BTreeMap<String, GroupTotals>,
}

impl AggregatePartial {
    /// Folds another partial into this one.
    pub fn merge(&mut self, other: &AggregatePartial) {
        for (group, totals) in &other.groups {
            self.groups.entry(group.clone()).or_default().merge(totals);
        }
    }

    /// The answer rows. An ungrouped aggregate always has its `all` row, even over no rows.
    /// `missing_dates` non-empty marks every row partial.
    pub fn rows(&self, spec: &AggregateSpec, missing_dates: &[String]) -> Vec<AggregateRow> {
        let mut groups: Vec<(&str, GroupTotals)> = self
            .groups
            .iter()
            .map(|(key, totals)| (key.as_str(), *totals))
            .collect();
        if spec.group_by.is_none() && groups.is_empty() {
            groups.push((ALL_GROUP, GroupTotals::default()));
        }
        let partial = !missing_dates.is_empty();
        groups
            .into_iter()
            .map(|(group, totals)| AggregateRow {
                group: group.to_string(),
                op: spec.op.name().to_string(),
                field: spec.field.name().to_string(),
                value: totals.value(spec.op).unwrap_or(Value::Null),
                count: totals.count,
                missing: totals.missing,
                partial: partial.then_some(true),
                missing_dates: partial.then(|| missing_dates.to_vec()),
            })
            .collect()
    }
}

/// One row of an aggregate answer, as it travels in JSON chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateRow {
    /// The group key, or `all`.
    pub group: String,
    /// The op's name.
    pub op: String,
    /// The field's name.
    pub field: String,
    /// The result: an integer for count, a number otherwise, null when undefined.
    pub value: Value,
    /// Rows aggregated (present field values).
    pub count: u64,
    /// Matching rows skipped because the field was missing.
    pub missing: u64,
    /// Present and true when some data could not be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<bool>,
    /// The dates that could not be reached, when partial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_dates: Option<Vec<String>>,
}

impl From<&AggregatePartial> for proto::AggregatePartial {
    fn from(partial: &AggregatePartial) -> Self {
        proto::AggregatePartial {
            groups: partial
                .groups
                .iter()
                .map(|(key, totals)| proto::GroupTotals {
                    key: key.clone(),
                    count: totals.count,
                    sum: totals.sum,
                    min: totals.min,
                    max: totals.max,
                    missing: totals.missing,
                })
                .collect(),
        }
    }
}

impl From<proto::AggregatePartial> for AggregatePartial {
    /// A group sent twice is merged, so nothing a peer sends is silently dropped.
    fn from(wire: proto::AggregatePartial) -> Self {
        let mut partial = AggregatePartial::default();
        for group in wire.groups {
            let totals = GroupTotals {
                count: group.count,
                sum: group.sum,
                min: group.min,
                max: group.max,
                missing: group.missing,
            };
            partial.groups.entry(group.key).or_default().merge(&totals);
        }
        partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NumericField;

    fn partial(values: &[(&str, f64)]) -> AggregatePartial {
        let mut partial = AggregatePartial::default();
        for (group, value) in values {
            partial
                .groups
                .entry(group.to_string())
                .or_default()
                .add(*value);
        }
        partial
    }

    #[test]
    fn partials_survive_the_wire_exactly() {
        let sent = partial(&[("a", 0.1), ("a", 0.2), ("b", -999.0), ("c", 1e300)]);
        let wire = proto::AggregatePartial::from(&sent);
        assert_eq!(AggregatePartial::from(wire), sent);
        assert_eq!(
            AggregatePartial::from(proto::AggregatePartial::default()),
            AggregatePartial::default()
        );
    }

    #[test]
    fn merge_equals_computing_over_the_union() {
        let mut left = partial(&[("a", 1.0), ("b", 5.0), ("a", -999.0)]);
        let right = partial(&[("a", 3.0), ("c", 2.0)]);
        left.merge(&right);
        assert_eq!(
            left,
            partial(&[
                ("a", 1.0),
                ("b", 5.0),
                ("a", -999.0),
                ("a", 3.0),
                ("c", 2.0)
            ])
        );
        let a = left.groups["a"];
        assert_eq!(
            (a.count, a.sum, a.min, a.max, a.missing),
            (2, 4.0, Some(1.0), Some(3.0), 1)
        );
    }

    #[test]
    fn rows_render_each_op_and_mark_partial_answers() {
        let data = partial(&[("x", 2.0), ("x", 4.0), ("y", -999.0)]);
        let spec = |op| AggregateSpec {
            op,
            field: NumericField::Value,
            group_by: Some(crate::query::GroupBy::Site),
        };
        let rows = data.rows(&spec(AggregateOp::Avg), &[]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].value, Value::from(3.0));
        assert_eq!(rows[1].value, Value::Null);
        assert_eq!(rows[1].missing, 1);
        let counted = data.rows(&spec(AggregateOp::Count), &["20200810".to_string()]);
        let json = serde_json::to_string(&counted[0]).unwrap();
        assert_eq!(
            json,
            r#"{"group":"x","op":"count","field":"value","value":2,"count":2,"missing":0,"partial":true,"missing_dates":["20200810"]}"#
        );
    }

    #[test]
    fn ungrouped_aggregate_of_nothing_still_answers() {
        let spec = AggregateSpec {
            op: AggregateOp::Sum,
            field: NumericField::Aqi,
            group_by: None,
        };
        let rows = AggregatePartial::default().rows(&spec, &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].group.as_str(), rows[0].count), ("all", 0));
    }
}
