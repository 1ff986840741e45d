//! Lines for the person running the harness that must never end a run: a closed stderr or
//! stdout (output piped into `head`, a terminal gone) loses the line, nothing more, so a run
//! that owns node processes always reaches its cleanup and its reports.

use std::fmt::Arguments;
use std::io::Write;

/// Writes one line to stderr, ignoring a failed write.
pub fn progress(line: Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Writes one line to stdout, ignoring a failed write.
pub fn out(line: Arguments<'_>) {
    let _ = writeln!(std::io::stdout(), "{line}");
}
