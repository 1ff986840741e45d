//! Span lines as the nodes write them (`--trace-file`, one JSON object per line: `trace_id`,
//! `span_id`, `parent_span_id`, `name`, `node`, `start_unix_ns`, `duration_ns`,
//! `attributes`). A line that is not such a span is skipped and counted, never an error: a
//! node killed mid-write leaves half a line.

pub use overlay::span::SpanLine as Span;

/// Longest line read as a span, bytes (a node writes at most 32 attributes of 256 characters).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Spans read from span files, and how many lines were not spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanRead {
    /// Every span read, in file order.
    pub spans: Vec<Span>,
    /// Lines skipped: not JSON, not a span, ids of the wrong shape, too long, not UTF-8.
    pub skipped: u64,
}

impl SpanRead {
    /// Adds one line of a span file (an empty line is neither a span nor skipped).
    pub fn add_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match parse_line(line) {
            Some(span) => self.spans.push(span),
            None => self.skipped += 1,
        }
    }

    /// Adds every line of `text`.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            self.add_line(line.as_bytes());
        }
    }
}

/// One line as a span, when it is one.
fn parse_line(line: &[u8]) -> Option<Span> {
    if line.len() > MAX_LINE_BYTES {
        return None;
    }
    let span: Span = serde_json::from_slice(line).ok()?;
    let ids_fit = is_id(&span.trace_id, 32)
        && is_id(&span.span_id, 16)
        && span.parent_span_id.as_deref().is_none_or(|p| is_id(p, 16));
    (ids_fit && !span.node.is_empty() && !span.name.is_empty()).then_some(span)
}

/// `text` is `digits` lowercase hex digits, not all zero.
fn is_id(text: &str, digits: usize) -> bool {
    text.len() == digits
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && text.bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","parent_span_id":null,"name":"query","node":"A","start_unix_ns":1000,"duration_ns":500,"attributes":{"peer":"B"}}"#;

    #[test]
    fn a_span_line_is_read_with_its_attributes() {
        let mut read = SpanRead::default();
        read.add_text(GOOD);
        assert_eq!(read.skipped, 0);
        let span = &read.spans[0];
        assert_eq!((span.node.as_str(), span.name.as_str()), ("A", "query"));
        assert_eq!(
            (span.parent_span_id.as_deref(), span.peer()),
            (None, Some("B"))
        );
        assert_eq!(span.end_unix_ns(), 1500);
    }

    #[test]
    fn malformed_lines_are_skipped_and_counted() {
        let cut = &GOOD[..GOOD.len() / 2];
        let upper = GOOD.replace("0af7651916cd43dd", "0AF7651916CD43DD");
        let zero = GOOD.replace("b7ad6b7169203331", "0000000000000000");
        let short_parent = GOOD.replace("null", "\"abc\"");
        let negative = GOOD.replace("\"duration_ns\":500", "\"duration_ns\":-5");
        let no_node = GOOD.replace("\"node\":\"A\"", "\"node\":\"\"");
        let long = GOOD.replace("\"B\"", &format!("\"{}\"", "x".repeat(MAX_LINE_BYTES)));
        let mut read = SpanRead::default();
        for line in [
            cut,
            "not json",
            "[1,2]",
            "{}",
            &upper,
            &zero,
            &short_parent,
            &negative,
            &no_node,
            &long,
            "",
            "   ",
        ] {
            read.add_line(line.as_bytes());
        }
        read.add_line(&[0xff, 0xfe, b'{']);
        read.add_line(format!("{GOOD}\r\n").as_bytes());
        assert_eq!(read.skipped, 11, "every bad line counted, blank lines not");
        assert_eq!(read.spans.len(), 1, "the good line still read");
    }
}
