//! Raw results: one row per measured request, written as the requests complete into
//! `requests.csv` (or `requests.jsonl`), for loading into pandas or R and for offline checks.
//! The columns are documented in `workloads/README.md`; times are Unix milliseconds and
//! durations milliseconds.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How the rows are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RawFormat {
    /// `requests.csv`, with a header line.
    #[default]
    Csv,
    /// `requests.jsonl`, one JSON object a line.
    Jsonl,
}

impl RawFormat {
    /// The file name in the run folder.
    pub fn file_name(self) -> &'static str {
        match self {
            RawFormat::Csv => "requests.csv",
            RawFormat::Jsonl => "requests.jsonl",
        }
    }
}

/// One request, as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    /// When its first attempt was sent, Unix ms.
    pub start_unix_ms: u64,
    /// Open loop: when it was due, Unix ms (empty in closed loop).
    pub due_unix_ms: Option<u64>,
    /// Time to answer, ms: from due (or first send) to the answer; unanswered: to the timeout.
    pub answer_ms: f64,
    /// Latency of its last attempt, ms.
    pub latency_ms: f64,
    /// Service time of its last attempt (from its send), ms.
    pub service_ms: f64,
    /// `ok`, `rejected` or `failed` (how the last attempt ended).
    pub status: String,
    /// It reached its timeout unanswered.
    pub timed_out: bool,
    /// Team.
    pub team: String,
    /// Query name of the mix.
    pub query: String,
    /// Strategy (or `baseline`).
    pub strategy: String,
    /// Concurrency level.
    pub concurrency: u32,
    /// Repetition, from 0.
    pub repetition: u32,
    /// Step index within the strategy, from 0.
    pub step: u32,
    /// The node that answered its last attempt, host:port.
    pub entry_node: String,
    /// Records received.
    pub records: u64,
    /// The answer was declared partial.
    pub partial: bool,
    /// Sent again through a spare entry node after a transport failure.
    pub retried: bool,
    /// Attempts sent.
    pub attempts: u32,
    /// Attempts rejected.
    pub rejected_attempts: u32,
}

/// Where a step's rows come from.
#[derive(Clone, Debug, Default)]
pub struct RawStep {
    /// Strategy.
    pub strategy: String,
    /// Concurrency level.
    pub concurrency: u32,
    /// Repetition.
    pub repetition: u32,
    /// Step index.
    pub step: u32,
}

enum Sink {
    Csv(Box<csv::Writer<BufWriter<File>>>),
    Jsonl(BufWriter<File>),
}

/// The raw-results file of a run, shared by its steps.
pub struct RawWriter {
    path: PathBuf,
    sink: Mutex<Sink>,
}

impl RawWriter {
    /// Creates the file in `dir`.
    pub fn create(dir: &Path, format: RawFormat) -> anyhow::Result<RawWriter> {
        let path = dir.join(format.file_name());
        let file = BufWriter::new(
            File::create(&path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
        );
        let sink = match format {
            RawFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(file))),
            RawFormat::Jsonl => Sink::Jsonl(file),
        };
        Ok(RawWriter {
            path,
            sink: Mutex::new(sink),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one row (buffered; see [`RawWriter::flush`]).
    pub fn write(&self, row: &RequestRow) -> anyhow::Result<()> {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *sink {
            Sink::Csv(w) => w.serialize(row)?,
            Sink::Jsonl(w) => {
                serde_json::to_writer(&mut *w, row)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Writes the buffered rows out (after every step).
    pub fn flush(&self) -> anyhow::Result<()> {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *sink {
            Sink::Csv(w) => w.flush()?,
            Sink::Jsonl(w) => w.flush()?,
        }
        Ok(())
    }
}

/// Reads `requests.csv` or `requests.jsonl` back.
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<RequestRow>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "jsonl") {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| Ok(serde_json::from_str(l)?))
            .collect();
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .deserialize()
        .map(|r| r.map_err(anyhow::Error::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str) -> RequestRow {
        RequestRow {
            start_unix_ms: 1_700_000_000_000,
            due_unix_ms: None,
            answer_ms: 12.5,
            latency_ms: 2.5,
            service_ms: 2.0,
            status: status.to_string(),
            timed_out: false,
            team: "pink".to_string(),
            query: "q".to_string(),
            strategy: "strict".to_string(),
            concurrency: 4,
            repetition: 1,
            step: 3,
            entry_node: "127.0.0.1:1".to_string(),
            records: 7,
            partial: false,
            retried: false,
            attempts: 3,
            rejected_attempts: 2,
        }
    }

    #[test]
    fn rows_round_trip_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        for format in [RawFormat::Csv, RawFormat::Jsonl] {
            let w = RawWriter::create(dir.path(), format).unwrap();
            let mut open = row("ok");
            open.due_unix_ms = Some(1_700_000_000_001);
            w.write(&row("rejected")).unwrap();
            w.write(&open).unwrap();
            w.flush().unwrap();
            let back = read_rows(w.path()).unwrap();
            assert_eq!(back, vec![row("rejected"), open], "{format:?}");
        }
        let header = std::fs::read_to_string(dir.path().join("requests.csv")).unwrap();
        assert!(header.starts_with("start_unix_ms,due_unix_ms,answer_ms,"));
    }
}
