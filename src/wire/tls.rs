//! TLS for https checks: one `rustls::ClientConfig` for the whole run (so
//! roots are parsed once and sessions can resume), what the run remembers of
//! earlier handshakes ([`Remembered`]), the certificate chain the server was
//! verified by; TLS errors in words are [`diagnose`]'s, and what a server
//! that refused us offers is [`probe`]'s. With the cargo feature
//! `tls-legacy`, [`legacy`] is the OpenSSL handshake tried when rustls
//! cannot agree on a version or suite, verified by the same verifier.

mod diagnose;
mod fifo;
#[cfg(feature = "tls-legacy")]
pub mod legacy;
mod probe;
mod sessions;
mod verified;
mod x25519;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CipherSuite, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};
use x509_parser::asn1_rs::{FromDer, Header};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

use crate::result::{Certificate, SetupError, TlsSession};
pub use diagnose::{closed, failure};
pub use probe::{legacy_offer, worth_probing, Legacy};
use sessions::Sessions;
use verified::RememberVerified;

/// The shared client configuration, the names of the roots it trusts, and
/// what it remembers of earlier handshakes.
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    /// The certificate verifier of `config` (remembered chains, failures in
    /// words; or none at all for `--insecure`), for any other handshake of
    /// the run to be held to the same rules.
    #[cfg_attr(not(feature = "tls-legacy"), allow(dead_code))]
    pub verifier: Arc<dyn ServerCertVerifier>,
    pub anchors: Arc<Anchors>,
    pub remembered: Remembered,
}

/// What a run keeps from one handshake for the next ones with the same
/// server: its sessions, to resume them, and the chains already verified.
/// Both are bounded; [`Remembered::forget`] empties them.
pub struct Remembered {
    sessions: Arc<Sessions>,
    /// `None` with `--insecure`, which verifies nothing.
    chains: Option<Arc<RememberVerified<DescribeFailures>>>,
}

impl Remembered {
    /// Forgets every session and every verified chain, so the next
    /// handshake with each server is a full one whose certificate is
    /// verified again (the start of a `--watch` round).
    pub fn forget(&self) {
        self.sessions.clear();
        if let Some(chains) = &self.chains {
            chains.clear();
        }
    }
}

/// The subject names (DER, without the outer SEQUENCE header, as webpki
/// keeps them) of the trust anchors: webpki-roots plus `--cacert`. They end
/// the walk of [`verified_path`].
#[derive(Debug, Default)]
pub struct Anchors(HashSet<Box<[u8]>>);

impl Anchors {
    fn of(roots: &RootCertStore) -> Anchors {
        Anchors(roots.roots.iter().map(|anchor| Box::from(anchor.subject.as_ref())).collect())
    }

    fn contains(&self, name: &[u8]) -> bool {
        self.0.contains(name)
    }
}

/// The ring provider with AES-128-GCM asked for first, in TLS 1.3 and 1.2
/// alike: its SHA-256 runs on the SHA extensions most CPUs have, where
/// AES-256-GCM's SHA-384 does not, and 128-bit AES is ample for a status
/// check. The server still chooses; only the preference changes. Its X25519
/// is [`x25519`]'s, at half the CPU.
fn provider() -> CryptoProvider {
    let mut provider = ring::default_provider();
    for group in &mut provider.kx_groups {
        if group.name() == x25519::X25519.name() {
            *group = &x25519::X25519;
        }
    }
    provider.cipher_suites.sort_by_key(|suite| {
        let aes_128 = matches!(
            suite.suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        );
        (matches!(suite, rustls::SupportedCipherSuite::Tls12(_)), !aes_128)
    });
    provider
}

/// Builds the shared client configuration: webpki-roots plus the PEM bundle
/// of `cacert` (`--cacert`), ALPN `http/1.1`; or no verification at all for `--insecure`.
/// Verification is the standard webpki one, wrapped only so a failure can
/// say what the presented certificate was. The roots' names are kept in
/// both cases, for the chain walk.
pub fn client_config(cacert: Option<&Path>, insecure: bool) -> Result<ClientTls, SetupError> {
    let provider = Arc::new(provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(format!("setting up TLS: {e}")))?
        .dangerous();
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        match add_pem_bundle(&mut roots, path) {
            // With --insecure the bundle only ends the chain walk; an unusable
            // one is ignored, as before and as `curl -k` does.
            Err(_) if insecure => {}
            result => result?,
        }
    }
    let anchors = Arc::new(Anchors::of(&roots));
    let (verifier, chains): (Arc<dyn ServerCertVerifier>, _) = if insecure {
        (Arc::new(AcceptAnyCertificate(provider)), None)
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| SetupError::Tls(format!("setting up certificate verification: {e}")))?;
        let chains = Arc::new(RememberVerified::new(DescribeFailures(webpki), verified::CHAINS));
        (chains.clone(), Some(chains))
    };
    let mut config = builder.with_custom_certificate_verifier(verifier.clone()).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let sessions = Arc::new(Sessions::new(sessions::SERVERS));
    config.resumption = Resumption::store(sessions.clone());
    Ok(ClientTls { config: Arc::new(config), verifier, anchors, remembered: Remembered { sessions, chains } })
}

/// What a finished handshake negotiated; given the trust anchors, also the
/// leaf certificate and the one of the verified chain that expires first.
pub fn session(connection: &ClientConnection, anchors: Option<&Anchors>) -> TlsSession {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
        other => format!("{other:?}"),
    };
    let cipher = connection.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
    negotiated(version, cipher, connection.peer_certificates(), anchors)
}

/// A session of this version and cipher; given the trust anchors, with the
/// leaf and the certificate of the verified chain that expires first.
fn negotiated(
    version: String,
    cipher: String,
    presented: Option<&[CertificateDer<'_>]>,
    anchors: Option<&Anchors>,
) -> TlsSession {
    let (certificate, earliest_expiry) = match (anchors, presented) {
        (Some(anchors), Some(presented)) => chain_certificates(presented, anchors).unzip(),
        _ => (None, None),
    };
    TlsSession { version, cipher, certificate, earliest_expiry }
}

/// The leaf, and the certificate of the verified chain that expires first.
fn chain_certificates(presented: &[CertificateDer<'_>], anchors: &Anchors) -> Option<(Certificate, Certificate)> {
    let (leaf, rest) = presented.split_first()?;
    let (_, leaf) = x509_parser::parse_x509_certificate(leaf).ok()?;
    // A presented certificate that does not parse cannot be on the path.
    let others = rest.iter().filter_map(|der| Some(x509_parser::parse_x509_certificate(der).ok()?.1));
    let parsed: Vec<X509Certificate<'_>> = std::iter::once(leaf).chain(others).collect();
    let names: Vec<Names<'_>> =
        parsed.iter().map(|c| Names { subject: name_value(c.subject()), issuer: name_value(c.issuer()) }).collect();
    let path = verified_path(&names, anchors);
    let earliest = path.iter().map(|&i| &parsed[i]).min_by_key(|c| c.validity().not_after.timestamp())?;
    Some((certificate(&parsed[0]), certificate(earliest)))
}

/// The subject and issuer of a presented certificate, as DER name values.
#[derive(Clone, Copy, Debug)]
struct Names<'a> {
    subject: &'a [u8],
    issuer: &'a [u8],
}

/// The certificates (indices into `presented`, leaf first) of the path webpki
/// verified, rebuilt because rustls does not hand it back: from the leaf,
/// take the presented certificate whose subject is the current one's issuer,
/// until that issuer is a trust anchor or none matches. So unrelated extra
/// certificates, and a cross-signed intermediate beyond a trusted root (Let's
/// Encrypt's 2021 DST Root CA X3), are not counted; nor are the anchors,
/// whose dates webpki does not check. Names compare byte for byte, as in webpki.
fn verified_path(presented: &[Names<'_>], anchors: &Anchors) -> Vec<usize> {
    let mut path = Vec::new();
    let mut next = (!presented.is_empty()).then_some(0);
    while let Some(current) = next {
        path.push(current);
        let issuer = presented[current].issuer;
        next = if anchors.contains(issuer) {
            None
        } else {
            (0..presented.len()).find(|i| !path.contains(i) && presented[*i].subject == issuer)
        };
    }
    path
}

/// A name's DER without its SEQUENCE header, the form webpki keeps anchors in.
fn name_value<'a>(name: &X509Name<'a>) -> &'a [u8] {
    let raw = name.as_raw();
    match Header::from_der(raw) {
        Ok((value, _)) => value,
        Err(_) => raw,
    }
}

fn certificate(cert: &X509Certificate<'_>) -> Certificate {
    Certificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    }
}

/// Adds the certificates of the PEM file at `path`; an I/O error, opening
/// or reading, is an unreadable file (a directory included).
fn add_pem_bundle(roots: &mut RootCertStore, path: &Path) -> Result<(), SetupError> {
    let file = |error: pem::Error| match error {
        pem::Error::Io(source) => SetupError::CaFileUnreadable { path: path.to_owned(), source },
        other => SetupError::CaFileNotPem { path: path.to_owned(), reason: other.to_string() },
    };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(file)? {
        let cert = cert.map_err(file)?;
        roots
            .add(cert)
            .map_err(|e| SetupError::CaCertificateUnusable { path: path.to_owned(), reason: e.to_string() })?;
        added += 1;
    }
    if added == 0 {
        return Err(SetupError::CaFileEmpty { path: path.to_owned() });
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

/// The standard webpki verifier, whose failures are put in words with the
/// presented chain in hand (see [`diagnose`]).
#[derive(Debug)]
struct DescribeFailures(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for DescribeFailures {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map_err(|error| {
            match error {
                rustls::Error::InvalidCertificate(error) => {
                    diagnose::chain_failure(error, end_entity, intermediates, now)
                }
                other => other,
            }
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss).map_err(|e| diagnose::signature_failure(e, cert))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss).map_err(|e| diagnose::signature_failure(e, cert))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
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
            .map_err(|e| diagnose::signature_failure(e, cert))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
            .map_err(|e| diagnose::signature_failure(e, cert))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_128_gcm_is_asked_for_first_in_each_version() {
        let suites: Vec<CipherSuite> = provider().cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites[0], CipherSuite::TLS13_AES_128_GCM_SHA256);
        let first_tls12 = suites.iter().position(|s| format!("{s:?}").starts_with("TLS_ECDHE")).unwrap();
        assert!(suites[..first_tls12].iter().all(|s| format!("{s:?}").starts_with("TLS13")));
        assert!(format!("{:?}", suites[first_tls12]).contains("AES_128_GCM"), "{suites:?}");
        assert_eq!(suites.len(), ring::default_provider().cipher_suites.len());
    }

    /// X25519 is still offered first, and it is AWS-LC's; the other groups
    /// are ring's, as before.
    #[test]
    fn x25519_is_aws_lcs_and_first() {
        let groups = provider().kx_groups;
        let ours: &dyn SupportedKxGroup = &x25519::X25519;
        assert!(std::ptr::addr_eq(groups[0], ours));
        let names: Vec<_> = groups.iter().map(|group| group.name()).collect();
        let rings: Vec<_> = ring::default_provider().kx_groups.iter().map(|group| group.name()).collect();
        assert_eq!(names, rings);
    }

    fn names<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Names<'a>> {
        pairs.iter().map(|(subject, issuer)| Names { subject: subject.as_bytes(), issuer: issuer.as_bytes() }).collect()
    }

    fn anchors(subjects: &[&str]) -> Anchors {
        Anchors(subjects.iter().map(|s| Box::from(s.as_bytes())).collect())
    }

    #[test]
    fn path_of_a_leaf_alone() {
        assert_eq!(verified_path(&names(&[("leaf", "root")]), &anchors(&["root"])), [0]);
        // Issued by an authority the server did not send and we do not know:
        // still only the leaf (only reachable with --insecure).
        assert_eq!(verified_path(&names(&[("leaf", "ca")]), &anchors(&["root"])), [0]);
        // Self-signed: the leaf is its own issuer and is not taken twice.
        assert_eq!(verified_path(&names(&[("self", "self")]), &anchors(&[])), [0]);
        assert!(verified_path(&[], &anchors(&["root"])).is_empty());
    }

    #[test]
    fn path_through_the_intermediates_in_any_order() {
        let roots = anchors(&["root"]);
        let in_order = names(&[("leaf", "int"), ("int", "root")]);
        assert_eq!(verified_path(&in_order, &roots), [0, 1]);
        let shuffled = names(&[("leaf", "int2"), ("int1", "root"), ("int2", "int1")]);
        assert_eq!(verified_path(&shuffled, &roots), [0, 2, 1]);
    }

    #[test]
    fn unrelated_certificates_are_not_on_the_path() {
        let presented = names(&[("leaf", "int"), ("other", "elsewhere"), ("int", "root"), ("stray", "root")]);
        assert_eq!(verified_path(&presented, &anchors(&["root"])), [0, 2]);
    }

    #[test]
    fn path_stops_at_a_trust_anchor() {
        // Let's Encrypt, 2021: leaf ← R3 ← ISRG Root X1 (trusted), and
        // ISRG Root X1 cross-signed by the expired DST Root CA X3 also sent.
        let presented = names(&[("leaf", "R3"), ("R3", "ISRG X1"), ("ISRG X1", "DST X3")]);
        assert_eq!(verified_path(&presented, &anchors(&["ISRG X1", "DST X3"])), [0, 1]);
        // Without ISRG X1 in the store the cross-signed one is on the path.
        assert_eq!(verified_path(&presented, &anchors(&["DST X3"])), [0, 1, 2]);
        // The anchor itself, when sent, is not counted.
        let with_root = names(&[("leaf", "int"), ("int", "root"), ("root", "root")]);
        assert_eq!(verified_path(&with_root, &anchors(&["root"])), [0, 1]);
    }

    #[test]
    fn a_loop_of_issuers_ends() {
        let presented = names(&[("leaf", "a"), ("a", "b"), ("b", "a")]);
        assert_eq!(verified_path(&presented, &anchors(&[])), [0, 1, 2]);
    }

    /// A CA certificate for `subject` valid until Unix time `until`, signed
    /// by `issuer` (self-signed without one), with its key.
    fn made(
        subject: &str,
        issuer: Option<&(rcgen::Certificate, rcgen::KeyPair)>,
        until: i64,
    ) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, subject);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_after = time::OffsetDateTime::from_unix_timestamp(until).unwrap();
        let cert = match issuer {
            Some((issuer, issuer_key)) => params.signed_by(&key, issuer, issuer_key).unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        (cert, key)
    }

    #[test]
    fn earliest_expiry_of_real_certificates() {
        // The root expires first, but as a trust anchor it does not count.
        let root = made("Root", None, 1_950_000_000);
        let intermediate = made("Intermediate", Some(&root), 2_000_000_000);
        let leaf = made("leaf", Some(&intermediate), 2_100_000_000);
        let stray = made("stray", None, 1_900_000_000);
        let der = |(cert, _): &(rcgen::Certificate, rcgen::KeyPair)| CertificateDer::from(cert.der().to_vec());
        let mut roots = RootCertStore::empty();
        roots.add(der(&root)).unwrap();
        let anchors = Anchors::of(&roots);

        let presented = [der(&leaf), der(&stray), der(&intermediate), der(&root)];
        let (leaf, earliest) = chain_certificates(&presented, &anchors).unwrap();
        assert_eq!((leaf.subject.as_str(), leaf.not_after), ("CN=leaf", 2_100_000_000));
        assert_eq!((earliest.subject.as_str(), earliest.issuer.as_str()), ("CN=Intermediate", "CN=Root"));
        assert_eq!(earliest.not_after, 2_000_000_000);
        let (_, alone) = chain_certificates(&presented[..1], &anchors).unwrap();
        assert_eq!(alone.subject, "CN=leaf");
        assert!(chain_certificates(&[CertificateDer::from(vec![1, 2, 3])], &anchors).is_none());
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
        let err = client_config(Some(&empty), false).err().unwrap();
        assert!(matches!(&err, SetupError::CaFileEmpty { path } if *path == empty), "{err:?}");
        assert!(err.to_string().contains("no PEM certificate") && !err.to_string().contains("--"), "{err}");
        let missing = dir.join("missing.pem");
        let err = client_config(Some(&missing), false).err().unwrap();
        assert!(
            matches!(&err, SetupError::CaFileUnreadable { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert!(std::error::Error::source(&err).is_some(), "the io error is the source");
        assert!(matches!(client_config(Some(&dir), false).err().unwrap(), SetupError::CaFileUnreadable { .. }));
        assert!(client_config(Some(&missing), true).is_ok(), "--insecure verifies nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
