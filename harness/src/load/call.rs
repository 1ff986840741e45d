//! One attempt of a request: the call through the entry node (and once through a spare when
//! the entry node fails at the transport level), drained and checked, as an [`Answer`].

use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::MetricsRequest;
use tonic::transport::Channel;

use super::arrival::Ticket;
use super::mix::{Call, PreparedMix};
use crate::client::{run_query_traced, ClientError};
use crate::stats::Outcome;
use crate::verdict::{AnswerChecker, Verdict};

/// One lane's connection to the entry node and its spares.
pub(super) struct Clients {
    pub(super) address: String,
    pub(super) client: OverlayNodeClient<Channel>,
    pub(super) fallbacks: Vec<(String, OverlayNodeClient<Channel>)>,
}

/// One attempt: through the entry node, and once through a spare when the entry node fails
/// at the transport level; a sampled request carries its `traceparent` on both.
pub(super) async fn attempt(
    clients: &mut Clients,
    mix: &PreparedMix,
    query: usize,
    team: usize,
    ticket: &Ticket,
    checker: Option<&AnswerChecker>,
    traceparent: Option<&str>,
) -> Answer {
    let call_spec = mix.call(query, team);
    let first = call(&mut clients.client, call_spec, checker, query, traceparent).await;
    if !first.transport_error || clients.fallbacks.is_empty() {
        return first;
    }
    // The entry node is gone: the same query once more through a team leader.
    let spare = (ticket.query_draw * 1e6) as usize % clients.fallbacks.len();
    let (address, client) = &mut clients.fallbacks[spare];
    let mut answer = call(client, call_spec, checker, query, traceparent).await;
    answer.retried = true;
    answer.entry_node = Some(address.clone());
    answer
}

/// What one call returned, before timing.
pub(super) struct Answer {
    pub(super) outcome: Outcome,
    pub(super) records: u64,
    pub(super) error: Option<String>,
    pub(super) partial: bool,
    pub(super) retried: bool,
    transport_error: bool,
    pub(super) verdict: Option<(Verdict, Option<String>)>,
    /// The spare that answered, when not the entry node.
    pub(super) entry_node: Option<String>,
}

impl Answer {
    /// A failed call with `error` (`transport_error`: the node did not answer at all).
    pub(super) fn failed(error: String, transport_error: bool) -> Self {
        Answer {
            outcome: Outcome::Failed,
            records: 0,
            error: Some(error),
            partial: false,
            retried: false,
            transport_error,
            verdict: None,
            entry_node: None,
        }
    }
}

/// One call of the mix's `call` on `client`, drained and, when checked, given a verdict.
async fn call(
    client: &mut OverlayNodeClient<Channel>,
    call: &Call,
    checker: Option<&AnswerChecker>,
    query: usize,
    traceparent: Option<&str>,
) -> Answer {
    let outcome = match call {
        Call::Metrics => {
            return match client.get_metrics(MetricsRequest {}).await {
                Ok(_) => Answer::failed(String::new(), false).succeeded(0),
                Err(status) => Answer::failed(format!("GetMetrics: {}", status.code()), true),
            }
        }
        Call::Query(spec) => run_query_traced(client, spec, traceparent).await,
    };
    match outcome {
        Ok(outcome) if outcome.status == "ready" => {
            let drained = &outcome.drained;
            // A checked answer's rows are parsed for the verdict: count those rather than
            // parse the chunks again.
            let (verdict, records) = match checker.map(|checker| (checker, drained.json_rows())) {
                Some((checker, Ok(rows))) => (
                    Some(checker.verdict(query, &rows, outcome.partial, &outcome.missing_dates)),
                    drained.typed_count() + rows.len(),
                ),
                Some((_, Err(err))) => (
                    Some((
                        Verdict::Wrong,
                        Some(format!("unreadable aggregate rows: {err}")),
                    )),
                    drained.record_count(),
                ),
                None => (None, drained.record_count()),
            };
            Answer {
                partial: outcome.partial,
                verdict,
                ..Answer::failed(String::new(), false)
            }
            .succeeded(records as u64)
        }
        Ok(outcome) if outcome.status.starts_with("rejected") => Answer {
            outcome: Outcome::Rejected,
            error: None,
            ..Answer::failed(String::new(), false)
        },
        Ok(outcome) => Answer::failed(format!("status {}", outcome.status), false),
        Err(err) => {
            let transport = matches!(err, ClientError::Rpc { .. } | ClientError::Connect { .. });
            Answer::failed(short_error(&err.to_string()), transport)
        }
    }
}

impl Answer {
    /// The same answer, successful with `records` records.
    fn succeeded(mut self, records: u64) -> Self {
        self.outcome = Outcome::Ok;
        self.records = records;
        self.error = None;
        self
    }
}

/// Error texts are grouped by kind; uids and indexes would make each one distinct.
fn short_error(text: &str) -> String {
    text.split(|c: char| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .join("#")
        .chars()
        .take(160)
        .collect()
}
