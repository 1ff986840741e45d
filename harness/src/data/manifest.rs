//! `overlay-data.json`: what the generator wrote into a dataset root (scale, seed, rows,
//! files), so a later run can check the data on disk is the data its workload asks for
//! instead of trusting the workload's `scale`. Nodes ignore the file (they read day folders).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name, at the dataset root.
pub const FILE: &str = "overlay-data.json";

/// What one generation wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Generator scale (1.0 = the real size).
    pub scale: f64,
    /// Generator seed.
    pub seed: u64,
    /// Data rows written.
    pub rows: u64,
    /// CSV files written.
    pub files: usize,
    /// Day folders written.
    pub days: usize,
    /// Harness version that wrote it.
    pub generator: String,
}

/// Why a manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading or writing the file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The manifest file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a manifest.
    #[error("{} is not a dataset manifest ({source}); delete it and regenerate the data", path.display())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl Manifest {
    /// Writes the manifest into dataset root `root`.
    pub fn write(&self, root: &Path) -> Result<(), ManifestError> {
        let path = root.join(FILE);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text).map_err(|source| ManifestError::Io {
            action: "write",
            path,
            source,
        })
    }

    /// The manifest of dataset root `root`; `None` when it has none (data not written by the
    /// generator, such as the real dataset, or by an older one).
    pub fn read(root: &Path) -> Result<Option<Manifest>, ManifestError> {
        let path = root.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ManifestError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ManifestError::Invalid { path, source })
    }

    /// What differs between this manifest and the `scale` and `seed` a workload asks for, as
    /// one sentence; `None` when they agree.
    pub fn differs_from(&self, scale: f64, seed: u64) -> Option<String> {
        let mut parts = Vec::new();
        if (self.scale - scale).abs() > 1e-9 {
            parts.push(format!(
                "scale {} (the workload asks for {scale})",
                self.scale
            ));
        }
        if self.seed != seed {
            parts.push(format!("seed {} (the workload asks for {seed})", self.seed));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "the data was generated with {} — {} rows in {} files",
                parts.join(" and "),
                self.rows,
                self.files
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            scale: 0.25,
            seed: 42,
            rows: 291_881,
            files: 516,
            days: 43,
            generator: "test".into(),
        }
    }

    #[test]
    fn a_written_manifest_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), None);
        manifest().write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), Some(manifest()));
    }

    #[test]
    fn scale_and_seed_mismatches_are_named() {
        let m = manifest();
        assert_eq!(m.differs_from(0.25, 42), None);
        let full = m.differs_from(1.0, 42).unwrap();
        assert!(
            full.contains("scale 0.25 (the workload asks for 1)"),
            "{full}"
        );
        assert!(full.contains("291881 rows"), "{full}");
        let seed = m.differs_from(0.25, 7).unwrap();
        assert!(
            seed.contains("seed 42") && !seed.contains("scale"),
            "{seed}"
        );
    }

    #[test]
    fn a_broken_manifest_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{ not json").unwrap();
        let err = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains(FILE) && err.contains("regenerate"), "{err}");
    }
}
