//! A native client of the `OverlayNode` service: one query, drained to the last chunk, and a
//! node's metrics; plaintext, or TLS (mutual when a certificate is given) to nodes that serve it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use overlay::batch::{decode_batch, to_records};
use overlay::proto::overlay_node_client::OverlayNodeClient;
use overlay::proto::{
    ChunkRequest, MetricsRequest, MetricsResponse, QueryRequest, RecordBatch, RecordFormat,
};
use overlay::record::Record;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Largest message the client accepts (a typed chunk of 10,000 records is a few MB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How long opening a connection to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest PEM file read for TLS (a certificate chain is a few KB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The TLS settings of every connection this process opens with [`endpoint`] (set once by
/// the command line's `--tls-*` flags; unset: plaintext).
static PROCESS_TLS: OnceLock<ClientTls> = OnceLock::new();

/// The files of a TLS client (or of nodes a launch starts with TLS): the CA that signed the
/// nodes' certificates, and this side's certificate and key for nodes that require one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsFiles {
    /// PEM CA certificate(s) trusted for the nodes' certificates (`--tls-ca`).
    pub ca: Option<PathBuf>,
    /// PEM certificate presented to nodes (`--tls-cert`).
    pub cert: Option<PathBuf>,
    /// Its PEM private key (`--tls-key`).
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any file is given.
    pub fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// A TLS client's settings, loaded from [`TlsFiles`]: connections go to `https://host:port`
/// and check the node's certificate against the CA for the host of the address.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: ClientTlsConfig,
}

impl ClientTls {
    /// The settings the files ask for (`None` without any). A certificate needs its key and
    /// the other way round; each file must exist and hold PEM (errors name the flag).
    pub fn load(files: &TlsFiles) -> anyhow::Result<Option<Self>> {
        if !files.any() {
            return Ok(None);
        }
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &files.ca {
            config = config.ca_certificate(Certificate::from_pem(read_pem("--tls-ca", ca)?));
        }
        match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let cert = read_pem("--tls-cert", cert)?;
                let key = read_pem("--tls-key", key)?;
                config = config.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key as well"),
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert as well"),
        }
        Ok(Some(Self { config }))
    }
}

/// Makes every connection of this process that [`endpoint`] opens use `tls` (the command
/// line's `--tls-*` flags). Only the first call counts.
pub fn use_tls(tls: ClientTls) {
    let _ = PROCESS_TLS.set(tls);
}

fn read_pem(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("{flag} {}: cannot read it", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_PEM_BYTES,
        "{flag} {}: {size} bytes; a PEM file is at most {MAX_PEM_BYTES}",
        path.display()
    );
    let pem = std::fs::read(path)
        .with_context(|| format!("{flag} {}: cannot read it", path.display()))?;
    anyhow::ensure!(
        pem.windows(11).any(|w| w == b"-----BEGIN "),
        "{flag} {}: not a PEM file (no -----BEGIN line)",
        path.display()
    );
    Ok(pem)
}

/// The endpoint of a node at `host:port` (or a full `http://` URL), with the settings every
/// connection of the harness shares: a connect timeout, no Nagle delay, HTTP/2 windows large
/// enough for typed chunks of thousands of records, and the process's TLS (see [`use_tls`]).
pub fn endpoint(address: &str) -> Result<Endpoint, ClientError> {
    endpoint_with(address, PROCESS_TLS.get())
}

/// As [`endpoint`], with `tls` instead of the process's TLS settings (`None`: plaintext).
pub fn endpoint_with(address: &str, tls: Option<&ClientTls>) -> Result<Endpoint, ClientError> {
    let bare = address.split_once("://").map_or(address, |(_, rest)| rest);
    let url = match (tls, address.contains("://")) {
        (Some(_), _) => format!("https://{bare}"),
        (None, true) => address.to_string(),
        (None, false) => format!("http://{address}"),
    };
    let bad = |err: &dyn std::fmt::Display| ClientError::Connect {
        address: address.to_string(),
        message: format!("not a node address: {err}"),
    };
    let mut endpoint = Endpoint::from_shared(url)
        .map_err(|err| bad(&err))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024);
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls.config.clone())
            .map_err(|err| bad(&err))?;
    }
    Ok(endpoint)
}

/// A client of the `OverlayNode` service over `channel` that takes the largest chunks.
pub fn node_client(channel: Channel) -> OverlayNodeClient<Channel> {
    OverlayNodeClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// Connects to a node at `host:port` (or a full `http://` URL).
pub async fn connect(address: &str) -> Result<OverlayNodeClient<Channel>, ClientError> {
    connect_with(address, PROCESS_TLS.get()).await
}

/// As [`connect`], with `tls` instead of the process's TLS settings.
pub async fn connect_with(
    address: &str,
    tls: Option<&ClientTls>,
) -> Result<OverlayNodeClient<Channel>, ClientError> {
    let channel = endpoint_with(address, tls)?
        .connect()
        .await
        .map_err(|err| ClientError::Connect {
            address: address.to_string(),
            message: format!("{err:?}"),
        })?;
    Ok(node_client(channel))
}

/// Fetches one node's metrics (`GetMetrics`).
pub async fn fetch(address: &str) -> anyhow::Result<MetricsResponse> {
    fetch_with(address, PROCESS_TLS.get()).await
}

/// As [`fetch`], with `tls` instead of the process's TLS settings.
pub async fn fetch_with(address: &str, tls: Option<&ClientTls>) -> anyhow::Result<MetricsResponse> {
    let mut client = connect_with(address, tls).await?;
    Ok(client.get_metrics(MetricsRequest {}).await?.into_inner())
}

/// Why a query could not be run to the end (a refusal by the node is not an error: it is a
/// status in [`QueryOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection.
    #[error("cannot connect to {address}: {message}")]
    Connect {
        /// Where.
        address: String,
        /// Why.
        message: String,
    },
    /// A call failed at the transport or server level.
    #[error("{call} failed: {status}")]
    Rpc {
        /// Which call.
        call: &'static str,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// A chunk read did not succeed.
    #[error("chunk {index} of {uid}: status {status}")]
    Chunk {
        /// The answer.
        uid: String,
        /// The chunk.
        index: i32,
        /// Its status.
        status: String,
    },
    /// A typed chunk was malformed.
    #[error("chunk {index} of {uid} is malformed: {message}")]
    Malformed {
        /// The answer.
        uid: String,
        /// The chunk.
        index: i32,
        /// Why.
        message: String,
    },
}

/// What to ask.
#[derive(Clone, Debug)]
pub struct QuerySpec {
    /// `filter` or `aggregate`.
    pub query_type: String,
    /// JSON params.
    pub params: String,
    /// Typed batches or the original JSON chunks.
    pub format: RecordFormat,
    /// Records per chunk; 0 = the node's default.
    pub chunk_size: i32,
    /// Shown to the node as `client_id`.
    pub client_id: String,
}

/// The records of an answer, as they arrived.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// Typed chunks.
    pub batches: Vec<RecordBatch>,
    /// JSON chunks' text.
    pub json_chunks: Vec<String>,
}

impl Drained {
    /// Every record, owned (JSON chunks parsed; aggregate rows do not parse as records).
    pub fn records(&self) -> Result<Vec<Record>, serde_json::Error> {
        let mut records: Vec<Record> = self.batches.iter().flat_map(to_records).collect();
        for chunk in &self.json_chunks {
            records.extend(serde_json::from_str::<Vec<Record>>(chunk)?);
        }
        Ok(records)
    }

    /// Every JSON row of every JSON chunk, untyped (aggregate rows).
    pub fn json_rows(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        let mut rows = Vec::new();
        for chunk in &self.json_chunks {
            rows.extend(serde_json::from_str::<Vec<serde_json::Value>>(chunk)?);
        }
        Ok(rows)
    }

    /// Records received in typed chunks.
    pub fn typed_count(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows as usize).sum()
    }

    /// Records received.
    pub fn record_count(&self) -> usize {
        self.typed_count()
            + self
                .json_chunks
                .iter()
                .map(|c| count_json_rows(c))
                .sum::<usize>()
    }
}

/// Rows of a JSON chunk: parsed and checked as JSON, but not materialized (the load
/// generator must stay far cheaper than what it measures).
fn count_json_rows(chunk: &str) -> usize {
    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(chunk)
        .map(|v| v.len())
        .unwrap_or(0)
}

/// A query's outcome as the client saw it.
#[derive(Clone, Debug)]
pub struct QueryOutcome {
    /// The query status (`ready`, `rejected`, ...).
    pub status: String,
    /// Records the node said the answer holds.
    pub total_records: i64,
    /// Chunks it said.
    pub total_chunks: i32,
    /// The path the query took.
    pub hops: Vec<String>,
    /// The answer is partial.
    pub partial: bool,
    /// Days missing from a partial answer.
    pub missing_dates: Vec<String>,
    /// Nodes whose slices are missing.
    pub missing_nodes: Vec<String>,
    /// The records, when the status is `ready`.
    pub drained: Drained,
    /// From sending the query to receiving the last chunk.
    pub latency: Duration,
}

/// Runs one query and drains every chunk.
pub async fn run_query(
    client: &mut OverlayNodeClient<Channel>,
    spec: &QuerySpec,
) -> Result<QueryOutcome, ClientError> {
    run_query_traced(client, spec, None).await
}

/// `message` as a request carrying `traceparent` (W3C trace context) in its metadata, when
/// there is one and it is valid ASCII.
fn with_trace<T>(message: T, traceparent: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(Ok(value)) = traceparent.map(str::parse) {
        request.metadata_mut().insert("traceparent", value);
    }
    request
}

/// [`run_query`] with `traceparent` on the query and on every chunk call, so the nodes record
/// the whole request under one trace (when it says sampled).
pub async fn run_query_traced(
    client: &mut OverlayNodeClient<Channel>,
    spec: &QuerySpec,
    traceparent: Option<&str>,
) -> Result<QueryOutcome, ClientError> {
    let started = Instant::now();
    let query = QueryRequest {
        query_type: spec.query_type.clone(),
        query_params: spec.params.clone(),
        hops: Vec::new(),
        client_id: spec.client_id.clone(),
        record_format: spec.format as i32,
        chunk_size: spec.chunk_size,
    };
    let response = client
        .query(with_trace(query, traceparent))
        .await
        .map_err(|status| ClientError::Rpc {
            call: "Query",
            status: Box::new(status),
        })?
        .into_inner();
    let mut drained = Drained::default();
    if response.status == "ready" {
        drain(client, &response.uid, &mut drained, traceparent).await?;
    }
    Ok(QueryOutcome {
        status: response.status,
        total_records: response.total_records,
        total_chunks: response.total_chunks,
        hops: response.hops,
        partial: response.partial,
        missing_dates: response.missing_dates,
        missing_nodes: response.missing_nodes,
        drained,
        latency: started.elapsed(),
    })
}

async fn drain(
    client: &mut OverlayNodeClient<Channel>,
    uid: &str,
    drained: &mut Drained,
    traceparent: Option<&str>,
) -> Result<(), ClientError> {
    let mut index = 0;
    loop {
        let request = ChunkRequest {
            uid: uid.to_string(),
            chunk_index: index,
        };
        let chunk = client
            .get_chunk(with_trace(request, traceparent))
            .await
            .map_err(|status| ClientError::Rpc {
                call: "GetChunk",
                status: Box::new(status),
            })?
            .into_inner();
        if chunk.status != "success" {
            return Err(ClientError::Chunk {
                uid: uid.to_string(),
                index,
                status: chunk.status,
            });
        }
        if chunk.batches.is_empty() {
            drained.json_chunks.push(chunk.data);
        }
        for part in &chunk.batches {
            let batch = decode_batch(part).map_err(|err| ClientError::Malformed {
                uid: uid.to_string(),
                index,
                message: err.to_string(),
            })?;
            drained.batches.push(batch);
        }
        if chunk.is_last {
            return Ok(());
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_taken_with_or_without_its_scheme() {
        let bare = endpoint("127.0.0.1:50051").unwrap();
        let url = endpoint("http://127.0.0.1:50051").unwrap();
        assert_eq!(bare.uri(), url.uri());
        assert_eq!(bare.uri().to_string(), "http://127.0.0.1:50051/");
        assert!(matches!(
            endpoint("not an address"),
            Err(ClientError::Connect { .. })
        ));
    }

    #[test]
    fn tls_files_are_checked_naming_the_flag() {
        assert!(ClientTls::load(&TlsFiles::default()).unwrap().is_none());
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "plain text").unwrap();
        let missing = dir.path().join("missing.pem");
        for (files, expected) in [
            (
                TlsFiles {
                    ca: Some(missing.clone()),
                    ..TlsFiles::default()
                },
                "--tls-ca",
            ),
            (
                TlsFiles {
                    ca: Some(junk.clone()),
                    ..TlsFiles::default()
                },
                "not a PEM file",
            ),
            (
                TlsFiles {
                    cert: Some(junk.clone()),
                    ..TlsFiles::default()
                },
                "--tls-cert needs --tls-key",
            ),
        ] {
            let err = format!("{:#}", ClientTls::load(&files).unwrap_err());
            assert!(err.contains(expected), "{err}");
        }
    }
}
