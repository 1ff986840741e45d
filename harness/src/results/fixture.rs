//! Test fixture: a run of the shipped sweep's workload with made-up steps.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Machine, RunResults, Step, StrategyRun, SCHEMA};
use crate::stats::{HistData, StepMeasure};
use crate::workload::validate::{parse, validate};

/// One-second steps that answered `ok` requests, each of them in 1 ms.
pub(crate) fn step(concurrency: u32, repetition: u32, ok: u64) -> Step {
    let mut measure = StepMeasure {
        elapsed_s: 1.0,
        ..Default::default()
    };
    measure.overall.ok = HistData {
        buckets: vec![(1000, ok)],
    };
    measure.overall.answer = measure.overall.ok.clone();
    measure.overall.attempts = ok;
    Step {
        concurrency,
        repetition,
        measure,
        admission: Vec::new(),
        faults: None,
        trace: None,
    }
}

/// `strategy` with these steps.
pub(crate) fn strategy(name: &str, steps: Vec<Step>) -> StrategyRun {
    StrategyRun {
        strategy: name.to_string(),
        target: String::new(),
        startup_s: 0.0,
        steps,
        processes: Vec::new(),
        logs: BTreeMap::new(),
        state_transitions: Vec::new(),
        state_changes: Vec::new(),
        step_starts: Vec::new(),
        topology: None,
        links: Vec::new(),
    }
}

/// A run `run_id` of `workloads/fairness_sweep.toml` with these strategies.
pub(crate) fn run(run_id: &str, strategies: Vec<StrategyRun>) -> RunResults {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("workloads/fairness_sweep.toml");
    let mut spec = parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    spec.cluster.config = spec.cluster.config.map(|c| root.join(c));
    RunResults {
        schema: SCHEMA,
        run_id: run_id.to_string(),
        workload: validate(&path, spec).unwrap(),
        cluster_config: serde_json::json!({}),
        git_revision: String::new(),
        machine: Machine {
            hostname: "host".into(),
            cpus: 2,
            ..Default::default()
        },
        started_unix_s: 0,
        wall_s: 0.0,
        interrupted: None,
        baseline: None,
        strategies,
        thresholds: Vec::new(),
        data: Default::default(),
    }
}
