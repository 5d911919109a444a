//! TLS: loads a PEM certificate chain and key into a rustls acceptor.
//!
//! Uses the rustls (ring provider) that pgwire is built with, so no second
//! crypto library enters the build.

use std::path::Path;
use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::error::ServerError;

/// ALPN name PostgreSQL 17+ clients send for direct TLS connections.
const POSTGRESQL_ALPN: &[u8] = b"postgresql";

/// Builds a TLS acceptor from a PEM certificate chain file and a PEM private
/// key file (PKCS#8, PKCS#1/RSA or SEC1/EC).
pub fn load_acceptor(cert_path: &Path, key_path: &Path) -> Result<TlsAcceptor, ServerError> {
    // Several crypto providers may be compiled in; pick ring explicitly
    // instead of relying on a process-wide default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| tls_error(cert_path, format!("cannot read certificate file: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(cert_path, format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(cert_path, "no CERTIFICATE block found".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| tls_error(key_path, format!("cannot read private key: {e}")))?;

    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cert_path, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(key_path, format!("certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![POSTGRESQL_ALPN.to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn tls_error(path: &Path, message: String) -> ServerError {
    ServerError::Tls {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_name_the_path() {
        let err = load_acceptor(Path::new("/nonexistent/cert.pem"), Path::new("/nonexistent/key.pem"))
            .err()
            .expect("missing file must fail");
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn garbage_certificate_is_refused() {
        let dir = std::env::temp_dir().join(format!("omicsdb-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let err = load_acceptor(&cert, &key).err().expect("garbage must fail");
        assert!(err.to_string().contains("cert.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
