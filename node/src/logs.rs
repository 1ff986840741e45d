//! The node's recent log lines, kept for `GetMetrics.recent_logs`.
//!
//! A `tracing` layer copies every INFO-or-higher event of this crate into a bounded ring, so one
//! `tracing::info!` both logs and feeds tools of the original system that grep `recent_logs`
//! for shapes like `[HealthChecker] B detected failure: C (2 consecutive failures)`.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Lines the ring keeps: enough for a report's "recent logs" section, small enough to send
/// with every metrics answer.
pub const RECENT_LOG_LINES: usize = 50;

/// A bounded ring of recent log lines, shared between the tracing layer and the service.
#[derive(Clone, Debug, Default)]
pub struct LogRing {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogRing {
    /// Appends a line, dropping the oldest beyond [`RECENT_LOG_LINES`].
    pub fn push(&self, line: String) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if lines.len() == RECENT_LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The kept lines, oldest first.
    pub fn recent(&self) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        lines.iter().cloned().collect()
    }

    /// A tracing layer that feeds this ring with INFO+ events of the node crate.
    pub fn layer(&self) -> RingLayer {
        RingLayer { ring: self.clone() }
    }
}

/// The tracing layer behind [`LogRing::layer`].
#[derive(Debug)]
pub struct RingLayer {
    ring: LogRing,
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::INFO || !meta.target().starts_with("overlay_node") {
            return;
        }
        let mut line = LineVisitor::default();
        event.record(&mut line);
        self.ring.push(line.text);
    }
}

/// Renders an event as its message followed by `key=value` fields.
#[derive(Default)]
struct LineVisitor {
    text: String,
}

impl Visit for LineVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
            // Keep the message first, fields after it.
            if let Some(rest) = self.text.strip_suffix(&format!("{value:?}")) {
                if !rest.is_empty() {
                    self.text = format!("{value:?} {rest}").trim_end().to_string();
                }
            }
        } else {
            let sep = if self.text.is_empty() { "" } else { " " };
            let _ = write!(self.text, "{sep}{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            let sep = if self.text.is_empty() { "" } else { " " };
            let _ = write!(self.text, "{sep}{}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn ring_keeps_the_latest_lines_with_message_first() {
        let ring = LogRing::default();
        let subscriber = tracing_subscriber::registry().with(ring.layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..(RECENT_LOG_LINES + 5) {
                tracing::info!(target: "overlay_node::test", step = i, "[HealthChecker] B detected failure: C");
            }
            tracing::debug!(target: "overlay_node::test", "not kept");
            tracing::info!(target: "other_crate", "not kept");
        });
        let lines = ring.recent();
        assert_eq!(lines.len(), RECENT_LOG_LINES);
        assert_eq!(
            lines.last().unwrap(),
            "[HealthChecker] B detected failure: C step=54"
        );
    }
}
