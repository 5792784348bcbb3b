//! Node addresses and TLS to storage nodes (PROTOCOL.md §15.4).
//!
//! A registry entry has three separate fields: the scheme (`http` or `https`), the node id
//! (the URL's authority, which alone decides placement and what b0x access signatures
//! name, so moving a node from `http` to `https` moves no data), and optional key pins. It
//! is written as one line of text, `scheme://host[:port][#spki-sha256=HEX[,HEX…]]`: a URL
//! fragment is never sent on the wire, so the pins ride along wherever a node URL goes.
//!
//! An `https` node with pins is trusted exactly when the end-entity certificate's public
//! key hashes to a pin (SHA-256 of its DER `SubjectPublicKeyInfo`, as `openssl pkey -pubin
//! -outform der | sha256sum` computes it), whatever its issuer, name or dates: the pin is
//! the trust anchor, so a self-signed certificate works and renewing it with the same key
//! keeps working. Without pins, the certificate must chain to the system's roots and name
//! the host. The key exchange prefers the X25519MLKEM768 hybrid.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest as _, Sha256};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The fragment key that carries pins in a registry line.
const PIN_KEY: &str = "spki-sha256=";

/// How a node is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP: for loopback and test networks.
    Http,
    /// HTTP over TLS (rustls).
    Https,
}

/// A pinned node key: SHA-256 of the DER `SubjectPublicKeyInfo` of its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpkiPin(pub [u8; 32]);

impl SpkiPin {
    /// The pin of the public key in a DER certificate; `None` when the bytes are not a
    /// certificate.
    pub fn of_certificate(der: &[u8]) -> Option<SpkiPin> {
        let cert = CertificateDer::from(der);
        let ee = webpki::EndEntityCert::try_from(&cert).ok()?;
        Some(SpkiPin(
            Sha256::digest(ee.subject_public_key_info().as_ref()).into(),
        ))
    }

    /// Lower-case hex, as written after `#spki-sha256=`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(s: &str) -> Option<SpkiPin> {
        dsm_core::hash::Digest::from_hex(s).map(|d| SpkiPin(d.0))
    }
}

/// One registry entry: scheme, node id and pins, kept apart (PROTOCOL.md §15.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddress {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// `host[:port]` plus any path, as written (placement uses its node id,
    /// [`dsm_core::slot::node_id`] of the authority).
    pub host: String,
    /// Keys this node may present; empty means "the system's roots". Only for `https`.
    pub pins: Vec<SpkiPin>,
}

impl NodeAddress {
    /// Parses a registry line, refusing anything that is not
    /// `http(s)://host[:port][/path][#spki-sha256=HEX[,HEX…]]`, with an error that says
    /// what to write instead.
    pub fn parse(text: &str) -> Result<NodeAddress, String> {
        let text = text.trim();
        let (url, fragment) = match text.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (text, None),
        };
        let url = url.trim_end_matches('/');
        // Schemes are case-insensitive (RFC 3986 §3.1).
        let after = |prefix: &str| {
            url.get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .map(|_| &url[prefix.len()..])
        };
        let (scheme, host) = if let Some(h) = after("https://") {
            (Scheme::Https, h)
        } else if let Some(h) = after("http://") {
            (Scheme::Http, h)
        } else {
            return Err(format!(
                "{text:?} is not a node URL; expected http://HOST:PORT or https://HOST:PORT (what `dsm node serve` prints)"
            ));
        };
        let authority = host.split('/').next().unwrap_or("");
        if authority.is_empty() || host.contains(['?', ' ', '@']) {
            return Err(format!(
                "{text:?} is not a node URL; expected http://HOST:PORT or https://HOST:PORT (what `dsm node serve` prints)"
            ));
        }
        let mut pins = Vec::new();
        if let Some(f) = fragment {
            let list = f.strip_prefix(PIN_KEY).ok_or_else(|| {
                format!("{text:?}: the only fragment a node URL may carry is #{PIN_KEY}HEX (the node's key pin)")
            })?;
            for p in list.split(',') {
                pins.push(SpkiPin::from_hex(p).ok_or_else(|| {
                    format!("{text:?}: a key pin is 64 hex digits (SHA-256 of the certificate's public key, as `dsm node serve --tls-cert` prints it)")
                })?);
            }
            if scheme == Scheme::Http {
                return Err(format!(
                    "{text:?}: a key pin needs https:// (plain HTTP has no key to pin)"
                ));
            }
        }
        Ok(NodeAddress {
            scheme,
            host: host.to_string(),
            pins,
        })
    }

    /// The base URL requests are made against: scheme and host, no fragment.
    pub fn base_url(&self) -> String {
        match self.scheme {
            Scheme::Http => format!("http://{}", self.host),
            Scheme::Https => format!("https://{}", self.host),
        }
    }

    /// The node id placement and b0x access use ([`dsm_core::slot::node_id`]).
    pub fn node_id(&self) -> String {
        dsm_core::slot::node_id(self.host.split('/').next().unwrap_or(""))
    }
}

impl std::fmt::Display for NodeAddress {
    /// The registry line: base URL, then the pins as a fragment.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base_url())?;
        if !self.pins.is_empty() {
            let pins: Vec<String> = self.pins.iter().map(SpkiPin::to_hex).collect();
            write!(f, "#{PIN_KEY}{}", pins.join(","))?;
        }
        Ok(())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Trusts exactly the certificates whose key hashes to one of the pins.
#[derive(Debug)]
struct PinnedKeys {
    pins: Vec<SpkiPin>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedKeys {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin is the trust anchor: issuer, name and dates do not matter, the key does
        // (the handshake signature below proves the node holds it).
        match SpkiPin::of_certificate(end_entity) {
            Some(p) if self.pins.contains(&p) => Ok(ServerCertVerified::assertion()),
            Some(_) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client configuration for an `https` node with these pins: only a certificate whose
/// key hashes to one of them is trusted ([`node_agent`] uses it per pinned node).
pub fn pinned_config(pins: &[SpkiPin]) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let verifier = Arc::new(PinnedKeys {
        pins: pins.to_vec(),
        provider: provider.clone(),
    });
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

fn system_roots_config() -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err("no system root certificates found; install ca-certificates, or pin the node's key (URL#spki-sha256=HEX, printed by `dsm node serve --tls-cert`)".into());
    }
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The TLS step of a node agent's connector chain: pinned nodes get their pins, other
/// `https` nodes the system's roots (loaded on first use).
struct NodeTls {
    /// By node id; an error for a registry line that could not be read (fail closed).
    pinned: HashMap<String, Result<Arc<ClientConfig>, String>>,
    roots: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTls")
            .field("pinned", &self.pinned.len())
            .finish()
    }
}

fn tls_error(what: impl std::fmt::Display) -> ureq::Error {
    ureq::Error::Io(std::io::Error::other(what.to_string()))
}

impl<In: Transport> Connector<In> for NodeTls {
    type Out = Either<In, NodeTlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let authority = details.uri.authority().map_or("", |a| a.as_str());
        let config = match self.pinned.get(&dsm_core::slot::node_id(authority)) {
            Some(c) => c.clone().map_err(tls_error)?,
            None => self
                .roots
                .get_or_init(system_roots_config)
                .clone()
                .map_err(tls_error)?,
        };
        let host = details.uri.host().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| tls_error(format!("{host:?} is not a TLS server name")))?;
        let mut conn = ClientConnection::new(config, name).map_err(tls_error)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        Ok(Some(Either::B(NodeTlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: rustls::StreamOwned { conn, sock },
        })))
    }
}

/// An HTTP/1.1 transport over a rustls client connection.
pub struct NodeTlsTransport {
    buffers: LazyBuffers,
    stream: rustls::StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for NodeTlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTlsTransport").finish_non_exhaustive()
    }
}

impl Transport for NodeTlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The base URL of a registry line: what requests are made against (no fragment, no
/// trailing `/`), also for a line [`NodeAddress::parse`] refuses.
pub fn base_url(line: &str) -> String {
    match NodeAddress::parse(line) {
        Ok(n) => n.base_url(),
        Err(_) => line
            .split('#')
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches('/')
            .to_string(),
    }
}

/// An HTTP agent for the nodes of these registry lines: plain HTTP for `http` entries,
/// rustls for `https` ones (pinned, or on the system's roots), statuses as values,
/// `timeout` per request. A line with pins that cannot be read trusts no key at all.
pub fn node_agent(lines: &[String], timeout: std::time::Duration) -> ureq::Agent {
    let mut pinned = HashMap::new();
    for line in lines {
        match NodeAddress::parse(line) {
            Ok(n) if !n.pins.is_empty() => {
                pinned.insert(n.node_id(), pinned_config(&n.pins));
            }
            Ok(_) => {}
            Err(e) => {
                let id = dsm_core::slot::node_id(crate::nodes::node_authority(&base_url(line)));
                pinned.insert(id, Err(e));
            }
        }
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    let connector =
        ().chain(ureq::unversioned::transport::TcpConnector::default())
            .chain(NodeTls {
                pinned,
                roots: OnceLock::new(),
            });
    ureq::Agent::with_parts(
        config,
        connector,
        ureq::unversioned::resolver::DefaultResolver::default(),
    )
}
