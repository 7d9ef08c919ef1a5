//! TLS for https checks: one `rustls::ClientConfig` for the whole run (so
//! roots are parsed once and sessions can resume), and TLS errors in words.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Builds the shared client configuration: webpki-roots plus the PEM bundle
/// of `--cacert`, ALPN `http/1.1`; or no verification at all for `--insecure`.
pub fn client_config(cacert: Option<&Path>, insecure: bool) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = cacert {
            add_pem_bundle(&mut roots, path)?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn add_pem_bundle(roots: &mut RootCertStore, path: &Path) -> anyhow::Result<()> {
    let name = path.display();
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("cannot read --cacert '{name}'"))? {
        let cert = cert.with_context(|| format!("--cacert '{name}' is not a valid PEM file"))?;
        roots.add(cert).with_context(|| format!("--cacert '{name}' holds a certificate that cannot be used"))?;
        added += 1;
    }
    if added == 0 {
        bail!("--cacert '{name}' holds no PEM certificate");
    }
    Ok(())
}

/// The name the server is asked for (SNI) and checked against: the host name,
/// or the IP address for IP literals.
pub fn server_name(host: &url::Host<&str>) -> Result<ServerName<'static>, String> {
    match host {
        url::Host::Domain(domain) => {
            ServerName::try_from(domain.to_string()).map_err(|_| format!("'{domain}' is not a valid TLS server name"))
        }
        url::Host::Ipv4(ip) => Ok(ServerName::from(std::net::IpAddr::V4(*ip))),
        url::Host::Ipv6(ip) => Ok(ServerName::from(std::net::IpAddr::V6(*ip))),
    }
}

/// A rustls error in the words an operator would use.
pub fn describe(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cert) => describe_certificate(cert),
        E::AlertReceived(alert) => format!("server refused the handshake: {}", alert_words(alert)),
        E::InvalidMessage(_) => "server did not answer with TLS (plain HTTP on an https URL?)".into(),
        E::PeerIncompatible(_) => "no TLS version or cipher suite in common with the server".into(),
        E::NoCertificatesPresented => "server presented no certificate".into(),
        other => other.to_string(),
    }
}

fn describe_certificate(error: &CertificateError) -> String {
    use CertificateError as C;
    match error {
        C::Expired | C::ExpiredContext { .. } => "certificate expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => "certificate is for another host name".into(),
        C::UnknownIssuer => "certificate issued by an unknown authority".into(),
        C::BadSignature => "certificate has a bad signature".into(),
        C::Revoked => "certificate revoked".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => "certificate is not for a TLS server".into(),
        other => format!("bad certificate: {other:?}"),
    }
}

/// `HandshakeFailure` → `handshake failure`.
fn alert_words(alert: &rustls::AlertDescription) -> String {
    let name = format!("{alert:?}");
    let mut words = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

/// `--insecure`: any certificate is accepted, but handshake signatures are
/// still checked so the connection is at least a consistent TLS session.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_read_as_plain_words() {
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(describe(&expired), "certificate expired");
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(describe(&unknown), "certificate issued by an unknown authority");
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(describe(&alert), "server refused the handshake: handshake failure");
    }

    #[test]
    fn server_names_for_domains_and_ip_literals() {
        assert!(server_name(&url::Host::Domain("example.com")).is_ok());
        let v6 = server_name(&url::Host::Ipv6("::1".parse().unwrap())).unwrap();
        assert!(matches!(v6, ServerName::IpAddress(_)));
    }

    #[test]
    fn cacert_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("statuscheck-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let err = client_config(Some(&empty), false).unwrap_err();
        assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
        let missing = dir.join("missing.pem");
        assert!(format!("{:#}", client_config(Some(&missing), false).unwrap_err()).contains("cannot read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
