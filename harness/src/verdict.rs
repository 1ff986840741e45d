//! Verdicts on the aggregate answers of a run: each one is compared with the harness's own
//! scan of the dataset ([`crate::checker`]), independent of the node's code. A declared partial
//! answer is compared with the scan of the days it did not declare missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use overlay::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checker::{compare_aggregate, expected_aggregate};

/// What the checker made of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Equal to the direct scan.
    Correct,
    /// Declared partial, and equal to the scan of the days it did not declare missing.
    PartialDeclared,
    /// Not declared partial, but short of the scan: rows lost without saying so.
    PartialSilent,
    /// Anything else that differs.
    Wrong,
}

/// Counts of verdicts over a step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correctness {
    /// Answers checked.
    pub checked: u64,
    /// Equal to the direct scan.
    pub correct: u64,
    /// Declared partial and right about what they hold.
    pub partial_declared: u64,
    /// Short without saying so.
    pub partial_silent: u64,
    /// Different.
    pub wrong: u64,
    /// The first few differences, for the report.
    pub examples: Vec<String>,
}

/// Differences kept per step as examples.
const MAX_EXAMPLES: usize = 5;

impl Correctness {
    /// Counts one verdict; `detail` describes a bad one.
    pub fn add(&mut self, verdict: Verdict, detail: Option<String>) {
        self.checked += 1;
        match verdict {
            Verdict::Correct => self.correct += 1,
            Verdict::PartialDeclared => self.partial_declared += 1,
            Verdict::PartialSilent => self.partial_silent += 1,
            Verdict::Wrong => self.wrong += 1,
        }
        if let Some(detail) = detail.filter(|_| self.examples.len() < MAX_EXAMPLES) {
            self.examples.push(detail);
        }
    }

    /// Adds the counts of `other` (another step or repetition), keeping the first few
    /// examples of both.
    pub fn merge(&mut self, other: &Correctness) {
        self.checked += other.checked;
        self.correct += other.correct;
        self.partial_declared += other.partial_declared;
        self.partial_silent += other.partial_silent;
        self.wrong += other.wrong;
        let room = MAX_EXAMPLES.saturating_sub(self.examples.len());
        self.examples
            .extend(other.examples.iter().take(room).cloned());
    }

    /// Wrong or silently partial answers: a loud failure of the run.
    pub fn failures(&self) -> u64 {
        self.wrong + self.partial_silent
    }
}

/// A mix entry and the days an answer declared missing.
type PartialKey = (usize, Vec<String>);

/// Expected answers of the mix's aggregate queries.
#[derive(Debug)]
pub struct AnswerChecker {
    records: Vec<Record>,
    params: Vec<Option<Map<String, Value>>>,
    expected: Vec<Option<Vec<Value>>>,
    partial_expected: Mutex<HashMap<PartialKey, Arc<Vec<Value>>>>,
}

impl AnswerChecker {
    /// Scans `records` once per aggregate entry of the mix: `params` holds, in mix order, each
    /// entry's aggregate params (`None` for an entry that is not an aggregate).
    pub fn new(records: Vec<Record>, params: Vec<Option<Map<String, Value>>>) -> Self {
        let expected = params
            .iter()
            .map(|p| p.as_ref().map(|p| expected_aggregate(&records, p)))
            .collect();
        Self {
            records,
            params,
            expected,
            partial_expected: Mutex::new(HashMap::new()),
        }
    }

    /// Whether answers to mix entry `query` are checked.
    pub fn checks(&self, query: usize) -> bool {
        self.expected.get(query).is_some_and(Option::is_some)
    }

    /// The verdict on the rows of an answer to mix entry `query`, with a description when it
    /// is not right.
    pub fn verdict(
        &self,
        query: usize,
        rows: &[Value],
        partial: bool,
        missing_dates: &[String],
    ) -> (Verdict, Option<String>) {
        let Some(Some(expected)) = self.expected.get(query) else {
            return (Verdict::Correct, None);
        };
        if partial {
            let kept = self.expected_without(query, missing_dates);
            return match compare_aggregate(rows, &kept) {
                Ok(()) => (Verdict::PartialDeclared, None),
                Err(diff) => (
                    Verdict::Wrong,
                    Some(format!("declared partial, but {diff}")),
                ),
            };
        }
        match compare_aggregate(rows, expected) {
            Ok(()) => (Verdict::Correct, None),
            Err(diff) if short_of(rows, expected) => (
                Verdict::PartialSilent,
                Some(format!("not declared partial, but {diff}")),
            ),
            Err(diff) => (Verdict::Wrong, Some(diff)),
        }
    }

    /// The expected rows of mix entry `query` without the days in `missing`, scanned once
    /// per set of missing days (outside the cache's lock: lanes checking other answers do
    /// not wait for the scan).
    fn expected_without(&self, query: usize, missing: &[String]) -> Arc<Vec<Value>> {
        let mut missing = missing.to_vec();
        missing.sort();
        let key = (query, missing);
        if let Some(rows) = self.cache().get(&key) {
            return Arc::clone(rows);
        }
        let no_params = Map::new();
        let params = self
            .params
            .get(query)
            .and_then(Option::as_ref)
            .unwrap_or(&no_params);
        let kept = self.records.iter().filter(|r| !key.1.contains(&r.date));
        let rows = Arc::new(expected_aggregate(kept, params));
        // Another lane may have scanned the same days meanwhile: either result is the same.
        Arc::clone(self.cache().entry(key).or_insert(rows))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PartialKey, Arc<Vec<Value>>>> {
        self.partial_expected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// True when every group of `actual` is in `expected` with no more rows, and something is
/// missing: the shape of lost data rather than of a miscount.
fn short_of(actual: &[Value], expected: &[Value]) -> bool {
    let count = |row: &Value| row.get("count").and_then(Value::as_u64).unwrap_or(0);
    let expected_by_group: HashMap<String, u64> = expected
        .iter()
        .map(|row| (row["group"].to_string(), count(row)))
        .collect();
    let mut fewer = actual.len() < expected.len();
    for row in actual {
        match expected_by_group.get(&row["group"].to_string()) {
            Some(&n) if count(row) <= n => fewer |= count(row) < n,
            _ => return false,
        }
    }
    fewer
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(date: &str, parameter: &str) -> Record {
        Record {
            latitude: 0.0,
            longitude: 0.0,
            timestamp: format!("{date}T00:00"),
            parameter: parameter.to_string(),
            value: 1.0,
            unit: "UG/M3".to_string(),
            raw_concentration: 1.0,
            aqi: 1,
            category: 1,
            site_name: "site".to_string(),
            agency_name: "agency".to_string(),
            aqs_id: "1".to_string(),
            full_aqs_id: "1".to_string(),
            date: date.to_string(),
        }
    }

    fn checker() -> AnswerChecker {
        let records = vec![
            record("20200810", "PM2.5"),
            record("20200810", "OZONE"),
            record("20200811", "PM2.5"),
        ];
        let params = json!({"op": "count", "group_by": "parameter"})
            .as_object()
            .cloned();
        AnswerChecker::new(records, vec![params])
    }

    fn row(group: &str, count: u64) -> Value {
        json!({"group": group, "op": "count", "field": "value", "value": count, "count": count, "missing": 0})
    }

    #[test]
    fn answers_get_the_verdict_they_deserve() {
        let c = checker();
        assert!(c.checks(0));
        let full = [row("OZONE", 1), row("PM2.5", 2)];
        assert_eq!(c.verdict(0, &full, false, &[]).0, Verdict::Correct);
        let short = [row("OZONE", 1), row("PM2.5", 1)];
        assert_eq!(c.verdict(0, &short, false, &[]).0, Verdict::PartialSilent);
        let declared = c.verdict(0, &short, true, &["20200811".to_string()]);
        assert_eq!(declared.0, Verdict::PartialDeclared);
        let inflated = [row("OZONE", 1), row("PM2.5", 3)];
        assert_eq!(c.verdict(0, &inflated, false, &[]).0, Verdict::Wrong);
        let lying = c.verdict(0, &short, true, &["20200810".to_string()]);
        assert_eq!(lying.0, Verdict::Wrong);
        assert!(lying.1.unwrap().starts_with("declared partial, but"));
    }

    #[test]
    fn correctness_counts_and_keeps_a_few_examples() {
        let mut counts = Correctness::default();
        for _ in 0..8 {
            counts.add(Verdict::Wrong, Some("diff".to_string()));
        }
        counts.add(Verdict::Correct, None);
        counts.add(Verdict::PartialSilent, Some("short".to_string()));
        assert_eq!((counts.checked, counts.wrong, counts.correct), (10, 8, 1));
        assert_eq!(counts.failures(), 9);
        assert_eq!(counts.examples.len(), MAX_EXAMPLES);
    }

    #[test]
    fn merged_counts_add_up_and_keep_a_few_examples() {
        let mut a = Correctness::default();
        a.add(Verdict::Correct, None);
        a.add(Verdict::Wrong, Some("first".to_string()));
        let mut b = Correctness::default();
        b.add(Verdict::PartialDeclared, None);
        for _ in 0..6 {
            b.add(Verdict::PartialSilent, Some("short".to_string()));
        }
        a.merge(&b);
        assert_eq!(
            (
                a.checked,
                a.correct,
                a.partial_declared,
                a.partial_silent,
                a.wrong
            ),
            (9, 1, 1, 6, 1)
        );
        assert_eq!(a.examples.len(), MAX_EXAMPLES);
        assert_eq!(a.examples[0], "first");
    }
}
