//! TLS for `--tls`: a private CA generated on start (like an organisation's
//! own CA), a server certificate it signs for 127.0.0.1 and localhost, and
//! the CA written to `<data>/ca.pem` for clients to trust.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Which server certificate to serve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CertKind {
    /// Valid for 127.0.0.1 and localhost, signed by the generated CA.
    #[default]
    Valid,
    /// Signed by the CA, but expired yesterday.
    Expired,
    /// Signed by the CA, but for another name (`other.example`).
    WrongName,
}

/// What `--tls` produces.
pub struct Tls {
    /// The server side, ready for tokio-rustls.
    pub server_config: Arc<rustls::ServerConfig>,
    /// The CA certificate clients must trust (PEM).
    pub ca_file: PathBuf,
}

/// Generates a CA and a server certificate; writes the CA to `<dir>/ca.pem`.
pub fn generate(dir: &Path, kind: CertKind) -> anyhow::Result<Tls> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "ferry-testkit private CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Ferry testkit");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut leaf = if kind == CertKind::WrongName {
        CertificateParams::new(vec!["other.example".to_string()])?
    } else {
        let mut p = CertificateParams::new(vec!["localhost".to_string()])?;
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse()?));
        p
    };
    if kind == CertKind::Expired {
        let now = time::OffsetDateTime::now_utc();
        leaf.not_before = now - time::Duration::days(30);
        leaf.not_after = now - time::Duration::days(1);
    }
    leaf.distinguished_name
        .push(DnType::CommonName, "ferry-testkit");
    let cert = leaf.signed_by(&key, &issuer)?;

    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem())?;

    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        server_config: Arc::new(config),
        ca_file,
    })
}
