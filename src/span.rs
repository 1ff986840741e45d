//! One line of a node's span file (`--trace-file`): one finished span of a trace as a JSON
//! object, written by the node and read back by the harness (and by anyone with `jq` or
//! pandas), so both sides share this one definition.
//!
//! A line reads `{"trace_id":"…32 hex…","span_id":"…16 hex…","parent_span_id":null,
//! "name":"query","node":"A","start_unix_ns":…,"duration_ns":…,"attributes":{…}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One span of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanLine {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The span it is part of (on this node or, for a peer's work, on its caller); `None`
    /// for a root.
    pub parent_span_id: Option<String>,
    /// `query`, `admission`, `queue`, `peer_call`, `peer_scan`, `local_scan`, `merge`, `chunk`.
    pub name: String,
    /// The node that recorded it.
    pub node: String,
    /// When it began, Unix ns.
    pub start_unix_ns: u64,
    /// How long it lasted, ns.
    pub duration_ns: u64,
    /// Its attributes (`peer` on a `peer_call`, ...).
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl SpanLine {
    /// When it ended, Unix ns.
    pub fn end_unix_ns(&self) -> u64 {
        self.start_unix_ns.saturating_add(self.duration_ns)
    }

    /// The peer a `peer_call` went to, when it says.
    pub fn peer(&self) -> Option<&str> {
        self.attributes.get("peer").and_then(Value::as_str)
    }
}
