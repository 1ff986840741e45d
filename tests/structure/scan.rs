//! A small lexical scanner for Rust sources: enough to count lines of logic, find function
//! bodies and the modules a file names, without a parser. Comments are dropped and the
//! contents of string and character literals are blanked, so braces and paths inside them
//! are never counted.

/// Returns `text` with comments removed and string/char literal contents blanked. Newlines are
/// kept, so line numbers still match the file.
pub(crate) fn strip(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            let end = block_comment_end(rest);
            push_newlines(&mut out, &rest[..end]);
            i += end;
        } else if let Some(end) = raw_string_end(text, i) {
            out.push_str("\"\"");
            push_newlines(&mut out, &text[i..end]);
            i = end;
        } else if bytes[i] == b'"' {
            let end = quoted_end(bytes, i);
            out.push_str("\"\"");
            push_newlines(&mut out, &text[i..end]);
            i = end;
        } else if let Some(len) = char_literal_len(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let ch = rest.chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn push_newlines(out: &mut String, skipped: &str) {
    out.extend(std::iter::repeat_n('\n', skipped.matches('\n').count()));
}

/// Length of a (nested) block comment at the start of `rest`.
fn block_comment_end(rest: &str) -> usize {
    let (mut depth, mut j) = (0usize, 0usize);
    while j < rest.len() {
        if rest[j..].starts_with("/*") {
            depth += 1;
            j += 2;
        } else if rest[j..].starts_with("*/") {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += rest[j..].chars().next().map_or(1, char::len_utf8);
        }
    }
    rest.len()
}

/// End of a raw string (`r"…"`, `r#"…"#`, `br"…"`) starting at `i`, if one starts there.
fn raw_string_end(text: &str, i: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if bytes.get(j) == Some(&b'b') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = bytes[j..].iter().take_while(|&&b| b == b'#').count();
    j += hashes;
    if bytes.get(j) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    Some(
        text[j + 1..]
            .find(&close)
            .map_or(text.len(), |k| j + 1 + k + close.len()),
    )
}

/// End (one past the closing quote) of the ordinary string literal starting at `i`.
fn quoted_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < bytes.len() && bytes[j] != b'"' {
        j += if bytes[j] == b'\\' { 2 } else { 1 };
    }
    (j + 1).min(bytes.len())
}

/// Length of a character literal at the start of `rest` (`'a'`, `'\n'`, `'\u{1F600}'`);
/// `None` for a lifetime or label.
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    if chars.next()?.1 != '\'' {
        return None;
    }
    let (_, first) = chars.next()?;
    if first == '\\' {
        let close = rest[2..].find('\'')?;
        return (close <= 10).then_some(2 + close + 1);
    }
    let (at, second) = chars.next()?;
    (second == '\'').then_some(at + 1)
}

/// Index of the brace closing the one at `open`.
pub(crate) fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (j, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    code.len().saturating_sub(1)
}

/// `code` with every item under `#[cfg(test)]` blanked (newlines kept).
pub(crate) fn without_test_items(code: &str) -> String {
    let mut out = code.to_owned();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]").map(|k| from + k) {
        let after = at + "#[cfg(test)]".len();
        let brace = code[after..].find('{').map(|k| after + k);
        let semi = code[after..].find(';').map(|k| after + k);
        match (brace, semi) {
            (Some(brace), semi) if semi.is_none_or(|s| brace < s) => {
                let end = matching_brace(code, brace);
                blank(&mut out, at, end + 1);
                from = end + 1;
            }
            _ => from = after,
        }
    }
    out
}

fn blank(code: &mut String, start: usize, end: usize) {
    let blanked: String = code[start..end]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    code.replace_range(start..end, &blanked);
}

/// Non-blank lines of `code` (already stripped of comments).
pub(crate) fn logic_lines(code: &str) -> usize {
    code.lines().filter(|line| !line.trim().is_empty()).count()
}

/// A function with a body: its name, first line (1-based) and lines of logic.
pub(crate) struct Function {
    /// The function's name.
    pub(crate) name: String,
    /// The line its `fn` keyword is on.
    pub(crate) line: usize,
    /// Non-blank lines from the signature to the closing brace.
    pub(crate) lines: usize,
}

/// Every function with a body in `code` (nested ones too, each counted whole).
pub(crate) fn functions(code: &str) -> Vec<Function> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("fn ").map(|k| from + k) {
        from = at + 3;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let name: String = code[from..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let brace = code[from..].find('{').map(|k| from + k);
        let semi = code[from..].find(';').map(|k| from + k);
        let Some(brace) = brace.filter(|&b| semi.is_none_or(|s| b < s)) else {
            continue;
        };
        let end = matching_brace(code, brace);
        found.push(Function {
            name,
            line: code[..at].matches('\n').count() + 1,
            lines: logic_lines(&code[at..=end]),
        });
    }
    found
}

/// The top-level modules of its own crate that a file at module path `me` names, through
/// `crate::…` paths (grouped `use crate::{a, b::c}` too) and `super::` climbing to the root.
pub(crate) fn modules_named(code: &str, me: &[String]) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && is_ident_byte(code.as_bytes()[at - 1]) {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find(';').unwrap_or(group.len())];
            named.extend(group_heads(group));
        } else {
            named.push(ident(rest));
        }
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && (is_ident_byte(code.as_bytes()[at - 1]) || code[..at].ends_with("super::")) {
            continue;
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            ups += 1;
            rest = next;
        }
        if ups == me.len() {
            named.push(ident(rest));
        }
    }
    named.retain(|name| !name.is_empty() && name != "self" && me.first() != Some(name));
    named
}

/// The first path segment of each entry of a `use` group (`a, b::c, d::{e}` → a, b, d).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && !c.is_whitespace() => {
                heads.push(ident(&group[i..]));
                start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_in_strings_comments_and_chars_are_not_counted() {
        let code = strip("fn a() { let s = \"}\"; let c = '}'; // }\n /* } */ let r = r#\"}\"#; }\nfn b<'x>(v: &'x str) { }");
        let found = functions(&code);
        assert_eq!(found.len(), 2, "{code}");
        assert_eq!((found[0].name.as_str(), found[0].lines), ("a", 2));
        assert_eq!((found[1].name.as_str(), found[1].line), ("b", 3));
    }

    #[test]
    fn test_items_are_left_out() {
        let code = "fn kept() {}\n#[cfg(test)]\nmod tests {\n fn gone() {}\n}\n";
        let kept = without_test_items(code);
        assert_eq!(logic_lines(&kept), 1);
        assert_eq!(functions(&kept).len(), 1);
    }

    #[test]
    fn crate_and_super_paths_name_top_level_modules() {
        let me = vec!["query".to_owned(), "route".to_owned()];
        let code = "use crate::{node::Node, metrics, query::x};\nuse super::super::health::P;\nuse super::local;\nfn f() { crate::stats::jain(); }";
        let mut named = modules_named(code, &me);
        named.sort();
        assert_eq!(named, ["health", "metrics", "node", "stats"]);
    }
}
