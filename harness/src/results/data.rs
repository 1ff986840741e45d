//! The data a run served, as checked: the generator's manifest at the dataset root (scale,
//! seed, rows), a fingerprint of the files on disk, and per node (in [`super::ProcessSnapshot`])
//! the rows, days and fingerprint it reports through `GetMetrics`.

use serde::{Deserialize, Serialize};

use crate::data::manifest::Manifest;

/// The dataset of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DataServed {
    /// Dataset root (on this machine; for a remote cluster, what the workload names).
    pub path: String,
    /// What the generator recorded there, when it wrote the data.
    pub manifest: Option<Manifest>,
    /// Fingerprint of every day folder's files on this machine (empty for a remote cluster),
    /// computed as the nodes compute theirs.
    pub fingerprint: String,
    /// Day folders on disk.
    pub days: usize,
    /// What was not checked, and why (empty when everything was).
    #[serde(default)]
    pub unchecked: String,
}

impl DataServed {
    /// One line: path, scale and seed (or why they are unknown), rows, days, fingerprint.
    pub fn line(&self) -> String {
        let generated = match &self.manifest {
            Some(m) => format!(
                "generated at scale {} with seed {} ({} rows in {} files)",
                m.scale, m.seed, m.rows, m.files
            ),
            None => "no generator manifest (scale and seed unknown)".to_string(),
        };
        let mut line = format!(
            "{} · {generated} · {} days on disk · fingerprint {}",
            self.path,
            self.days,
            if self.fingerprint.is_empty() {
                "-"
            } else {
                &self.fingerprint
            }
        );
        if !self.unchecked.is_empty() {
            line.push_str(&format!(" · {}", self.unchecked));
        }
        line
    }
}
