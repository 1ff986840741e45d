//! Reading the span files of a cluster: every `trace-*.jsonl` in one folder, line by line.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use super::spans::SpanRead;

/// A folder of span files that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the span files in {path}: {source}")]
pub struct SpanFilesError {
    /// The folder or file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The name every node's span file has in `dir`: `trace-{id}.jsonl` (`{id}` is replaced by the
/// node).
pub const FILE_PATTERN: &str = "trace-{id}.jsonl";

/// Every span of the `trace-*.jsonl` files in `dir` (in name order), bad lines counted.
pub fn read_dir(dir: &Path) -> Result<SpanRead, SpanFilesError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SpanFilesError { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(fail(dir))? {
        let path = entry.map_err(fail(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("trace-") && name.ends_with(".jsonl") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut read = SpanRead::default();
    for path in files {
        let file = std::fs::File::open(&path).map_err(fail(&path))?;
        let mut reader = std::io::BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(fail(&path))? == 0 {
                break;
            }
            read.add_line(&line);
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_span_file_of_the_folder_is_read_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let line = r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","parent_span_id":null,"name":"query","node":"A","start_unix_ns":1,"duration_ns":5}"#;
        std::fs::write(
            dir.path().join("trace-A.jsonl"),
            format!("{line}\n{{\"half"),
        )
        .unwrap();
        std::fs::write(dir.path().join("trace-B.jsonl"), format!("{line}\n")).unwrap();
        std::fs::write(dir.path().join("events-A.jsonl"), format!("{line}\n")).unwrap();
        let read = read_dir(dir.path()).unwrap();
        assert_eq!((read.spans.len(), read.skipped), (2, 1));
        let missing = read_dir(&dir.path().join("nowhere")).unwrap_err();
        assert!(missing.to_string().contains("nowhere"), "{missing}");
    }
}
