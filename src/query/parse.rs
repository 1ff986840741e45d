//! Parsing the original JSON `query_params` into a [`Query`]: key checks, value types and
//! ranges, with errors that name the key.

use serde_json::{Map, Value};

use super::{
    quote, AggregateOp, AggregateSpec, Filter, GroupBy, Query, QueryError, QueryKind, LIMIT_CAP,
    MAX_TEAM_BYTES,
};
use crate::date::DateKey;
use crate::record::NumericField;

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

/// Parses `params_json` as a query of `query_type` (lengths already checked).
pub(super) fn parse_query(query_type: &str, params_json: &str) -> Result<Query, QueryError> {
    let params = parse_object(params_json)?;
    match query_type {
        "filter" => parse_filter_query(&params),
        "aggregate" => parse_aggregate_query(&params),
        other => Err(QueryError::UnknownType(quote(other))),
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
    use crate::query::{MAX_PARAMS_BYTES, MAX_QUERY_TYPE_BYTES};

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
