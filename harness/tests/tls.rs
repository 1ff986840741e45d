//! Mutual TLS on a real six-node cluster, with certificates made here: a CA, one node
//! certificate for 127.0.0.1/localhost that every node uses (for serving and for its peer
//! calls), a client certificate, and an unrelated CA with its own client certificate. A count
//! through the leader equals the plain cluster's (so every peer call went over mutual TLS);
//! clients without a certificate, with one of the unrelated CA, or in plaintext are refused;
//! a good client is still served after them. A key that does not match its certificate stops
//! the node at start-up with an error naming the flag.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{free_port_config, small_dataset, workspace_root};
use overlay::proto::{MetricsRequest, RecordFormat};
use overlay_harness::client::{connect_with, run_query, ClientTls, QuerySpec, TlsFiles};
use overlay_harness::cluster::binary::node_binary;
use overlay_harness::cluster::launcher::{LaunchOptions, LocalCluster, NodeSettings};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

/// Certificates and keys written to a temporary folder.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The node files (served and presented by every node), with the CA as client CA.
    fn node_files(&self) -> TlsFiles {
        TlsFiles {
            ca: Some(self.path("ca.pem")),
            cert: Some(self.path("node.pem")),
            key: Some(self.path("node.key")),
        }
    }

    /// A client trusting the CA, presenting `who`'s certificate (`None`: no certificate).
    fn client(&self, who: Option<&str>) -> ClientTls {
        let files = TlsFiles {
            ca: Some(self.path("ca.pem")),
            cert: who.map(|w| self.path(&format!("{w}.pem"))),
            key: who.map(|w| self.path(&format!("{w}.key"))),
        };
        ClientTls::load(&files)
            .expect("client files load")
            .expect("files given")
    }
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("ca key");
    let cert = params.self_signed(&key).expect("ca certificate");
    (cert.pem(), Issuer::new(params, key))
}

fn write_leaf(dir: &Path, name: &str, sans: &[&str], issuer: &Issuer<'static, KeyPair>) {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("leaf certificate");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write cert");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write key");
}

fn make_pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca_pem, ca) = new_ca("overlay test CA");
    std::fs::write(dir.path().join("ca.pem"), ca_pem).expect("write ca");
    write_leaf(dir.path(), "node", &["127.0.0.1", "localhost"], &ca);
    write_leaf(dir.path(), "client", &["client"], &ca);
    let (other_pem, other) = new_ca("unrelated CA");
    std::fs::write(dir.path().join("other-ca.pem"), other_pem).expect("write other ca");
    write_leaf(dir.path(), "stranger", &["stranger"], &other);
    Pki { dir }
}

/// A config of the shipped six processes on free loopback ports, written into `dir`.
fn write_config(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("configs/one_host_config.json"))
        .expect("config");
    let path = dir.join("cluster.json");
    std::fs::write(&path, free_port_config(&shipped, Default::default())).expect("write config");
    path
}

async fn start(dir: &Path, tls: TlsFiles) -> LocalCluster {
    LocalCluster::start(LaunchOptions {
        config_path: write_config(dir),
        dataset_root: small_dataset().to_path_buf(),
        node_dataset_roots: Default::default(),
        node_binary: node_binary(false).expect("overlay-node is built by cargo test"),
        log_dir: dir.join("logs"),
        settings: NodeSettings {
            tls,
            ..NodeSettings::default()
        },
        extra_args: Vec::new(),
        ready_timeout: Duration::from_secs(90),
    })
    .await
    .expect("cluster starts")
}

/// Every row through the leader, as one `count`; fails unless ready and complete.
async fn count(address: &str, tls: Option<&ClientTls>) -> Result<i64, String> {
    let mut client = connect_with(address, tls)
        .await
        .map_err(|e| e.to_string())?;
    let spec = QuerySpec {
        query_type: "aggregate".to_string(),
        params: r#"{"op": "count"}"#.to_string(),
        format: RecordFormat::Json,
        chunk_size: 0,
        client_id: "tls-test".to_string(),
    };
    let outcome = tokio::time::timeout(Duration::from_secs(30), run_query(&mut client, &spec))
        .await
        .map_err(|_| "query timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if outcome.status != "ready" || outcome.partial {
        return Err(format!(
            "status {} partial {} missing {:?}",
            outcome.status, outcome.partial, outcome.missing_nodes
        ));
    }
    let rows = outcome.drained.json_rows().map_err(|e| e.to_string())?;
    rows[0]["value"]
        .as_i64()
        .ok_or_else(|| format!("no count in {rows:?}"))
}

/// Asserts that a `GetMetrics` call with `tls` fails (at connect or at the call).
async fn assert_refused(address: &str, tls: Option<&ClientTls>, who: &str) {
    let attempt = async {
        let mut client = connect_with(address, tls)
            .await
            .map_err(|e| e.to_string())?;
        client
            .get_metrics(MetricsRequest {})
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(15), attempt).await {
        Ok(Ok(())) => panic!("{who} was served"),
        Ok(Err(why)) => eprintln!("{who} refused: {why}"),
        Err(_) => eprintln!("{who} refused: no answer within 15 s"),
    }
}

/// `harness metrics --node` answers with the TLS flags (given as env vars for the
/// certificate, as flags for the CA) and fails without them.
fn assert_cli_metrics(pki: &Pki, leader: &str) {
    let harness = |tls: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_harness"));
        command.args(["metrics", "--node", leader]);
        command.env_remove("OVERLAY_TLS_CA");
        if tls {
            command.arg("--tls-ca").arg(pki.path("ca.pem"));
            command.env("OVERLAY_TLS_CERT", pki.path("client.pem"));
            command.env("OVERLAY_TLS_KEY", pki.path("client.key"));
        } else {
            command.env_remove("OVERLAY_TLS_CERT");
            command.env_remove("OVERLAY_TLS_KEY");
        }
        command.output().expect("harness runs")
    };
    let served = harness(true);
    assert!(
        served.status.success(),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );
    let stdout = String::from_utf8_lossy(&served.stdout);
    assert!(stdout.contains('A'), "{stdout}");
    assert!(!harness(false).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutual_tls_cluster_answers_members_and_refuses_strangers() {
    let pki = make_pki();
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let plain = start(plain_dir.path(), TlsFiles::default()).await;
    let expected = count(&plain.leader_address(), None)
        .await
        .expect("plain cluster counts");
    plain.stop();
    assert!(expected > 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start(dir.path(), pki.node_files()).await;
    let leader = cluster.leader_address();
    let good = pki.client(Some("client"));
    assert_eq!(count(&leader, Some(&good)).await, Ok(expected));

    assert_refused(
        &leader,
        Some(&pki.client(None)),
        "a client without a certificate",
    )
    .await;
    assert_refused(
        &leader,
        Some(&pki.client(Some("stranger"))),
        "a client certified by an unrelated CA",
    )
    .await;
    assert_refused(&leader, None, "a plaintext client").await;

    assert_eq!(count(&leader, Some(&good)).await, Ok(expected));
    assert_cli_metrics(&pki, &leader);
    cluster.stop();
}

#[tokio::test]
async fn a_key_that_does_not_match_its_certificate_stops_the_node_naming_the_flag() {
    let pki = make_pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let output = std::process::Command::new(node_binary(false).expect("overlay-node"))
        .arg(&config)
        .arg("A")
        .arg("--dataset-root")
        .arg(small_dataset())
        .arg("--tls-cert")
        .arg(pki.path("node.pem"))
        .arg("--tls-key")
        .arg(pki.path("client.key"))
        .arg("--tls-ca")
        .arg(pki.path("ca.pem"))
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("--tls-key") && stderr.contains("client.key"),
        "{stderr}"
    );
    assert!(stderr.contains("does not match"), "{stderr}");
}
