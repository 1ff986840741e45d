//! Before anything starts: the workload with the command line's overrides, its data, the
//! answer checker, the run's cluster config and, for a remote cluster with a fault schedule,
//! a pre-flight of the nodes' control services.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{bail, Context};
use overlay::config::NodeId;

use super::RunOptions;
use crate::checker::load_dataset;
use crate::cluster::config::{derive, ConfigSettings, DerivedConfig};
use crate::control::ControlClient;
use crate::data::generate::GenerateOptions;
use crate::data::manifest::{Manifest, FILE as MANIFEST_FILE};
use crate::data::progress::generate_with_progress;
use crate::results::DataServed;
use crate::verdict::AnswerChecker;
use crate::workload::validate::{parse, validate};
use crate::workload::{ClusterMode, Workload};
use overlay::fault::CLIENT_PEER;

/// Where the control token of a remote cluster's nodes comes from.
const CONTROL_TOKEN_VAR: &str = "OVERLAY_CONTROL_TOKEN";

/// Reads the workload and applies the command-line overrides, then checks it.
pub fn resolve(options: &RunOptions) -> anyhow::Result<Workload> {
    let text = std::fs::read_to_string(&options.workload)
        .with_context(|| format!("cannot read workload {}", options.workload.display()))?;
    let mut spec = parse(&options.workload, &text)?;
    if let Some(strategies) = &options.strategies {
        spec.sweep.strategies = strategies.clone();
    }
    if let Some(levels) = &options.concurrency {
        spec.sweep.concurrency = levels.clone();
    }
    if let Some(path) = &options.data_path {
        spec.data.path = path.clone();
    }
    spec.cluster
        .node_args
        .extend(options.node_args.iter().cloned());
    let mut workload = validate(&options.workload, spec)?;
    workload.data_given = options.data_path.is_some();
    if workload.netns {
        // Root and the tools are checked before anything (data, builds, nodes) starts.
        crate::netns::sys::preflight()?;
    }
    Ok(workload)
}

/// The control token the nodes expect (empty when they have none), read once per run.
pub(super) fn control_token() -> String {
    std::env::var(CONTROL_TOKEN_VAR).unwrap_or_default()
}

/// Generates the workload's dataset when its folder is missing or empty (and it may).
pub(super) fn ensure_data(w: &Workload, progress: bool) -> anyhow::Result<()> {
    let present = std::fs::read_dir(&w.data_path)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    if !w.data_generate {
        bail!(
            "{}: data.path {} is missing or empty and data.generate is false",
            w.file.display(),
            w.data_path.display()
        );
    }
    let options = GenerateOptions {
        root: w.data_path.clone(),
        scale: w.data_scale,
        seed: w.data_seed,
    };
    generate_with_progress(&options, progress)?;
    Ok(())
}

/// The data a local run serves, checked: with `data.generate`, the generator's manifest at
/// the root must record the workload's scale and seed (data written at another scale into the
/// same folder stops the run with what differs; data given with `--data` is served as it is,
/// its own scale recorded and the difference noted); and the files' fingerprint.
/// A remote cluster's data is what its nodes report (in each process snapshot).
pub(super) fn check_data(w: &Workload) -> anyhow::Result<DataServed> {
    let mut served = DataServed {
        path: w.data_path.display().to_string(),
        ..Default::default()
    };
    if w.mode == ClusterMode::Remote {
        served.unchecked =
            "remote cluster: rows, days and fingerprints as each node reports them".into();
        return Ok(served);
    }
    served.manifest = Manifest::read(&w.data_path)?;
    match (&served.manifest, w.data_generate) {
        (Some(m), true) => match m.differs_from(w.data_scale, w.data_seed) {
            Some(diff) if w.data_given => {
                served.unchecked =
                    format!("served as given by --data, not at the workload's data.scale: {diff}");
                crate::say::progress(format_args!(
                    "note: {}: {}",
                    w.data_path.display(),
                    served.unchecked
                ));
            }
            Some(diff) => {
                bail!(
                    "{}: data.path {} does not hold the data this workload asks for: {diff} (see {}); give this scale a folder of its own (data.path, or harness run --data DIR), or delete {} so it is regenerated",
                    w.file.display(),
                    w.data_path.display(),
                    w.data_path.join(MANIFEST_FILE).display(),
                    w.data_path.display()
                );
            }
            None => {}
        },
        (None, true) => {
            served.unchecked = format!(
                "the workload's data.scale {} and seed {} are NOT checked: the folder has no {MANIFEST_FILE} (written by an older generator, or not generated); delete it to regenerate",
                w.data_scale, w.data_seed
            );
            crate::say::progress(format_args!(
                "warning: {}: {}",
                w.data_path.display(),
                served.unchecked
            ));
        }
        _ => {}
    }
    let days = overlay::dataset::list_dates(&w.data_path).unwrap_or_default();
    served.days = days.len();
    served.fingerprint = overlay::dataset::fingerprint(&w.data_path, &days);
    Ok(served)
}

/// The workload's cluster config with the tenants' weights merged in (fair_queue), with
/// `ports = "free"` on a local cluster every node on a free loopback port, and with
/// `[network] hosts = "per_process"` every node on its own address.
pub(super) fn cluster_config(w: &Workload) -> anyhow::Result<DerivedConfig> {
    let text = std::fs::read_to_string(&w.config)
        .with_context(|| format!("cannot read {}", w.config.display()))?;
    let settings = ConfigSettings {
        team_weights: Some(
            w.tenants
                .iter()
                .map(|t| (t.team.clone(), t.weight))
                .collect(),
        ),
        free_ports: w.free_ports && w.mode == ClusterMode::Local,
        hosts: w.host_addresses.clone(),
    };
    derive(&text, &settings)
}

/// The team the baseline's one node serves: the first tenant's.
pub(super) fn baseline_team(w: &Workload) -> String {
    w.tenants
        .first()
        .map_or("green".to_string(), |t| t.team.clone())
}

/// The checker of the mix's aggregate answers: the harness's own scan of the dataset, when
/// the mix has aggregates and the data is on this machine.
pub(super) fn answer_checker(w: &Workload) -> anyhow::Result<Option<Arc<AnswerChecker>>> {
    if !w.mix.iter().any(|m| m.query_type == "aggregate") || !w.data_path.is_dir() {
        return Ok(None);
    }
    let records = load_dataset(&w.data_path)
        .with_context(|| format!("reading {} to check answers", w.data_path.display()))?;
    let params = w
        .mix
        .iter()
        .map(|entry| (entry.query_type == "aggregate").then(|| entry.params.clone()))
        .collect();
    Ok(Some(Arc::new(AnswerChecker::new(records, params))))
}

/// A remote cluster's fault schedule goes through the nodes' control services: every node it
/// names must accept control requests (with `token`) before anything starts.
pub(super) async fn check_control_service(
    w: &Workload,
    cluster: &DerivedConfig,
    token: &str,
) -> anyhow::Result<()> {
    if w.mode != ClusterMode::Remote || w.faults.is_empty() {
        return Ok(());
    }
    let nodes: BTreeSet<&str> = w
        .faults
        .events
        .iter()
        .flat_map(|e| std::iter::once(e.target.as_str()).chain(e.peer.as_deref()))
        .filter(|id| *id != CLIENT_PEER)
        .collect();
    for id in nodes {
        let Some(process) = cluster.config.process(&NodeId(id.to_string())) else {
            continue;
        };
        ControlClient::new(id, &process.address(), token)?
            .list()
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "{err}\nthe [[fault]] schedule of {} needs the control service of {id}; start the nodes with --enable-control (and set {CONTROL_TOKEN_VAR} to their token)",
                    w.name
                )
            })?;
    }
    Ok(())
}
