//! Optional TLS for every service the node serves and for its calls to its peers: the
//! `--tls-cert`, `--tls-key` and `--tls-ca` files, checked at start-up with errors naming the
//! flag and the file, and turned into tonic's server and client TLS settings.
//!
//! With a certificate and key the node serves TLS; with a CA as well, every client (peers,
//! control and ordinary clients alike) must present a certificate that CA signed. The node's
//! own peer calls present the same certificate and trust the CA (without a CA, the
//! certificates of the `--tls-cert` file itself). Peers are reached at their config host, so
//! the certificate must name that host (an IP address SAN for an address).

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Longest a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest PEM file read (a certificate chain is a few KB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Why the TLS files cannot be used; each names the flag and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A flag that needs another was given alone.
    #[error("{flag} needs {needs} as well")]
    Needs {
        /// The flag given.
        flag: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// The file cannot be read.
    #[error("{flag} {}: cannot read it ({source})", path.display())]
    Unreadable {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not what the flag expects.
    #[error("{flag} {}: {why}", path.display())]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The node's TLS identity and trust, loaded and checked.
#[derive(Clone, Debug)]
pub struct NodeTls {
    identity: Identity,
    client_ca: Option<Certificate>,
    trust: Certificate,
}

impl NodeTls {
    /// The TLS settings the three flags ask for: `None` without any of them. Fails, naming
    /// the flag and file, on a missing or unreadable file, a file that is not PEM, a key that
    /// does not match the certificate, or a flag given without those it needs.
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        ca: Option<&Path>,
    ) -> Result<Option<Self>, TlsError> {
        let (cert_path, key_path) = match (cert, key, ca) {
            (None, None, None) => return Ok(None),
            (Some(cert), Some(key), _) => (cert, key),
            (None, Some(_), _) => return Err(needs("--tls-key", "--tls-cert")),
            (Some(_), None, _) => return Err(needs("--tls-cert", "--tls-key")),
            (None, None, Some(_)) => return Err(needs("--tls-ca", "--tls-cert and --tls-key")),
        };
        let cert_pem = read_pem("--tls-cert", cert_path)?;
        let chain = certificates("--tls-cert", cert_path, &cert_pem)?;
        let key_pem = read_pem("--tls-key", key_path)?;
        check_key(key_path, &key_pem, chain)?;
        let client_ca = match ca {
            Some(path) => {
                let pem = read_pem("--tls-ca", path)?;
                certificates("--tls-ca", path, &pem)?;
                Some(Certificate::from_pem(pem))
            }
            None => None,
        };
        Ok(Some(Self {
            identity: Identity::from_pem(&cert_pem, &key_pem),
            trust: client_ca
                .clone()
                .unwrap_or_else(|| Certificate::from_pem(&cert_pem)),
            client_ca,
        }))
    }

    /// Whether clients must present a certificate signed by `--tls-ca`.
    pub fn mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// The server side: this node's identity, and the client CA when mutual.
    pub fn server_config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new()
            .identity(self.identity.clone())
            .timeout(HANDSHAKE_TIMEOUT);
        match &self.client_ca {
            Some(ca) => config.client_ca_root(ca.clone()),
            None => config,
        }
    }

    /// The client side of peer calls: the same identity, the CA as trust root. The server
    /// name checked is the host of the peer's address.
    pub fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.trust.clone())
            .identity(self.identity.clone())
    }
}

fn needs(flag: &'static str, needs: &'static str) -> TlsError {
    TlsError::Needs { flag, needs }
}

fn read_pem(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let unreadable = |source| TlsError::Unreadable {
        flag,
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_PEM_BYTES {
        return Err(invalid(
            flag,
            path,
            format!("{size} bytes; a PEM file is at most {MAX_PEM_BYTES}"),
        ));
    }
    std::fs::read(path).map_err(unreadable)
}

fn invalid(flag: &'static str, path: &Path, why: impl Into<String>) -> TlsError {
    TlsError::Invalid {
        flag,
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// The certificates of a PEM file: at least one, each well formed.
fn certificates(
    flag: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(flag, path, format!("not a PEM certificate file ({err})")))?;
    if chain.is_empty() {
        return Err(invalid(
            flag,
            path,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    for cert in &chain {
        rustls::server::ParsedCertificate::try_from(cert)
            .map_err(|err| invalid(flag, path, format!("holds a malformed certificate ({err})")))?;
    }
    Ok(chain)
}

/// The key parses as a PEM private key of a supported type and is the one of the first
/// certificate of `chain`.
fn check_key(path: &Path, pem: &[u8], chain: Vec<CertificateDer<'static>>) -> Result<(), TlsError> {
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|err| {
        invalid(
            "--tls-key",
            path,
            format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1) ({err})"),
        )
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|err| {
        invalid(
            "--tls-key",
            path,
            format!("not a usable private key ({err})"),
        )
    })?;
    rustls::sign::CertifiedKey::new(chain, signing)
        .keys_match()
        .map_err(|_| {
            invalid(
                "--tls-key",
                path,
                "does not match the --tls-cert certificate",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_mean_no_tls_and_lone_flags_name_what_they_need() {
        assert!(NodeTls::load(None, None, None).unwrap().is_none());
        let p = Path::new("x.pem");
        let err = NodeTls::load(None, None, Some(p)).unwrap_err().to_string();
        assert!(err.contains("--tls-ca needs --tls-cert"), "{err}");
        let err = NodeTls::load(Some(p), None, None).unwrap_err().to_string();
        assert!(err.contains("--tls-cert needs --tls-key"), "{err}");
        let err = NodeTls::load(None, Some(p), None).unwrap_err().to_string();
        assert!(err.contains("--tls-key needs --tls-cert"), "{err}");
    }

    #[test]
    fn missing_and_non_pem_files_name_the_flag_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let missing = dir.path().join("missing.pem");
        let err = NodeTls::load(Some(&missing), Some(&junk), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--tls-cert")
                && err.contains("missing.pem")
                && err.contains("cannot read"),
            "{err}"
        );
        let err = NodeTls::load(Some(&junk), Some(&junk), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--tls-cert") && err.contains("junk.pem") && err.contains("PEM"),
            "{err}"
        );
    }
}
