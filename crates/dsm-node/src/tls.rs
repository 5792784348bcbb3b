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

/// The node's own self-signed certificate in `dir` (`tls-cert.pem`, `tls-key.pem`, the key
/// readable by its owner only), made on first use and kept: its key, and so the pin wallets
/// hold, stays the same across restarts. Returns the two paths.
pub fn self_signed(
    dir: &Path,
    names: &[String],
) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let (cert, key) = (dir.join("tls-cert.pem"), dir.join("tls-key.pem"));
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok((cert, key)),
        (false, false) => {}
        _ => {
            return Err(format!(
                "{} holds only one of tls-cert.pem and tls-key.pem; remove it to make a new \
                 certificate (wallets then need the new pin)",
                dir.display()
            ))
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let write = |path: &Path, text: String, private: bool| -> Result<(), String> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = o
            .open(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    // The key first: a crash between the two leaves a key alone, refused above with what
    // to do, never a certificate without its key.
    write(&key, made.signing_key.serialize_pem(), true)?;
    write(&cert, made.cert.pem(), false)?;
    Ok((cert, key))
}
