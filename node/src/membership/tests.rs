//! The adapter on a simulated network, in paused time: members killed, late, partitioned and
//! healed, lossy links, and bad datagrams.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overlay::config::Health;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::driver::{self, Observer, Transport};
use super::envelope::{seal, DropReason, MAX_DATAGRAM_BYTES};
use super::settings::Settings;
use super::stats::Stats;
use super::swim::{Adapter, Change};

const CLUSTER: u64 = 0xC1;

/// Who hears whom: killed members, partition groups, loss and per-member delay.
#[derive(Default)]
struct Rules {
    dead: HashSet<u16>,
    group: Vec<u8>,
    loss: f64,
    late: Vec<Duration>,
}

struct Net {
    inboxes: Vec<mpsc::Sender<Vec<u8>>>,
    rules: Mutex<Rules>,
}

struct Link {
    from: u16,
    net: Arc<Net>,
}

impl Transport for Link {
    fn send(&self, to: u16, datagram: &[u8]) {
        let delay = {
            let rules = self.net.rules.lock().unwrap();
            let (f, t) = (usize::from(self.from), usize::from(to));
            if rules.dead.contains(&to)
                || rules.dead.contains(&self.from)
                || rules.group[f] != rules.group[t]
                || rand::rng().random::<f64>() < rules.loss
            {
                return;
            }
            rules.late[f] + rules.late[t]
        };
        let inbox = self.net.inboxes[usize::from(to)].clone();
        let datagram = datagram.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(delay + Duration::from_millis(1)).await;
            let _ = inbox.try_send(datagram);
        });
    }
}

#[derive(Default)]
struct Seen {
    changes: Mutex<Vec<Change>>,
    level: AtomicU32,
}

impl Observer for Seen {
    fn changed(&self, change: Change) {
        self.changes.lock().unwrap().push(change);
    }
    fn admit(&self, _from: u16) -> Option<Duration> {
        Some(Duration::ZERO)
    }
    fn may_send(&self, _to: u16) -> bool {
        true
    }
    fn load_level(&self) -> u32 {
        self.level.load(Ordering::Relaxed)
    }
}

struct Cluster {
    net: Arc<Net>,
    stats: Vec<Arc<Stats>>,
    seen: Vec<Arc<Seen>>,
    tasks: Vec<JoinHandle<()>>,
}

fn settings() -> Settings {
    Settings::from_health(&Health {
        interval_ms: 250,
        timeout_ms: 800,
        failure_threshold: 2,
    })
}

fn cluster(n: u16) -> Cluster {
    let mut inboxes = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..n {
        let (tx, rx) = mpsc::channel(1024);
        inboxes.push(tx);
        receivers.push(rx);
    }
    let net = Arc::new(Net {
        inboxes,
        rules: Mutex::new(Rules {
            group: vec![0; usize::from(n)],
            late: vec![Duration::ZERO; usize::from(n)],
            ..Rules::default()
        }),
    });
    let mut c = Cluster {
        net: net.clone(),
        stats: Vec::new(),
        seen: Vec::new(),
        tasks: Vec::new(),
    };
    for (i, rx) in (0..n).zip(receivers) {
        let stats = Arc::new(Stats::default());
        let seen = Arc::new(Seen::default());
        let adapter = Adapter::new(
            i,
            n,
            CLUSTER,
            1000 + u64::from(i),
            settings(),
            u64::from(i),
            stats.clone(),
        );
        let link = Arc::new(Link {
            from: i,
            net: net.clone(),
        });
        c.tasks
            .push(tokio::spawn(driver::run(adapter, rx, link, seen.clone())));
        c.stats.push(stats);
        c.seen.push(seen);
    }
    c
}

impl Cluster {
    fn alive(&self, i: usize) -> i32 {
        self.stats[i].view().0
    }

    fn all_see(&self, members: impl IntoIterator<Item = usize>, alive: i32) -> bool {
        members.into_iter().all(|i| self.alive(i) == alive)
    }

    fn declared_down(&self, observer: usize, member: u16) -> bool {
        self.seen[observer]
            .changes
            .lock()
            .unwrap()
            .contains(&Change::Down(member))
    }

    fn kill(&mut self, i: u16) {
        self.tasks[usize::from(i)].abort();
        self.net.rules.lock().unwrap().dead.insert(i);
    }

    async fn wait_for(&self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < until {
            if done(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        done(self)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_killed_member_is_declared_down_by_everyone() {
    let mut c = cluster(6);
    assert!(
        c.wait_for(Duration::from_secs(5), |c| c.all_see(0..6, 6))
            .await
    );
    c.kill(5);
    let everyone_knows = |c: &Cluster| c.all_see(0..5, 5) && (0..5).all(|i| c.declared_down(i, 5));
    assert!(
        c.wait_for(Duration::from_secs(15), everyone_knows).await,
        "views: {:?}",
        (0..5).map(|i| c.stats[i].view()).collect::<Vec<_>>()
    );
    // A bounded cost: one probe and its answer per period, plus gossip, not n per period.
    let sent = c.stats[0].to_proto("swim", 0).messages_sent;
    assert!(sent < 600, "{sent} messages in about 20 s");
}

#[tokio::test(start_paused = true)]
async fn a_member_that_answers_late_is_not_declared_down() {
    let c = cluster(6);
    assert!(
        c.wait_for(Duration::from_secs(5), |c| c.all_see(0..6, 6))
            .await
    );
    // Past the direct probe's round trip, within the period.
    c.net.rules.lock().unwrap().late[4] = Duration::from_millis(120);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!((0..6).all(|i| !c.declared_down(i, 4)));
    assert!(c.all_see(0..6, 6));
}

#[tokio::test(start_paused = true)]
async fn a_healed_partition_merges_again() {
    let c = cluster(6);
    assert!(
        c.wait_for(Duration::from_secs(5), |c| c.all_see(0..6, 6))
            .await
    );
    c.net.rules.lock().unwrap().group = vec![0, 0, 0, 1, 1, 1];
    assert!(
        c.wait_for(Duration::from_secs(20), |c| c.all_see(0..6, 3))
            .await
    );
    c.net.rules.lock().unwrap().group = vec![0; 6];
    assert!(
        c.wait_for(Duration::from_secs(30), |c| c.all_see(0..6, 6))
            .await,
        "views: {:?}",
        (0..6).map(|i| c.stats[i].view()).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn light_message_loss_declares_no_one() {
    let c = cluster(8);
    assert!(
        c.wait_for(Duration::from_secs(5), |c| c.all_see(0..8, 8))
            .await
    );
    c.net.rules.lock().unwrap().loss = 0.05;
    tokio::time::sleep(Duration::from_secs(30)).await;
    c.net.rules.lock().unwrap().loss = 0.0;
    // Suspicions may come and go; within a few periods every view is whole again.
    assert!(
        c.wait_for(Duration::from_secs(10), |c| c.all_see(0..8, 8))
            .await
    );
}

#[tokio::test(start_paused = true)]
async fn bad_datagrams_are_dropped_and_counted() {
    let stats = Arc::new(Stats::default());
    let mut adapter = Adapter::new(0, 3, CLUSTER, 1, settings(), 0, stats.clone());
    let _ = adapter.start();
    let cases: [(Vec<u8>, DropReason); 5] = [
        (seal(CLUSTER + 1, 1, b"x"), DropReason::OtherCluster),
        (seal(CLUSTER, 7, b"x"), DropReason::UnknownSender),
        (b"garbage".to_vec(), DropReason::Malformed),
        (vec![0u8; MAX_DATAGRAM_BYTES + 1], DropReason::Oversized),
        (seal(CLUSTER, 1, &[0xff; 30]), DropReason::Rejected),
    ];
    for (datagram, reason) in &cases {
        assert_eq!(adapter.receive(datagram).unwrap_err(), *reason);
        assert_eq!(stats.drops(*reason), 1, "{reason:?}");
    }
    // A header naming a sender other than the envelope's is not trusted either.
    let mut peer = Adapter::new(2, 3, CLUSTER, 5, settings(), 2, Arc::default());
    let (_, from_two) = peer
        .start()
        .sends
        .into_iter()
        .find(|(to, _)| *to == 0)
        .expect("an announce to member 0");
    let mut spoofed = from_two.clone();
    spoofed[12] = 1;
    assert_eq!(adapter.receive(&spoofed).unwrap_err(), DropReason::Rejected);
    assert!(adapter.receive(&from_two).is_ok());
    assert_eq!(stats.to_proto("swim", 0).datagrams_dropped, 6);
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_node_stretches_its_timeouts() {
    let mut adapter = Adapter::new(0, 3, CLUSTER, 1, settings(), 0, Arc::default());
    let _ = adapter.start();
    let _ = adapter.tick(2);
    assert_eq!(adapter.stretch(), 3);
    let _ = adapter.tick(0);
    assert_eq!(adapter.stretch(), 1);
}
