//! Who may call what: the cluster secret that every peer call carries in its metadata (and
//! that the `OverlayPeer` service checks), and the control token check shared by
//! `OverlayControl` and the original `OverlayNode/Shutdown`. Secrets are compared in constant
//! time and read from files, never from the command line where `ps` would show them.

use std::path::Path;
use std::sync::Arc;

use overlay::config::NodeId;
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Metadata key of the cluster secret on peer calls.
pub const CLUSTER_TOKEN_HEADER: &str = "x-overlay-cluster-token";

/// Metadata key of the control token on `OverlayNode/Shutdown` (whose original request has
/// no token field).
pub const CONTROL_TOKEN_HEADER: &str = "x-overlay-control-token";

/// Longest secret accepted from a token file, in bytes.
const MAX_TOKEN_BYTES: usize = 1024;

/// Shortest secret accepted: anything shorter is guessable.
const MIN_TOKEN_BYTES: usize = 16;

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("cannot read cluster token file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The content is not a usable secret.
    #[error("cluster token file {path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// Reads a secret from `path`: one line of 16 to 1024 visible ASCII characters (surrounding
/// whitespace ignored).
pub fn read_token_file(path: &Path) -> Result<Arc<str>, TokenError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io {
        path: shown.clone(),
        source,
    })?;
    let token = text.trim();
    let invalid = |problem: String| TokenError::Invalid {
        path: shown.clone(),
        problem,
    };
    if token.len() < MIN_TOKEN_BYTES || token.len() > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "the secret is {} bytes; it must be {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "the secret must be visible ASCII characters without spaces".to_string(),
        ));
    }
    Ok(Arc::from(token))
}

/// A fresh random secret (128 bits, hex), for clusters started by the harness.
pub fn fresh_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Equality whose running time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `metadata` carries `expected` under `key`.
pub fn metadata_matches(metadata: &MetadataMap, key: &str, expected: &str) -> bool {
    metadata
        .get(key)
        .is_some_and(|value| constant_time_eq(value.as_bytes(), expected.as_bytes()))
}

/// Adds the cluster secret to every outgoing peer call (nothing when there is none).
#[derive(Clone, Debug, Default)]
pub struct ClusterAuth {
    value: Option<MetadataValue<Ascii>>,
}

impl ClusterAuth {
    /// Sends `token` with every call; `None` sends nothing.
    pub fn new(token: Option<&str>) -> Self {
        Self {
            value: token.and_then(|t| MetadataValue::try_from(t).ok()),
        }
    }
}

impl Interceptor for ClusterAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.value {
            request
                .metadata_mut()
                .insert(CLUSTER_TOKEN_HEADER, value.clone());
        }
        Ok(request)
    }
}

/// Lets through only peer calls that carry the cluster secret (all of them when the node
/// has none).
#[derive(Clone, Debug, Default)]
pub struct PeerGate {
    token: Option<Arc<str>>,
}

impl PeerGate {
    /// Checks for `token`; `None` checks nothing.
    pub fn new(token: Option<Arc<str>>) -> Self {
        Self { token }
    }
}

impl Interceptor for PeerGate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match &self.token {
            Some(token) if !metadata_matches(request.metadata(), CLUSTER_TOKEN_HEADER, token) => {
                Err(Status::unauthenticated(format!(
                    "OverlayPeer answers only members of this cluster: send the cluster secret in the {CLUSTER_TOKEN_HEADER} metadata"
                )))
            }
            _ => Ok(request),
        }
    }
}

/// The control service's switch and optional token.
#[derive(Clone, Debug, Default)]
pub struct ControlSettings {
    /// Off unless the node was started with `--enable-control`.
    pub enabled: bool,
    /// When set, every control request must carry it.
    pub token: Option<String>,
}

impl ControlSettings {
    /// Refuses a control request unless control is enabled on `node` and `token` matches
    /// (compared in constant time).
    pub fn authorize(&self, node: &NodeId, token: &str) -> Result<(), ControlRefusal> {
        if !self.enabled {
            return Err(ControlRefusal::Disabled(node.clone()));
        }
        match &self.token {
            Some(expected) if !constant_time_eq(expected.as_bytes(), token.as_bytes()) => {
                Err(ControlRefusal::WrongToken(node.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// Why a control request (or the original `Shutdown`) is refused before it is looked at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlRefusal {
    /// The node runs without `--enable-control`.
    #[error("the control service of {0} is disabled; start the node with --enable-control")]
    Disabled(NodeId),
    /// The token is missing or wrong.
    #[error("wrong or missing control token for {0}; pass the token the node was started with")]
    WrongToken(NodeId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_needs_the_flag_then_the_token() {
        let node = NodeId("A".into());
        let off = ControlSettings::default();
        let refused = off.authorize(&node, "").unwrap_err();
        assert_eq!(refused, ControlRefusal::Disabled(node.clone()));
        assert!(refused.to_string().contains("--enable-control"));
        let on = ControlSettings {
            enabled: true,
            token: Some("secret".into()),
        };
        assert_eq!(
            on.authorize(&node, "").unwrap_err(),
            ControlRefusal::WrongToken(node.clone())
        );
        assert!(on.authorize(&node, "secreT").is_err());
        assert!(on.authorize(&node, "secret").is_ok());
    }

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn the_gate_needs_the_secret_the_client_adds() {
        let token: Arc<str> = Arc::from("0123456789abcdef0123");
        let mut gate = PeerGate::new(Some(token.clone()));
        assert_eq!(
            gate.call(Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let mut client = ClusterAuth::new(Some(&token));
        let signed = client.call(Request::new(())).unwrap();
        assert!(gate.call(signed).is_ok());
        let mut wrong = ClusterAuth::new(Some("0123456789abcdef0124"));
        assert!(gate.call(wrong.call(Request::new(())).unwrap()).is_err());
        assert!(PeerGate::new(None).call(Request::new(())).is_ok());
    }

    #[test]
    fn token_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "short\n").unwrap();
        assert!(read_token_file(&path)
            .unwrap_err()
            .to_string()
            .contains("5 bytes"));
        std::fs::write(&path, format!("{}\n", fresh_token())).unwrap();
        assert_eq!(read_token_file(&path).unwrap().len(), 32);
        assert!(read_token_file(&dir.path().join("none")).is_err());
    }
}
