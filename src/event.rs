//! Node lifecycle events: the kinds a node's hooks fire (the original system's seven plus
//! this version's neighbour, breaker, failover and ejection events) and the one JSON line
//! each becomes in an events file, which the harness reads back.
//!
//! A line reads `{"event":"neighbor_failed","node":"B","unix_ms":1700000000123,"detail":{...}}`;
//! users read these files, so the names and fields do not change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Declares [`EventKind`] with its [`ALL`](EventKind::ALL) list and wire names.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The kind of a lifecycle event; hooks register for a set of kinds.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: [EventKind; 12] = [$(Self::$variant),*];

            /// The snake_case wire name, e.g. `"neighbor_failed"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

event_kinds! {
    /// A query arrived at this node.
    QueryStarted => "query_started",
    /// A query finished successfully.
    QueryCompleted => "query_completed",
    /// A query finished with an error.
    QueryFailed => "query_failed",
    /// The node changed state (starting, serving, draining, ...).
    StateChanged => "state_changed",
    /// A neighbor missed heartbeats and is suspected down.
    NeighborSuspected => "neighbor_suspected",
    /// A neighbor was declared failed.
    NeighborFailed => "neighbor_failed",
    /// A failed or suspected neighbor answers again.
    NeighborRecovered => "neighbor_recovered",
    /// The node detected overload (admission or queue pressure).
    OverloadDetected => "overload_detected",
    /// A circuit breaker towards a neighbor opened.
    CircuitOpened => "circuit_opened",
    /// A circuit breaker towards a neighbor closed again.
    CircuitClosed => "circuit_closed",
    /// Work was redirected from a failed neighbor to another one.
    Failover => "failover",
    /// A neighbor much slower than its team was ejected: routed around for a while (not a
    /// failure).
    PeerEjected => "peer_ejected",
}

impl EventKind {
    /// Per-query events, which can come by thousands per second.
    pub fn is_per_query(self) -> bool {
        matches!(self, Self::QueryStarted | Self::QueryCompleted)
    }

    /// Every wire name, comma-separated (for error messages).
    pub fn valid_names() -> String {
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
        names.join(", ")
    }
}

/// A name that is no [`EventKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {name:?} (valid: {})", EventKind::valid_names())]
pub struct UnknownEvent {
    /// As given.
    pub name: String,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventKind {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownEvent {
                name: s.to_string(),
            })
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One lifecycle event, as fired by a node and as one line of its events file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// Id of the node that fired the event.
    pub node: String,
    /// Wall-clock time of the event, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Event-specific fields (query id, neighbor, reason, ...).
    #[serde(default)]
    pub detail: Map<String, Value>,
}

impl Event {
    /// An event of `kind` on `node`, stamped now, with no detail.
    pub fn new(kind: EventKind, node: impl Into<String>) -> Self {
        Self {
            kind,
            node: node.into(),
            unix_ms: crate::date::unix_ms(),
            detail: Map::new(),
        }
    }

    /// Adds (or replaces) one detail field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// The `neighbor` detail: whom a neighbour, breaker or failover event is about.
    pub fn neighbor(&self) -> Option<&str> {
        self.detail.get("neighbor").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for kind in EventKind::ALL {
            assert_eq!(kind.name().parse::<EventKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
        let err = "neighbour_failed".parse::<EventKind>().unwrap_err();
        assert!(err
            .to_string()
            .starts_with("unknown event \"neighbour_failed\" (valid: query_started, "));
    }

    #[test]
    fn an_event_line_keeps_its_shape() {
        let mut event = Event::new(EventKind::NeighborFailed, "B").with("neighbor", "C");
        event.unix_ms = 1_700_000_000_123;
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"event":"neighbor_failed","node":"B","unix_ms":1700000000123,"detail":{"neighbor":"C"}}"#
        );
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back.neighbor(), Some("C"));
        assert_eq!(back, event);
        let bare: Event =
            serde_json::from_str(r#"{"event":"failover","node":"A","unix_ms":5}"#).unwrap();
        assert!(bare.detail.is_empty());
    }
}
