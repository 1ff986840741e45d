//! The query on the node-to-node wire: [`Query`] to and from `proto::PeerQuery`.
//!
//! A peer's query is decoded as carefully as a client's: enums must be known, days must be
//! days, text stays within the client caps and a filter limit is capped as for clients, so a
//! confused or hostile member cannot make a node scan without bounds.

use crate::date::DateKey;
use crate::proto;
use crate::record::NumericField;

use super::{
    check_len, AggregateOp, AggregateSpec, Filter, GroupBy, Query, QueryError, QueryKind,
    LIMIT_CAP, MAX_TEAM_BYTES,
};

/// Longest `parameter` a peer query may name, in bytes (pollutant names are short).
const MAX_PARAMETER_BYTES: usize = 64;

impl From<&Query> for proto::PeerQuery {
    fn from(query: &Query) -> Self {
        let kind = match &query.kind {
            QueryKind::Filter { limit } => proto::peer_query::Kind::FilterLimit(*limit),
            QueryKind::Aggregate(spec) => {
                proto::peer_query::Kind::Aggregate(aggregate_to_wire(spec))
            }
        };
        proto::PeerQuery {
            filter: Some(filter_to_wire(&query.filter)),
            kind: Some(kind),
            team: query.team.clone(),
        }
    }
}

impl TryFrom<proto::PeerQuery> for Query {
    type Error = QueryError;

    fn try_from(wire: proto::PeerQuery) -> Result<Self, QueryError> {
        let kind = match wire.kind {
            Some(proto::peer_query::Kind::FilterLimit(0)) | None => {
                return Err(bad(
                    "kind",
                    "must be a filter limit above 0 or an aggregate",
                ))
            }
            Some(proto::peer_query::Kind::FilterLimit(limit)) => QueryKind::Filter {
                limit: limit.min(LIMIT_CAP),
            },
            Some(proto::peer_query::Kind::Aggregate(spec)) => {
                QueryKind::Aggregate(aggregate_from_wire(&spec)?)
            }
        };
        if let Some(team) = &wire.team {
            check_len("team", team, MAX_TEAM_BYTES)?;
        }
        Ok(Query {
            filter: filter_from_wire(wire.filter.unwrap_or_default())?,
            kind,
            team: wire.team,
        })
    }
}

fn filter_to_wire(filter: &Filter) -> proto::QueryFilter {
    proto::QueryFilter {
        parameter: filter.parameter.clone(),
        min_value: filter.min_value,
        max_value: filter.max_value,
        date_start: filter.date_start.map(DateKey::as_u32),
        date_end: filter.date_end.map(DateKey::as_u32),
        lat_min: filter.lat_min,
        lat_max: filter.lat_max,
        lon_min: filter.lon_min,
        lon_max: filter.lon_max,
    }
}

fn filter_from_wire(wire: proto::QueryFilter) -> Result<Filter, QueryError> {
    if let Some(parameter) = &wire.parameter {
        check_len("parameter", parameter, MAX_PARAMETER_BYTES)?;
    }
    Ok(Filter {
        parameter: wire.parameter,
        min_value: wire.min_value,
        max_value: wire.max_value,
        date_start: day_from_wire("date_start", wire.date_start)?,
        date_end: day_from_wire("date_end", wire.date_end)?,
        lat_min: wire.lat_min,
        lat_max: wire.lat_max,
        lon_min: wire.lon_min,
        lon_max: wire.lon_max,
    })
}

fn day_from_wire(key: &str, day: Option<u32>) -> Result<Option<DateKey>, QueryError> {
    match day {
        None => Ok(None),
        Some(value) => DateKey::from_u32(value)
            .map(Some)
            .ok_or_else(|| bad(key, "is not a YYYYMMDD day")),
    }
}

fn aggregate_to_wire(spec: &AggregateSpec) -> proto::AggregateQuery {
    let op = match spec.op {
        AggregateOp::Count => proto::AggregateOp::Count,
        AggregateOp::Sum => proto::AggregateOp::Sum,
        AggregateOp::Min => proto::AggregateOp::Min,
        AggregateOp::Max => proto::AggregateOp::Max,
        AggregateOp::Avg => proto::AggregateOp::Avg,
    };
    let field = match spec.field {
        NumericField::Value => proto::AggregateField::Value,
        NumericField::Aqi => proto::AggregateField::Aqi,
        NumericField::RawConcentration => proto::AggregateField::RawConcentration,
    };
    let group_by = match spec.group_by {
        None => proto::GroupBy::None,
        Some(GroupBy::Parameter) => proto::GroupBy::Parameter,
        Some(GroupBy::Date) => proto::GroupBy::Date,
        Some(GroupBy::Site) => proto::GroupBy::Site,
    };
    proto::AggregateQuery {
        op: op.into(),
        field: field.into(),
        group_by: group_by.into(),
    }
}

fn aggregate_from_wire(wire: &proto::AggregateQuery) -> Result<AggregateSpec, QueryError> {
    let op = match proto::AggregateOp::try_from(wire.op) {
        Ok(proto::AggregateOp::Count) => AggregateOp::Count,
        Ok(proto::AggregateOp::Sum) => AggregateOp::Sum,
        Ok(proto::AggregateOp::Min) => AggregateOp::Min,
        Ok(proto::AggregateOp::Max) => AggregateOp::Max,
        Ok(proto::AggregateOp::Avg) => AggregateOp::Avg,
        Ok(proto::AggregateOp::Unspecified) | Err(_) => return Err(bad("op", "is not an op")),
    };
    let field = match proto::AggregateField::try_from(wire.field) {
        Ok(proto::AggregateField::Value) => NumericField::Value,
        Ok(proto::AggregateField::Aqi) => NumericField::Aqi,
        Ok(proto::AggregateField::RawConcentration) => NumericField::RawConcentration,
        Ok(proto::AggregateField::Unspecified) | Err(_) => {
            return Err(bad("field", "is not a numeric field"))
        }
    };
    let group_by = match proto::GroupBy::try_from(wire.group_by) {
        Ok(proto::GroupBy::None) => None,
        Ok(proto::GroupBy::Parameter) => Some(GroupBy::Parameter),
        Ok(proto::GroupBy::Date) => Some(GroupBy::Date),
        Ok(proto::GroupBy::Site) => Some(GroupBy::Site),
        Err(_) => return Err(bad("group_by", "is not a grouping")),
    };
    Ok(AggregateSpec {
        op,
        field,
        group_by,
    })
}

fn bad(key: &str, problem: &str) -> QueryError {
    QueryError::BadValue {
        key: key.to_string(),
        problem: problem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(query_type: &str, params: &str) {
        let query = Query::parse(query_type, params).unwrap();
        let wire = proto::PeerQuery::from(&query);
        assert_eq!(Query::try_from(wire).unwrap(), query, "{params}");
    }

    #[test]
    fn every_query_shape_survives_the_wire() {
        round_trip(
            "filter",
            r#"{"parameter": "OZONE", "date_start": "2020-08-10", "date_end": "20200901", "lat_min": 30.5, "min_value": -1.5, "limit": 7, "team": "pink"}"#,
        );
        round_trip("filter", "");
        for op in AggregateOp::ALL {
            for group in ["", r#", "group_by": "site""#, r#", "group_by": "date""#] {
                let params = format!(r#"{{"op": "{}", "field": "aqi"{group}}}"#, op.name());
                round_trip("aggregate", &params);
            }
        }
    }

    #[test]
    fn a_peer_query_is_bounded_like_a_client_query() {
        let mut wire = proto::PeerQuery::from(&Query::parse("filter", "").unwrap());
        wire.kind = Some(proto::peer_query::Kind::FilterLimit(u32::MAX));
        assert_eq!(
            Query::try_from(wire.clone()).unwrap().limit(),
            Some(LIMIT_CAP)
        );
        wire.kind = None;
        assert!(Query::try_from(wire.clone()).is_err());
        wire.kind = Some(proto::peer_query::Kind::Aggregate(
            proto::AggregateQuery::default(),
        ));
        assert!(Query::try_from(wire.clone())
            .unwrap_err()
            .to_string()
            .contains("op"));
        wire.kind = Some(proto::peer_query::Kind::FilterLimit(5));
        wire.filter = Some(proto::QueryFilter {
            date_start: Some(20200230),
            ..Default::default()
        });
        assert!(Query::try_from(wire.clone())
            .unwrap_err()
            .to_string()
            .starts_with("date_start"));
        wire.filter = Some(proto::QueryFilter {
            parameter: Some("x".repeat(1000)),
            ..Default::default()
        });
        assert!(Query::try_from(wire).is_err());
    }
}
