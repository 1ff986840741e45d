//! Tracing in a run (`[trace] sample_per_step`): the nodes' trace flags and span folder, the
//! sampler of each step, and, once a local cluster has stopped (its nodes write out their
//! queued spans on the way down), the span files read back into each step's trace.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::cluster::launcher::NodeSettings;
use crate::results::Step;
use crate::trace::attribution::attribute;
use crate::trace::files::{read_dir, FILE_PATTERN};
use crate::trace::{SampledQuery, SpanFiles, StepSampler, StepTrace};
use crate::workload::{ClusterMode, Workload};

/// Why a remote cluster's spans are not read.
const REMOTE: &str =
    "the cluster is remote: its nodes write their span files (if started with --trace-file) on their own machines";

/// Why spans are not read yet (until [`attach`]).
const UNREAD: &str = "the span files were not read";

/// The span folder of the cluster `name` (`traces/<name>` in the run's folder); when the
/// workload traces a local cluster, it is created and its nodes write their spans there.
pub(super) fn set_up(
    w: &Workload,
    run_dir: &Path,
    name: &str,
    settings: &mut NodeSettings,
) -> anyhow::Result<PathBuf> {
    let dir = run_dir.join("traces").join(name);
    if w.trace_per_step == 0 || w.mode != ClusterMode::Local {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the span folder {}", dir.display()))?;
    settings.trace_file = Some(dir.join(FILE_PATTERN));
    Ok(dir)
}

/// The sampler of one step, when the workload traces.
pub(super) fn sampler(w: &Workload) -> Option<Arc<StepSampler>> {
    (w.trace_per_step > 0).then(|| Arc::new(StepSampler::new(w.trace_per_step)))
}

/// A step's trace before its spans are read: what it sampled.
pub(super) fn unread(w: &Workload, sampler: &StepSampler) -> StepTrace {
    let why = match w.mode {
        ClusterMode::Local => UNREAD,
        ClusterMode::Remote => REMOTE,
    };
    StepTrace {
        sampled: sampler.finish(),
        files: SpanFiles::NotRead {
            why: why.to_string(),
        },
        slowest: None,
    }
}

/// Reads the span files in `dir` (a stopped local cluster's) and gives every traced step its
/// slowest sampled query's spans; a folder that cannot be read is logged and said in the
/// steps. Nothing for a remote cluster.
pub(super) fn attach(w: &Workload, dir: &Path, steps: &mut [Step]) {
    if w.mode != ClusterMode::Local {
        return;
    }
    let traced: Vec<&mut StepTrace> = steps.iter_mut().filter_map(|s| s.trace.as_mut()).collect();
    if traced.is_empty() {
        return;
    }
    let read = match read_dir(dir) {
        Ok(read) => read,
        Err(err) => {
            tracing::warn!("{err}; the report has no spans");
            for trace in traced {
                trace.files = SpanFiles::NotRead {
                    why: err.to_string(),
                };
            }
            return;
        }
    };
    if read.skipped > 0 {
        tracing::warn!(
            "{} lines of the span files in {} are not spans; skipped",
            read.skipped,
            dir.display()
        );
    }
    let sampled: Vec<Vec<SampledQuery>> = traced.iter().map(|t| t.sampled.clone()).collect();
    for (trace, found) in traced.into_iter().zip(attribute(sampled, &read)) {
        *trace = found;
    }
}
