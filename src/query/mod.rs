//! The typed query model, parsed from the original JSON `query_params`.
//!
//! Parsing is the only place where a query can be invalid; everything downstream works on a
//! [`Query`]. The error messages become the wire status `invalid_query:<reason>`, so they name
//! the offending key and say what is allowed.
//!
//! - `parse`: the original JSON params → [`Query`], every key checked.
//! - [`wire`]: the query as the typed peer protocol carries it, and back (checked again).

use serde::{Deserialize, Serialize};

use crate::date::DateKey;
use crate::record::NumericField;

mod parse;
pub mod wire;

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
        parse::parse_query(query_type, params_json)
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
