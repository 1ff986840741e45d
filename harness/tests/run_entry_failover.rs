//! Entry failover under harness load: the leader the load generator talks to is killed, and
//! every query still gets its answer through a team leader.

mod common;

use common::workspace_root;

use overlay_harness::results::RunResults;
use overlay_harness::run::{run, RunOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_fail_over_to_a_team_leader_when_the_leader_dies() {
    let root = workspace_root();
    std::env::set_current_dir(&root).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let workload = common::short_failover_workload(
        tmp.path(),
        "entry_failover",
        4,
        4,
        "[[fault]]\nat_s = 1\naction = \"kill\"\ntarget = \"A\"\nduration_s = 2\n",
    );
    let dir = run(RunOptions {
        workload,
        out: tmp.path().join("reports"),
        strategies: None,
        concurrency: None,
        data_path: Some(common::small_dataset().to_path_buf()),
        build_node: false,
        progress: false,
        raw: Default::default(),
        node_args: Vec::new(),
    })
    .await
    .expect("run");
    let results = RunResults::load(&dir).unwrap();
    let step = &results.strategies[0].steps[0];
    let faults = step.faults.as_ref().expect("fault figures");
    let kill = &faults.per_window[0];
    assert!(kill.ok > 0 && kill.failed == 0, "{kill:?}");
    assert!(
        kill.retried > 0,
        "queries went through a team leader: {kill:?}"
    );
    assert_eq!(step.measure.correctness.failures(), 0);
}
