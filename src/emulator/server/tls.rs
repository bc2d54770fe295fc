//! HTTPS for the emulator: a throw-away CA and a server certificate for 127.0.0.1 and
//! localhost, made at start. The CA is written in PEM so that `REQUESTS_CA_BUNDLE` (Azure
//! CLI, Python SDKs) or any client's root store can trust the emulator.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("could not generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate.
    #[error("could not configure TLS: {0}")]
    Config(#[from] rustls::Error),
    /// The CA file could not be written.
    #[error("could not write the CA certificate to {path}: {source}")]
    Write {
        /// Where it was to be written.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Makes a CA and a server certificate, writes the CA's PEM to `ca_path`, and returns the
/// server configuration (HTTP/2 and HTTP/1.1 by ALPN).
pub fn server_config(ca_path: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "azid emulator local CA");
    ca_params.distinguished_name = ca_name;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let server_cert = params.signed_by(&server_key, &issuer)?;

    std::fs::write(ca_path, ca_cert.pem()).map_err(|source| TlsError::Write {
        path: ca_path.display().to_string(),
        source,
    })?;

    let chain = vec![
        CertificateDer::from(server_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
