//! TLS for `dsm node serve --tls-cert/--tls-key` (PROTOCOL.md §15.4): rustls on aws-lc-rs,
//! TLS 1.2 and 1.3, preferring the X25519MLKEM768 hybrid key exchange.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server's TLS configuration, as [`crate::serve_tls`] takes it.
pub type ServerConfig = Arc<rustls::ServerConfig>;

/// A server configuration from PEM files: `cert` holds the certificate chain (leaf first),
/// `key` its private key (PKCS#8, PKCS#1 or SEC1). The error says which file is wrong.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and the key do not go together: {e}"))?;
    Ok(Arc::new(config))
}

/// The leaf certificate of a chain file, DER: what a wallet pins (by its public key).
pub fn leaf_certificate(cert: &Path) -> Result<Vec<u8>, String> {
    CertificateDer::pem_file_iter(cert)
        .and_then(|mut it| it.next().transpose())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| format!("{} holds no PEM certificate", cert.display()))
}
