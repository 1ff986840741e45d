//! How the node and the harness write their logs: plain text with colour only when stderr is
//! a terminal, or one JSON object per line for log shippers (`--log-format json`).

use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The shape of the log lines written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines; colour escapes only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, fields, target), never coloured.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format '{other}'; use text or json")),
        }
    }
}

/// The stderr log layer in `format`: text lines coloured only on a terminal (a file or a
/// pipe gets no `\x1b[` escapes), or JSON lines.
pub fn stderr_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => layer.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => layer
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .flatten_event(true)
            .boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_unknown_ones_name_the_choices() {
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        let err = "yaml".parse::<LogFormat>().unwrap_err();
        assert!(
            err.contains("'yaml'") && err.contains("text or json"),
            "{err}"
        );
    }
}
