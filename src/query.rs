//! The typed query model, parsed from the original JSON `query_params`.
//!
//! Parsing is the only place where a query can be invalid; everything downstream works on a
//! [`Query`]. The error messages become the wire status `invalid_query:<reason>`, so they name
//! the offending key and say what is allowed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::DateKey;
use crate::record::NumericField;

/// Records a filter query returns when it names no limit, and the most it may return.
pub const LIMIT_CAP: u32 = 2000;

/// Longest `query_params` text a node accepts, in bytes: the largest valid query is a few
/// hundred bytes, so this leaves room for whitespace without letting a client make every node
/// parse (and the coordinator forward) megabytes.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// Longest `query_type` a node accepts, in bytes (the known ones are `filter` and `aggregate`).
pub const MAX_QUERY_TYPE_BYTES: usize = 32;

/// Longest `client_id` a node accepts, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 256;

/// Longest `team` name a node accepts, in bytes (it must also be a team of the config).
pub const MAX_TEAM_BYTES: usize = 64;

/// Most characters of client-supplied text quoted back in an error.
const QUOTE_CHARS: usize = 40;

/// Keys every query type accepts.
const FILTER_KEYS: [&str; 10] = [
    "parameter",
    "min_value",
    "max_value",
    "date_start",
    "date_end",
    "lat_min",
    "lat_max",
    "lon_min",
    "lon_max",
    "team",
];

/// Which rows a query looks at. Every bound is inclusive; an absent bound does not filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Pollutant name, upper-cased (`PM2.5`).
    pub parameter: Option<String>,
    /// Smallest `value`.
    pub min_value: Option<f64>,
    /// Largest `value`.
    pub max_value: Option<f64>,
    /// First date folder.
    pub date_start: Option<DateKey>,
    /// Last date folder.
    pub date_end: Option<DateKey>,
    /// Southern edge of the box.
    pub lat_min: Option<f64>,
    /// Northern edge of the box.
    pub lat_max: Option<f64>,
    /// Western edge of the box.
    pub lon_min: Option<f64>,
    /// Eastern edge of the box.
    pub lon_max: Option<f64>,
}

impl Filter {
    /// True when a day folder can hold matching rows.
    pub fn accepts_date(&self, date: DateKey) -> bool {
        self.date_start.is_none_or(|start| date >= start)
            && self.date_end.is_none_or(|end| date <= end)
    }

    /// True when a value passes the value bounds.
    pub fn accepts_value(&self, value: f64) -> bool {
        self.min_value.is_none_or(|min| value >= min)
            && self.max_value.is_none_or(|max| value <= max)
    }

    /// True when a site position lies in the box.
    pub fn accepts_position(&self, latitude: f64, longitude: f64) -> bool {
        self.lat_min.is_none_or(|min| latitude >= min)
            && self.lat_max.is_none_or(|max| latitude <= max)
            && self.lon_min.is_none_or(|min| longitude >= min)
            && self.lon_max.is_none_or(|max| longitude <= max)
    }
}

/// The aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateOp {
    /// Rows with a present field value.
    Count,
    /// Sum of present values.
    Sum,
    /// Smallest present value.
    Min,
    /// Largest present value.
    Max,
    /// Mean of present values.
    Avg,
}

impl AggregateOp {
    /// Every op, in documentation order.
    pub const ALL: [AggregateOp; 5] = [
        AggregateOp::Count,
        AggregateOp::Sum,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Avg,
    ];

    /// The name used in query params and answers.
    pub fn name(self) -> &'static str {
        match self {
            AggregateOp::Count => "count",
            AggregateOp::Sum => "sum",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Avg => "avg",
        }
    }
}

/// What aggregate rows are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One group per pollutant.
    Parameter,
    /// One group per date folder.
    Date,
    /// One group per site (its full AQS id).
    Site,
}

impl GroupBy {
    /// Every grouping, in documentation order.
    pub const ALL: [GroupBy; 3] = [GroupBy::Parameter, GroupBy::Date, GroupBy::Site];

    /// The name used in query params.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Parameter => "parameter",
            GroupBy::Date => "date",
            GroupBy::Site => "site",
        }
    }
}

/// An aggregate: op over a field, optionally per group.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateSpec {
    /// The function.
    pub op: AggregateOp,
    /// The field it reads.
    pub field: NumericField,
    /// The grouping; `None` gives one group named `all`.
    pub group_by: Option<GroupBy>,
}

/// What a query asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Matching records, at most `limit` of them.
    Filter {
        /// Most records to return (1 to [`LIMIT_CAP`]).
        limit: u32,
    },
    /// One aggregate row per group.
    Aggregate(AggregateSpec),
}

/// A parsed, valid query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Which rows.
    pub filter: Filter,
    /// Records or an aggregate.
    pub kind: QueryKind,
    /// The team the query is admitted under, if the client named one.
    pub team: Option<String>,
}

/// Why a query is invalid. The text follows `invalid_query:` in the wire status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// `query_params` is not JSON.
    #[error("query_params is not valid JSON ({0})")]
    MalformedJson(String),
    /// A key appears twice in `query_params` (JSON leaves the meaning open; we refuse it).
    #[error("duplicate key '{0}' in query_params")]
    DuplicateKey(String),
    /// A client-supplied field is longer than its documented cap.
    #[error("{field} is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// The field (`query_params`, `query_type`, `client_id`, `team`).
        field: &'static str,
        /// Its length.
        len: usize,
        /// Its cap.
        max: usize,
    },
    /// `query_params` is JSON but not an object.
    #[error("query_params must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// The query type is not one of the known ones.
    #[error("unknown query_type '{0}' (expected filter or aggregate)")]
    UnknownType(String),
    /// A key this query type does not take.
    #[error("unknown parameter '{key}' for a {query_type} query (allowed: {allowed})")]
    UnknownKey {
        /// The offending key.
        key: String,
        /// The query type.
        query_type: &'static str,
        /// The keys it takes.
        allowed: String,
    },
    /// A key with a value of the wrong type or out of range.
    #[error("{key} {problem}")]
    BadValue {
        /// The offending key.
        key: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// A lower bound above its upper bound.
    #[error("{low_key} ({low}) is greater than {high_key} ({high})")]
    InvertedRange {
        /// The lower bound's key.
        low_key: &'static str,
        /// Its value.
        low: String,
        /// The upper bound's key.
        high_key: &'static str,
        /// Its value.
        high: String,
    },
}

impl Query {
    /// Parses the original wire form: a query type and a JSON object of params.
    /// An empty params string means no params.
    pub fn parse(query_type: &str, params_json: &str) -> Result<Query, QueryError> {
        check_len("query_type", query_type, MAX_QUERY_TYPE_BYTES)?;
        check_len("query_params", params_json, MAX_PARAMS_BYTES)?;
        let params = parse_object(params_json)?;
        match query_type {
            "filter" => parse_filter_query(&params),
            "aggregate" => parse_aggregate_query(&params),
            other => Err(QueryError::UnknownType(quote(other))),
        }
    }

    /// The limit of a filter query; `None` for aggregates.
    pub fn limit(&self) -> Option<u32> {
        match self.kind {
            QueryKind::Filter { limit } => Some(limit),
            QueryKind::Aggregate(_) => None,
        }
    }

    /// The query's type name on the wire.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            QueryKind::Filter { .. } => "filter",
            QueryKind::Aggregate(_) => "aggregate",
        }
    }
}

/// Refuses `text` when it is longer than `max` bytes.
pub fn check_len(field: &'static str, text: &str, max: usize) -> Result<(), QueryError> {
    if text.len() > max {
        return Err(QueryError::TooLong {
            field,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

/// Client-supplied text as quoted in an error: whole when short, else its first characters
/// and its length, so an error never echoes a huge value back.
pub fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(QUOTE_CHARS).collect();
    format!("{head}… ({} bytes)", text.len())
}

/// A JSON value whose top-level object keys are checked for duplicates while parsing
/// (`serde_json` keeps the last value silently).
struct CheckedTop {
    value: Value,
    duplicate: Option<String>,
}

impl<'de> serde::Deserialize<'de> for CheckedTop {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = CheckedTop;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<CheckedTop, A::Error> {
                let mut map = Map::new();
                let mut duplicate = None;
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&key) && duplicate.is_none() {
                        duplicate = Some(key.clone());
                    }
                    map.insert(key, value);
                }
                Ok(CheckedTop {
                    value: Value::Object(map),
                    duplicate,
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<CheckedTop, A::Error> {
                while access.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(plain(Value::Array(Vec::new())))
            }
            fn visit_str<E>(self, _: &str) -> Result<CheckedTop, E> {
                Ok(plain(Value::String(String::new())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<CheckedTop, E> {
                Ok(plain(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<CheckedTop, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<CheckedTop, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<CheckedTop, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<CheckedTop, E> {
                Ok(plain(Value::Null))
            }
        }
        fn plain(value: Value) -> CheckedTop {
            CheckedTop {
                value,
                duplicate: None,
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

fn parse_object(params_json: &str) -> Result<Map<String, Value>, QueryError> {
    if params_json.trim().is_empty() {
        return Ok(Map::new());
    }
    let checked: CheckedTop = serde_json::from_str(params_json)
        .map_err(|err| QueryError::MalformedJson(err.to_string()))?;
    if let Some(key) = checked.duplicate {
        return Err(QueryError::DuplicateKey(quote(&key)));
    }
    match checked.value {
        Value::Object(map) => Ok(map),
        Value::Array(_) => Err(QueryError::NotAnObject("an array")),
        Value::String(_) => Err(QueryError::NotAnObject("a string")),
        Value::Number(_) => Err(QueryError::NotAnObject("a number")),
        Value::Bool(_) => Err(QueryError::NotAnObject("a boolean")),
        Value::Null => Err(QueryError::NotAnObject("null")),
    }
}

fn check_keys(
    params: &Map<String, Value>,
    query_type: &'static str,
    extra: &[&str],
) -> Result<(), QueryError> {
    let allowed = || FILTER_KEYS.iter().chain(extra).copied();
    match params
        .keys()
        .find(|key| !allowed().any(|a| a == key.as_str()))
    {
        Some(key) => Err(QueryError::UnknownKey {
            key: quote(key),
            query_type,
            allowed: allowed().collect::<Vec<_>>().join(", "),
        }),
        None => Ok(()),
    }
}

fn parse_filter_query(params: &Map<String, Value>) -> Result<Query, QueryError> {
    check_keys(params, "filter", &["limit"])?;
    let limit = match params.get("limit") {
        None | Some(Value::Null) => LIMIT_CAP,
        Some(value) => parse_limit(value)?,
    };
    Ok(Query {
        filter: parse_filter(params)?,
        kind: QueryKind::Filter { limit },
        team: parse_team(params)?,
    })
}

fn parse_aggregate_query(params: &Map<String, Value>) -> Result<Query, QueryError> {
    check_keys(params, "aggregate", &["op", "field", "group_by"])?;
    let op_names = || AggregateOp::ALL.map(AggregateOp::name).join(", ");
    let op = match optional_str(params, "op")? {
        Some(name) => AggregateOp::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| {
                bad(
                    "op",
                    format!("'{}' is not an op (allowed: {})", quote(name), op_names()),
                )
            })?,
        None => return Err(bad("op", format!("is required (one of {})", op_names()))),
    };
    let field = match optional_str(params, "field")? {
        Some(name) => NumericField::from_name(name).ok_or_else(|| {
            bad(
                "field",
                format!(
                    "'{}' is not a numeric field (allowed: value, aqi, raw_concentration)",
                    quote(name)
                ),
            )
        })?,
        None => NumericField::Value,
    };
    let group_by = match optional_str(params, "group_by")? {
        Some(name) => Some(
            GroupBy::ALL
                .into_iter()
                .find(|g| g.name() == name)
                .ok_or_else(|| {
                    bad(
                        "group_by",
                        format!(
                            "'{}' is not a grouping (allowed: parameter, date, site)",
                            quote(name)
                        ),
                    )
                })?,
        ),
        None => None,
    };
    Ok(Query {
        filter: parse_filter(params)?,
        kind: QueryKind::Aggregate(AggregateSpec {
            op,
            field,
            group_by,
        }),
        team: parse_team(params)?,
    })
}

fn parse_filter(params: &Map<String, Value>) -> Result<Filter, QueryError> {
    let filter = Filter {
        parameter: optional_str(params, "parameter")?.map(|p| p.trim().to_ascii_uppercase()),
        min_value: optional_number(params, "min_value")?,
        max_value: optional_number(params, "max_value")?,
        date_start: optional_date(params, "date_start")?,
        date_end: optional_date(params, "date_end")?,
        lat_min: optional_number(params, "lat_min")?,
        lat_max: optional_number(params, "lat_max")?,
        lon_min: optional_number(params, "lon_min")?,
        lon_max: optional_number(params, "lon_max")?,
    };
    check_order("min_value", filter.min_value, "max_value", filter.max_value)?;
    check_order("date_start", filter.date_start, "date_end", filter.date_end)?;
    check_order("lat_min", filter.lat_min, "lat_max", filter.lat_max)?;
    check_order("lon_min", filter.lon_min, "lon_max", filter.lon_max)?;
    for (key, value, limit) in [
        ("lat_min", filter.lat_min, 90.0),
        ("lat_max", filter.lat_max, 90.0),
        ("lon_min", filter.lon_min, 180.0),
        ("lon_max", filter.lon_max, 180.0),
    ] {
        if value.is_some_and(|v: f64| v.abs() > limit) {
            return Err(bad(key, format!("must lie between -{limit} and {limit}")));
        }
    }
    Ok(filter)
}

fn check_order<T: PartialOrd + ToString>(
    low_key: &'static str,
    low: Option<T>,
    high_key: &'static str,
    high: Option<T>,
) -> Result<(), QueryError> {
    match (low, high) {
        (Some(low), Some(high)) if low > high => Err(QueryError::InvertedRange {
            low_key,
            low: low.to_string(),
            high_key,
            high: high.to_string(),
        }),
        _ => Ok(()),
    }
}

fn parse_limit(value: &Value) -> Result<u32, QueryError> {
    let problem =
        "must be a whole number from 1 to 4294967295 (values above 2000 are capped at 2000)";
    let limit = value
        .as_u64()
        .ok_or_else(|| bad("limit", problem.to_string()))?;
    if limit == 0 || limit > u64::from(u32::MAX) {
        return Err(bad("limit", problem.to_string()));
    }
    Ok((limit as u32).min(LIMIT_CAP))
}

fn parse_team(params: &Map<String, Value>) -> Result<Option<String>, QueryError> {
    match optional_str(params, "team")? {
        Some(team) if team.trim().is_empty() => Err(bad("team", "must not be empty".to_string())),
        Some(team) if team.len() > MAX_TEAM_BYTES => Err(QueryError::TooLong {
            field: "team",
            len: team.len(),
            max: MAX_TEAM_BYTES,
        }),
        Some(team) => Ok(Some(team.trim().to_string())),
        None => Ok(None),
    }
}

fn optional_str<'a>(
    params: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, QueryError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(bad(
            key,
            format!("must be a string, got {}", type_name(other)),
        )),
    }
}

fn optional_number(params: &Map<String, Value>, key: &str) -> Result<Option<f64>, QueryError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(value) if value.is_finite() => Ok(Some(value)),
            _ => Err(bad(key, "must be a finite number".to_string())),
        },
        Some(other) => Err(bad(
            key,
            format!("must be a number, got {}", type_name(other)),
        )),
    }
}

fn optional_date(params: &Map<String, Value>, key: &str) -> Result<Option<DateKey>, QueryError> {
    match optional_str(params, key)? {
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|err: crate::date::DateError| bad(key, err.to_string())),
        None => Ok(None),
    }
}

fn bad(key: &str, problem: String) -> QueryError {
    QueryError::BadValue {
        key: key.to_string(),
        problem,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_and_oversized_fields_are_refused_without_echoing_them() {
        assert_eq!(
            err(
                "filter",
                r#"{"limit": 5, "parameter": "PM2.5", "limit": 7}"#
            ),
            "duplicate key 'limit' in query_params"
        );
        let huge = format!(r#"{{"parameter": "{}"}}"#, "x".repeat(MAX_PARAMS_BYTES));
        let text = err("filter", &huge);
        assert!(text.starts_with("query_params is"), "{text}");
        assert!(text.len() < 100, "{text}");
        let long_type = "y".repeat(MAX_QUERY_TYPE_BYTES + 1);
        assert!(err(&long_type, "{}").contains("query_type is 33 bytes"));
        let long_key = format!(r#"{{"{}": 1}}"#, "k".repeat(500));
        assert!(err("filter", &long_key).len() < 300);
        let long_team = format!(r#"{{"team": "{}"}}"#, "t".repeat(MAX_TEAM_BYTES + 1));
        assert!(err("filter", &long_team).contains("team is 65 bytes"));
        assert_eq!(
            err("filter", "[1, 2]"),
            "query_params must be a JSON object, got an array"
        );
        assert!(Query::parse("filter", r#"{"limit": 5}"#).is_ok());
    }

    fn err(query_type: &str, params: &str) -> String {
        Query::parse(query_type, params).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_original_benchmark_query_and_caps_its_limit() {
        let query = Query::parse(
            "filter",
            r#"{"parameter": "pm2.5", "min_value": 10, "max_value": 50, "limit": 5000}"#,
        )
        .unwrap();
        assert_eq!(query.filter.parameter.as_deref(), Some("PM2.5"));
        assert_eq!(query.filter.min_value, Some(10.0));
        assert_eq!(query.limit(), Some(LIMIT_CAP));
        assert_eq!(Query::parse("filter", "").unwrap().limit(), Some(LIMIT_CAP));
    }

    #[test]
    fn parses_aggregates_with_defaults() {
        let query = Query::parse(
            "aggregate",
            r#"{"op": "avg", "group_by": "date", "team": "pink"}"#,
        )
        .unwrap();
        assert_eq!(
            query.kind,
            QueryKind::Aggregate(AggregateSpec {
                op: AggregateOp::Avg,
                field: NumericField::Value,
                group_by: Some(GroupBy::Date)
            })
        );
        assert_eq!(query.team.as_deref(), Some("pink"));
    }

    #[test]
    fn round_trips_through_canonical_json() {
        let query = Query::parse(
            "filter",
            r#"{"parameter": "OZONE", "date_start": "2020-08-10", "date_end": "20200901", "lat_min": 30.5}"#,
        )
        .unwrap();
        let json = serde_json::to_string(&query).unwrap();
        assert_eq!(serde_json::from_str::<Query>(&json).unwrap(), query);
    }

    #[test]
    fn rejects_bad_input_with_the_key_named() {
        assert!(err("filter", "{not json").starts_with("query_params is not valid JSON"));
        assert_eq!(
            err("filter", "[1]"),
            "query_params must be a JSON object, got an array"
        );
        assert!(err("filter", r#"{"colour": 1}"#).contains("unknown parameter 'colour'"));
        assert!(err("filter", r#"{"op": "sum"}"#).contains("unknown parameter 'op' for a filter"));
        assert!(
            err("aggregate", r#"{"op": "sum", "limit": 3}"#).contains("unknown parameter 'limit'")
        );
        assert_eq!(
            err("filter", r#"{"min_value": "10"}"#),
            "min_value must be a number, got a string"
        );
        assert_eq!(
            err("filter", r#"{"min_value": 50, "max_value": 10}"#),
            "min_value (50) is greater than max_value (10)"
        );
        assert!(err("filter", r#"{"date_start": "2020-02-30"}"#)
            .starts_with("date_start '2020-02-30' is not a date"));
        assert!(err(
            "filter",
            r#"{"date_start": "20200901", "date_end": "20200810"}"#
        )
        .contains("greater than date_end"));
        assert!(err("filter", r#"{"limit": -1}"#).starts_with("limit must be a whole number"));
        assert!(err("filter", r#"{"limit": 0}"#).starts_with("limit must be a whole number"));
        assert!(err("filter", r#"{"limit": 1e30}"#).starts_with("limit must be a whole number"));
        assert!(
            err("filter", r#"{"limit": 99999999999}"#).starts_with("limit must be a whole number")
        );
        assert!(err("filter", r#"{"lat_min": 100}"#).contains("between -90 and 90"));
        assert!(err("aggregate", "{}").contains("op is required"));
        assert!(err("aggregate", r#"{"op": "median"}"#).contains("'median' is not an op"));
        assert!(err("aggregate", r#"{"op": "sum", "field": "site_name"}"#)
            .contains("not a numeric field"));
        assert!(err("aggregate", r#"{"op": "sum", "group_by": "hour"}"#).contains("not a grouping"));
        assert_eq!(
            err("join", "{}"),
            "unknown query_type 'join' (expected filter or aggregate)"
        );
        assert!(err("filter", r#"{"team": " "}"#).contains("team must not be empty"));
    }
}
