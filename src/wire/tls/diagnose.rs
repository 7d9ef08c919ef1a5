//! TLS failures in plain words and a stable [`TlsCause`]: what a rustls
//! error means to an operator, learned from the error and, for a
//! certificate, from the presented chain itself (which certificate, which
//! signature algorithm, how many bits), since webpki's errors say only what
//! rule failed.
//!
//! Nothing of rustls' or webpki's `Debug` output reaches a message: every
//! error we know is put in words here, and one we do not know yet is named
//! by its variant name turned into lower-case words, never by its fields.
//! Server-sent text (certificate subjects, names) is quoted as received;
//! the report layer escapes control characters.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{AlertDescription, CertificateError, InvalidMessage, OtherError, PeerIncompatible};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::Oid;
use x509_parser::public_key::PublicKey;

use crate::result::{date, CheckError, TlsCause};

/// The smallest RSA key webpki (through ring) verifies a signature with.
const MIN_RSA_BITS: usize = 2048;

/// How many of a certificate's names a wrong-host message lists.
const NAMES_SHOWN: usize = 3;

/// The largest handshake message rustls accepts, in KiB.
const MAX_HANDSHAKE_KIB: usize = 64;

/// A failure already put in words by the verifier, which saw the chain;
/// carried to [`failure`] inside rustls' `OtherError`, the one error that
/// can carry data.
#[derive(Debug)]
pub(super) struct Diagnosed {
    cause: TlsCause,
    message: String,
}

impl std::fmt::Display for Diagnosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnosed {}

impl Diagnosed {
    fn new(cause: TlsCause, message: impl Into<String>) -> Diagnosed {
        Diagnosed { cause, message: message.into() }
    }

    fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(self))))
    }
}

/// A failed handshake as the check reports it.
pub fn failure(error: &rustls::Error) -> CheckError {
    use rustls::Error as E;
    let diagnosed = match error {
        E::InvalidCertificate(CertificateError::Other(OtherError(inner))) => match inner.downcast_ref::<Diagnosed>() {
            Some(done) => return CheckError::tls(done.cause, done.message.clone()),
            None => certificate(&CertificateError::Other(OtherError(inner.clone())), &[], None),
        },
        E::InvalidCertificate(error) => certificate(error, &[], None),
        E::AlertReceived(alert) => alert_received(*alert),
        E::InvalidMessage(message) => invalid_message(message),
        E::PeerIncompatible(why) => incompatible(why),
        E::NoCertificatesPresented => Diagnosed::new(TlsCause::NoCertificate, "server presented no certificate"),
        E::PeerMisbehaved(why) => {
            Diagnosed::new(TlsCause::Other, format!("server broke the TLS protocol: {}", words(why)))
        }
        // rustls' own words.
        E::General(words) => Diagnosed::new(TlsCause::Other, format!("TLS handshake failed: {words}")),
        other => Diagnosed::new(TlsCause::Other, format!("TLS handshake failed: {}", words(other))),
    };
    CheckError::tls(diagnosed.cause, diagnosed.message)
}

/// The server closed the connection before the handshake was done.
pub fn closed() -> CheckError {
    CheckError::tls(TlsCause::Closed, "server closed the connection during the handshake")
}

/// A failed chain verification, put in words with the presented chain
/// (leaf first) in hand.
pub(super) fn chain_failure(
    error: CertificateError,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
) -> rustls::Error {
    let parsed = parse_chain(leaf, intermediates);
    certificate(&error, &parsed, Some(now)).into_rustls()
}

/// A failed handshake signature (the proof that the server holds its key):
/// a key too small to verify with is named, anything else is left as it is.
pub(super) fn signature_failure(error: rustls::Error, cert: &CertificateDer<'_>) -> rustls::Error {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else { return error };
    match weak_key(std::slice::from_ref(&parsed)) {
        Some(diagnosed) => diagnosed.into_rustls(),
        None => error,
    }
}

/// A leaf whose RSA key is too small, by the rule the handshake signature
/// is held to on the default path ([`signature_failure`]), for a handshake
/// that did not hold it to that rule (OpenSSL at security level 0).
#[cfg(feature = "tls-legacy")]
pub(super) fn weak_leaf_key(leaf: &CertificateDer<'_>) -> Option<CheckError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf).ok()?;
    weak_key(std::slice::from_ref(&parsed)).map(|weak| CheckError::tls(weak.cause, weak.message))
}

fn parse_chain<'a>(leaf: &'a CertificateDer<'_>, intermediates: &'a [CertificateDer<'_>]) -> Vec<X509Certificate<'a>> {
    // A certificate that does not parse says nothing we could name.
    std::iter::once(leaf)
        .chain(intermediates)
        .filter_map(|der| Some(x509_parser::parse_x509_certificate(der).ok()?.1))
        .collect()
}

/// A certificate failure in words; `chain` (leaf first) may be empty when
/// the certificates are not at hand.
fn certificate(error: &CertificateError, chain: &[X509Certificate<'_>], now: Option<UnixTime>) -> Diagnosed {
    use CertificateError as C;
    let leaf = chain.first();
    match error {
        C::Expired | C::ExpiredContext { .. } => expired(chain, now),
        C::NotValidYet | C::NotValidYetContext { .. } => not_yet_valid(chain, now),
        C::NotValidForName | C::NotValidForNameContext { .. } => wrong_host(leaf),
        C::UnknownIssuer => weak_key(chain.get(1..).unwrap_or_default()).unwrap_or_else(|| {
            Diagnosed::new(
                TlsCause::UnknownIssuer,
                format!("certificate issued by an unknown authority{}", about(leaf)),
            )
        }),
        C::BadSignature => weak_key(chain.get(1..).unwrap_or_default()).unwrap_or_else(|| {
            Diagnosed::new(TlsCause::BadCertificate, format!("certificate has a bad signature{}", about(leaf)))
        }),
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm | C::UnsupportedSignatureAlgorithmContext { .. } => {
            unsupported_signature(chain)
        }
        C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => Diagnosed::new(
            TlsCause::BadCertificate,
            format!("certificate's signature algorithm does not fit its issuer's key{}", about(leaf)),
        ),
        C::Revoked => Diagnosed::new(TlsCause::Revoked, format!("certificate revoked{}", about(leaf))),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => Diagnosed::new(
            TlsCause::WrongPurpose,
            format!("certificate is not for a TLS server (its extended key usage){}", about(leaf)),
        ),
        C::BadEncoding => Diagnosed::new(TlsCause::BadCertificate, "certificate is malformed (not valid DER)"),
        C::UnhandledCriticalExtension => Diagnosed::new(
            TlsCause::BadCertificate,
            format!("certificate has a critical extension that is not understood{}", about(leaf)),
        ),
        // webpki's errors that rustls has no variant for come as `Other`; a
        // CA certificate served as the leaf is the one seen in the wild.
        C::Other(_) if leaf.is_some_and(|c| c.tbs_certificate.is_ca()) => Diagnosed::new(
            TlsCause::CaAsLeaf,
            format!("the server's certificate is a CA certificate, not one for a server{}", about(leaf)),
        ),
        other => {
            Diagnosed::new(TlsCause::BadCertificate, format!("certificate refused: {}{}", words(other), about(leaf)))
        }
    }
}

/// ` (subject …, issuer …, expires 2027-01-01)` of a certificate, or nothing.
fn about(cert: Option<&X509Certificate<'_>>) -> String {
    let Some(cert) = cert else { return String::new() };
    let not_after = cert.validity().not_after.timestamp();
    let when = if not_after < unix(None) { "expired" } else { "expires" };
    format!(" (subject {}, issuer {}, {when} {})", cert.subject(), cert.issuer(), date(not_after))
}

fn unix(now: Option<UnixTime>) -> i64 {
    let now = now.map_or_else(|| UnixTime::now().as_secs(), |t| t.as_secs());
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// webpki says only "expired" when an intermediate is: name the first
/// presented certificate (leaf first) that has.
fn expired(chain: &[X509Certificate<'_>], now: Option<UnixTime>) -> Diagnosed {
    let now = unix(now);
    let culprit = chain.iter().find(|c| c.validity().not_after.timestamp() < now).or(chain.first());
    Diagnosed::new(TlsCause::Expired, format!("certificate expired{}", about(culprit)))
}

fn not_yet_valid(chain: &[X509Certificate<'_>], now: Option<UnixTime>) -> Diagnosed {
    let now = unix(now);
    let culprit = chain.iter().find(|c| c.validity().not_before.timestamp() > now).or(chain.first());
    let message = match culprit {
        Some(c) => format!(
            "certificate not valid yet (subject {}, issuer {}, valid from {})",
            c.subject(),
            c.issuer(),
            date(c.validity().not_before.timestamp())
        ),
        None => "certificate not valid yet".into(),
    };
    Diagnosed::new(TlsCause::NotYetValid, message)
}

/// The names a certificate is for; a leaf without subjectAltName is a cause
/// of its own, since curl would still match its common name.
fn wrong_host(leaf: Option<&X509Certificate<'_>>) -> Diagnosed {
    let Some(leaf) = leaf else {
        return Diagnosed::new(TlsCause::WrongHost, "certificate is for another host name");
    };
    // The common name is in the subject that `about` quotes.
    let names: Vec<String> = match leaf.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().filter_map(name).collect(),
        _ => {
            return Diagnosed::new(
                TlsCause::NoSan,
                format!(
                    "certificate has no subjectAltName, only a common name: host names are matched against \
                     subjectAltName alone (RFC 9525, as browsers do){}",
                    about(Some(leaf))
                ),
            )
        }
    };
    let listed = match names.len() {
        0 => "names no host".to_owned(),
        n if n <= NAMES_SHOWN => format!("is for {}", names.join(", ")),
        n => format!("is for {} and {} more", names[..NAMES_SHOWN].join(", "), n - NAMES_SHOWN),
    };
    Diagnosed::new(
        TlsCause::WrongHost,
        format!("certificate is for another host name: it {listed}{}", about(Some(leaf))),
    )
}

fn name(general: &GeneralName<'_>) -> Option<String> {
    match general {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes).ok().map(|b| std::net::Ipv4Addr::from(b).to_string()),
            16 => <[u8; 16]>::try_from(*bytes).ok().map(|b| std::net::Ipv6Addr::from(b).to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The first certificate in `certs` whose RSA key is too small to verify
/// a signature with.
fn weak_key(certs: &[X509Certificate<'_>]) -> Option<Diagnosed> {
    certs.iter().find_map(|cert| {
        let bits = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => rsa.key_size(),
            _ => return None,
        };
        (bits < MIN_RSA_BITS).then(|| {
            Diagnosed::new(
                TlsCause::WeakKey,
                format!(
                    "certificate has a {bits}-bit RSA key, too small to be trusted (at least {MIN_RSA_BITS} bits) \
                     (subject {}, issuer {})",
                    cert.subject(),
                    cert.issuer()
                ),
            )
        })
    })
}

/// A chain signed with an algorithm webpki does not verify: SHA-1 and MD5
/// are named as weak, anything else as unsupported.
fn unsupported_signature(chain: &[X509Certificate<'_>]) -> Diagnosed {
    let named = chain.iter().map(|cert| (cert, signature_name(&cert.signature_algorithm.algorithm)));
    let mut first_unknown = None;
    for (cert, (name, weak)) in named {
        if let Some(hash) = weak {
            let message = format!(
                "certificate is signed with {hash} ({name}), which is no longer trusted (subject {}, issuer {})",
                cert.subject(),
                cert.issuer()
            );
            return Diagnosed::new(TlsCause::WeakSignature, message);
        }
        if !SUPPORTED.contains(&name.as_str()) && first_unknown.is_none() {
            first_unknown = Some((cert, name));
        }
    }
    let message = match first_unknown {
        Some((cert, name)) => format!(
            "certificate is signed with {name}, an algorithm statuscheck does not verify (subject {}, issuer {})",
            cert.subject(),
            cert.issuer()
        ),
        None => "certificate is signed with an algorithm statuscheck does not verify".into(),
    };
    Diagnosed::new(TlsCause::BadCertificate, message)
}

/// The signature algorithms webpki verifies, by their registered short names.
const SUPPORTED: &[&str] = &[
    "sha256WithRSAEncryption",
    "sha384WithRSAEncryption",
    "sha512WithRSAEncryption",
    "rsassa-pss",
    "ecdsa-with-SHA256",
    "ecdsa-with-SHA384",
    "ecdsa-with-SHA512",
    "ed25519",
];

/// Signature algorithms on weak hashes, by OID: name and hash.
const WEAK_SIGNATURES: &[(&str, &str, &str)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption", "MD2"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption", "MD5"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption", "SHA-1"),
    ("1.3.14.3.2.29", "sha1WithRSASignature", "SHA-1"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1", "SHA-1"),
    ("1.2.840.10040.4.3", "dsa-with-sha1", "SHA-1"),
];

/// The name of a signature algorithm (registered short name, else its
/// dotted OID), and the weak hash it uses, if it does.
fn signature_name(oid: &Oid<'_>) -> (String, Option<&'static str>) {
    let dotted = oid.to_id_string();
    if let Some((_, name, hash)) = WEAK_SIGNATURES.iter().find(|(id, _, _)| *id == dotted) {
        return ((*name).to_owned(), Some(hash));
    }
    let name = x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()).map(str::to_owned);
    (name.unwrap_or(dotted), None)
}

fn alert_received(alert: AlertDescription) -> Diagnosed {
    use AlertDescription as A;
    match alert {
        A::ProtocolVersion => Diagnosed::new(
            TlsCause::ProtocolVersion,
            "server refused the TLS versions we offer (1.2 and 1.3): protocol version alert",
        ),
        A::UnrecognisedName => Diagnosed::new(
            TlsCause::HandshakeAlert,
            "server refused the handshake: it does not serve this host name (unrecognised name alert)",
        ),
        A::CertificateRequired => Diagnosed::new(
            TlsCause::HandshakeAlert,
            "server refused the handshake: it requires a client certificate (certificate required alert)",
        ),
        A::Unknown(code) => {
            Diagnosed::new(TlsCause::HandshakeAlert, format!("server refused the handshake: alert {code}"))
        }
        other => Diagnosed::new(TlsCause::HandshakeAlert, format!("server refused the handshake: {}", words(&other))),
    }
}

fn invalid_message(message: &InvalidMessage) -> Diagnosed {
    use InvalidMessage as M;
    match message {
        M::HandshakePayloadTooLarge | M::CertificatePayloadTooLarge => Diagnosed::new(
            TlsCause::CertTooLarge,
            format!(
                "server's certificate chain is over {MAX_HANDSHAKE_KIB} KiB, the largest TLS handshake message \
                 statuscheck accepts"
            ),
        ),
        M::InvalidContentType | M::UnknownProtocolVersion | M::MessageTooLarge => {
            Diagnosed::new(TlsCause::NotTls, "server did not answer with TLS (plain HTTP on an https URL?)")
        }
        other => Diagnosed::new(TlsCause::Other, format!("server sent a malformed TLS message: {}", words(other))),
    }
}

fn incompatible(why: &PeerIncompatible) -> Diagnosed {
    use PeerIncompatible as P;
    match why {
        P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig | P::Tls12NotOffered => {
            Diagnosed::new(TlsCause::ProtocolVersion, "server chose a TLS version older than 1.2")
        }
        P::NoCipherSuitesInCommon => {
            Diagnosed::new(TlsCause::Incompatible, "no cipher suite in common with the server")
        }
        P::NoKxGroupsInCommon => {
            Diagnosed::new(TlsCause::Incompatible, "no key exchange group in common with the server")
        }
        P::NoSignatureSchemesInCommon => {
            Diagnosed::new(TlsCause::Incompatible, "no signature scheme in common with the server")
        }
        other => {
            Diagnosed::new(TlsCause::Incompatible, format!("server and statuscheck are incompatible: {}", words(other)))
        }
    }
}

/// The name of an error's variant in lower-case words, without its fields:
/// `HandshakeFailure` → `handshake failure`, `MissingData("x")` → `missing data`.
/// Only for what no rule above names.
fn words(value: &dyn std::fmt::Debug) -> String {
    let debug = format!("{value:?}");
    let variant: String = debug.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let mut out = String::with_capacity(variant.len() + 8);
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push(if c == '_' { ' ' } else { c.to_ascii_lowercase() });
    }
    if out.is_empty() {
        "unknown error".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::ServerName;
    use rustls::RootCertStore;

    /// A certificate and its key: the issuer of the next one.
    struct Made {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    fn params(cn: &str, sans: &[&str], ca: bool) -> CertificateParams {
        let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params
    }

    fn new_root() -> Made {
        let key = KeyPair::generate().unwrap();
        let cert = params("Test Root", &[], true).self_signed(&key).unwrap();
        Made { cert, key }
    }

    fn issue(params: CertificateParams, issuer: &Made) -> Made {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
        Made { cert, key }
    }

    /// An RSA public key of `bits` bits (the modulus only has to parse: no
    /// signature is ever made with it).
    struct RsaPublicKey(Vec<u8>);

    impl RsaPublicKey {
        fn of_bits(bits: usize) -> RsaPublicKey {
            let mut modulus = vec![0u8; 1 + bits / 8];
            modulus[1] = 0xc1;
            modulus[bits / 8] = 0x01;
            let der = |tag: u8, body: &[u8]| {
                let mut out = vec![tag];
                match body.len() {
                    n if n < 0x80 => out.push(n as u8),
                    n if n < 0x100 => out.extend([0x81, n as u8]),
                    n => out.extend([0x82, (n >> 8) as u8, n as u8]),
                }
                out.extend_from_slice(body);
                out
            };
            let mut body = der(0x02, &modulus);
            body.extend(der(0x02, &[0x01, 0x00, 0x01]));
            RsaPublicKey(der(0x30, &body))
        }
    }

    impl rcgen::PublicKeyData for RsaPublicKey {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }

        fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
            &rcgen::PKCS_RSA_SHA256
        }
    }

    /// What the run's verifier (webpki, described) says of `chain` for `host`.
    fn verify(root: &Made, chain: &[&rcgen::Certificate], host: &str) -> CheckError {
        let mut roots = RootCertStore::empty();
        roots.add(root.cert.der().clone()).unwrap();
        let webpki = WebPkiServerVerifier::builder(Arc::new(roots)).build().unwrap();
        let verifier = super::super::DescribeFailures(webpki);
        let ders: Vec<CertificateDer<'static>> = chain.iter().map(|c| c.der().clone()).collect();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        let error = verifier.verify_server_cert(&ders[0], &ders[1..], &name, &[], UnixTime::now()).unwrap_err();
        failure(&error)
    }

    /// A message in plain words: no `Debug` shapes (`{ `, `Name(`, a
    /// CamelCase identifier) once the server's own text (`quoted`, such as
    /// a subject, which may hold anything) is taken out.
    fn assert_plain(message: &str, quoted: &[&str]) {
        let mut ours = message.to_owned();
        for text in quoted {
            ours = ours.replace(text, "");
        }
        assert!(!ours.contains('{') && !ours.contains('}'), "braces in {message:?}");
        let chars: Vec<char> = ours.chars().collect();
        assert!(!chars.windows(2).any(|w| w[0].is_alphanumeric() && w[1] == '('), "a `Name(` in {message:?}");
        for token in ours.split(|c: char| !c.is_alphanumeric()) {
            // `CaUsedAsEndEntity`, not `KiB` or `sha1WithRSAEncryption`.
            let letters: Vec<char> = token.chars().collect();
            let camel = token.starts_with(|c: char| c.is_ascii_uppercase())
                && letters
                    .windows(3)
                    .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase() && w[2].is_ascii_lowercase());
            assert!(!camel, "the identifier {token:?} in {message:?}");
        }
    }

    fn assert_tls(error: &CheckError, cause: TlsCause, words: &[&str], quoted: &[&str]) {
        assert_eq!(error.tls_cause(), Some(cause), "{error}");
        let message = error.to_string();
        for word in words {
            assert!(message.contains(word), "{word:?} not in {message:?}");
        }
        assert_plain(&message, quoted);
    }

    #[test]
    fn certificate_failures_name_their_cause_and_the_certificate() {
        let root = new_root();
        let ok = issue(params("good.test", &["good.test"], false), &root);
        let error = verify(&root, &[&ok.cert], "other.test");
        assert_tls(&error, TlsCause::WrongHost, &["another host name", "is for good.test"], &[]);

        let many: Vec<String> = (0..10).map(|i| format!("n{i}.test")).collect();
        let many = issue(params("many", &many.iter().map(String::as_str).collect::<Vec<_>>(), false), &root);
        let error = verify(&root, &[&many.cert], "other.test");
        assert_tls(&error, TlsCause::WrongHost, &["n0.test, n1.test, n2.test and 7 more"], &[]);

        // A subject with braces and a CamelCase word of its own is quoted, not judged.
        let cn_only = issue(params("good.test {OtherError}", &[], false), &root);
        let error = verify(&root, &[&cn_only.cert], "good.test");
        assert_tls(&error, TlsCause::NoSan, &["no subjectAltName", "RFC 9525"], &["CN=good.test {OtherError}"]);

        let ca_leaf = issue(params("good.test", &["good.test"], true), &root);
        let error = verify(&root, &[&ca_leaf.cert], "good.test");
        assert_tls(&error, TlsCause::CaAsLeaf, &["CA certificate", "CN=good.test"], &[]);

        let mut expired = params("good.test", &["good.test"], false);
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let error = verify(&root, &[&issue(expired, &root).cert], "good.test");
        assert_tls(&error, TlsCause::Expired, &["expired 2021-01-01", "subject CN=good.test"], &[]);

        let mut future = params("good.test", &["good.test"], false);
        future.not_before = rcgen::date_time_ymd(2090, 1, 1);
        future.not_after = rcgen::date_time_ymd(2091, 1, 1);
        let error = verify(&root, &[&issue(future, &root).cert], "good.test");
        assert_tls(&error, TlsCause::NotYetValid, &["not valid yet", "valid from 2090-01-01"], &[]);

        let stranger = {
            let key = KeyPair::generate().unwrap();
            Made { cert: params("Stranger Root", &[], true).self_signed(&key).unwrap(), key }
        };
        let error = verify(&root, &[&issue(params("good.test", &["good.test"], false), &stranger).cert], "good.test");
        assert_tls(&error, TlsCause::UnknownIssuer, &["unknown authority", "issuer CN=Stranger Root"], &[]);

        let mut client_only = params("good.test", &["good.test"], false);
        client_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let error = verify(&root, &[&issue(client_only, &root).cert], "good.test");
        assert_tls(&error, TlsCause::WrongPurpose, &["not for a TLS server"], &[]);
    }

    #[test]
    fn a_small_rsa_key_is_named_with_its_size() {
        let root = new_root();
        let weak =
            params("weak.test", &["weak.test"], false).signed_by(&RsaPublicKey::of_bits(1024), &root.cert, &root.key);
        let weak = weak.unwrap();
        // The handshake signature made with the leaf's key (TLS 1.2 and 1.3).
        let refused = rustls::Error::InvalidCertificate(CertificateError::BadSignature);
        let error = failure(&signature_failure(refused.clone(), weak.der()));
        assert_tls(&error, TlsCause::WeakKey, &["1024-bit RSA key", "at least 2048", "CN=weak.test"], &[]);
        // An intermediate's key, which signed the leaf.
        let (_, leaf) = x509_parser::parse_x509_certificate(root.cert.der()).unwrap();
        let (_, int) = x509_parser::parse_x509_certificate(weak.der()).unwrap();
        let error = failure(&certificate(&CertificateError::BadSignature, &[leaf, int], None).into_rustls());
        assert_tls(&error, TlsCause::WeakKey, &["1024-bit"], &[]);
        // A key of the right size leaves the error as it was.
        let fine =
            params("ok.test", &["ok.test"], false).signed_by(&RsaPublicKey::of_bits(2048), &root.cert, &root.key);
        assert_eq!(signature_failure(refused.clone(), fine.unwrap().der()), refused);
    }

    #[test]
    fn weak_signature_algorithms_are_named() {
        let oid =
            |text: &str| Oid::from(&text.split('.').map(|n| n.parse().unwrap()).collect::<Vec<u64>>()[..]).unwrap();
        assert_eq!(signature_name(&oid("1.2.840.113549.1.1.5")), ("sha1WithRSAEncryption".into(), Some("SHA-1")));
        assert_eq!(signature_name(&oid("1.2.840.113549.1.1.4")), ("md5WithRSAEncryption".into(), Some("MD5")));
        assert_eq!(signature_name(&oid("1.2.840.10045.4.1")).1, Some("SHA-1"));
        assert_eq!(signature_name(&oid("1.2.840.113549.1.1.11")), ("sha256WithRSAEncryption".into(), None));
        assert_eq!(signature_name(&oid("1.2.3.4")), ("1.2.3.4".into(), None));
        assert!(SUPPORTED.contains(&signature_name(&oid("1.2.840.10045.4.3.2")).0.as_str()));
    }

    #[test]
    fn handshake_failures_read_as_plain_words() {
        use rustls::Error as E;
        let cases: Vec<(E, TlsCause, &str)> = vec![
            (E::AlertReceived(AlertDescription::HandshakeFailure), TlsCause::HandshakeAlert, "handshake failure"),
            (E::AlertReceived(AlertDescription::ProtocolVersion), TlsCause::ProtocolVersion, "1.2 and 1.3"),
            (E::AlertReceived(AlertDescription::UnrecognisedName), TlsCause::HandshakeAlert, "host name"),
            (E::AlertReceived(AlertDescription::Unknown(200)), TlsCause::HandshakeAlert, "alert 200"),
            (E::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge), TlsCause::CertTooLarge, "64 KiB"),
            (E::InvalidMessage(InvalidMessage::InvalidContentType), TlsCause::NotTls, "plain HTTP"),
            (E::InvalidMessage(InvalidMessage::MissingData("x")), TlsCause::Other, "missing data"),
            (E::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon), TlsCause::Incompatible, "cipher suite"),
            (E::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13), TlsCause::ProtocolVersion, "1.2"),
            (E::PeerIncompatible(PeerIncompatible::NullCompressionRequired), TlsCause::Incompatible, "compression"),
            (E::NoCertificatesPresented, TlsCause::NoCertificate, "no certificate"),
            (E::DecryptError, TlsCause::Other, "decrypt error"),
            (
                E::PeerMisbehaved(rustls::PeerMisbehaved::IllegalHelloRetryRequestWithOfferedGroup),
                TlsCause::Other,
                "broke the TLS protocol: illegal hello retry",
            ),
            (E::General("something".into()), TlsCause::Other, "failed: something"),
            (E::InvalidCertificate(CertificateError::UnhandledCriticalExtension), TlsCause::BadCertificate, "critical"),
            (E::InvalidCertificate(CertificateError::Revoked), TlsCause::Revoked, "revoked"),
            #[allow(deprecated)]
            (
                E::InvalidCertificate(CertificateError::UnsupportedSignatureAlgorithm),
                TlsCause::BadCertificate,
                "algorithm",
            ),
            (
                E::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
                TlsCause::BadCertificate,
                "application verification failure",
            ),
        ];
        for (error, cause, words) in cases {
            assert_tls(&failure(&error), cause, &[words], &[]);
        }
        assert_tls(&closed(), TlsCause::Closed, &["closed the connection"], &[]);
    }

    #[test]
    fn unknown_variants_become_words_without_their_fields() {
        assert_eq!(words(&AlertDescription::HandshakeFailure), "handshake failure");
        assert_eq!(
            words(&PeerIncompatible::ServerRejectedEncryptedClientHello(None)),
            "server rejected encrypted client hello"
        );
        assert_eq!(words(&InvalidMessage::MissingData("x")), "missing data");
        assert_eq!(words(&"{"), "unknown error");
    }
}
