//! The opt-in legacy handshake (cargo feature `tls-legacy`): OpenSSL, for
//! the servers rustls cannot agree with on a protocol version or a cipher
//! suite (TLS 1.0 and 1.1, CBC suites, RSA key exchange, DHE), as curl
//! reaches them with its lowest TLS version and the cipher list
//! `DEFAULT@SECLEVEL=0` (which, in OpenSSL 3, has no 3DES or RC4).
//!
//! It widens versions and suites, never the rules for certificates.
//! OpenSSL's own verification is off; the chain the server presented goes
//! through the run's rustls verifier, the one the default handshake uses
//! (the same roots, the same remembered chains, the same causes and words),
//! so a SHA-1 or MD5 signature, a wrong host or an unknown issuer stay
//! refused. On the default path a leaf's RSA key under 2048 bits is refused
//! when rustls checks the handshake signature; OpenSSL at security level 0
//! checks that signature itself and accepts any size, so the leaf's key is
//! checked here by the same rule. The chain's size limit is rustls' too.
//! With verification off (`insecure`) nothing about the certificate is
//! checked, as on the default path. All of it happens before the stream is
//! handed back, so no request byte reaches a server that was not verified.

use std::pin::Pin;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::InvalidMessage;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use openssl::ssl::{
    self, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef, SslVerifyMode, SslVersion,
};

use super::{diagnose, Anchors};
use crate::result::{CheckError, Phase, SetupError, TlsCause, TlsSession};

/// OpenSSL's cipher list for TLS 1.2 and older: its default suites at
/// security level 0, so weak DH groups and short keys are taken too (the
/// handshake's strength is what the server offers; the certificate's is
/// checked here). curl's reference is the same list.
const CIPHERS: &str = "DEFAULT@SECLEVEL=0";

/// `SSL_OP_LEGACY_SERVER_CONNECT` (ssl.h), which the openssl crate does
/// not name: connect to servers without secure renegotiation.
const LEGACY_SERVER_CONNECT: SslOptions = SslOptions::from_bits_retain(1 << 2);

/// ALPN `http/1.1`, as the default handshake offers it (length-prefixed).
const ALPN: &[u8] = b"\x08http/1.1";

/// The largest handshake message rustls accepts: a presented chain whose
/// Certificate message would be larger is refused here as it is there
/// (OpenSSL alone would take up to 100 KiB).
const MAX_HANDSHAKE: usize = 0xffff;

/// The causes of a refused default handshake that the legacy one may
/// change: no version or suite in common, or a server that refused or hung
/// up before saying why (what the probe explains, see
/// [`super::worth_probing`]). Not a certificate's cause (the legacy
/// handshake holds certificates to the same rules), not `cert-too-large`
/// (its limit is kept too), not `not-tls`.
pub const RETRIED: &[TlsCause] = &[
    TlsCause::LegacyOnly,
    TlsCause::ProtocolVersion,
    TlsCause::Incompatible,
    TlsCause::HandshakeAlert,
    TlsCause::Closed,
];

/// Whether a check refused with `error` is tried again over legacy TLS: one
/// of the [`RETRIED`] causes, or a connection reset during the handshake
/// (some old servers answer a hello they do not understand so).
pub fn retried(error: &CheckError) -> bool {
    match error {
        CheckError::Io { phase: Phase::Tls, .. } => true,
        other => other.tls_cause().is_some_and(|cause| RETRIED.contains(&cause)),
    }
}

/// The legacy handshake of a run: one OpenSSL context, and the verifier of
/// the default handshake.
pub struct Legacy {
    context: SslContext,
    verifier: Arc<dyn ServerCertVerifier>,
    /// No verification: the verifier accepts anything, the leaf's key is
    /// not checked either.
    insecure: bool,
}

/// Why the legacy handshake gave no stream.
#[derive(Debug)]
pub enum Refusal {
    /// The handshake failed, in OpenSSL's words: it explains nothing that
    /// the default handshake's error did not.
    Handshake(String),
    /// The handshake was done and the certificate refused: this is the
    /// check's answer.
    Certificate(CheckError),
}

impl Legacy {
    /// The context for every legacy handshake of a run, verified by
    /// `verifier` (that of [`super::ClientTls`]) unless `insecure`.
    pub fn new(verifier: Arc<dyn ServerCertVerifier>, insecure: bool) -> Result<Legacy, SetupError> {
        let context = context().map_err(|e| SetupError::TlsLegacy(e.to_string()))?;
        Ok(Legacy { context: context.build(), verifier, insecure })
    }

    /// The handshake with the server `name` over `tcp`, then the checks of
    /// its certificate; a stream only if both pass.
    pub async fn connect(&self, name: &ServerName<'static>, tcp: TcpStream) -> Result<SslStream<TcpStream>, Refusal> {
        let ssl = self.ssl(name).map_err(|e| Refusal::Handshake(stack_reason(&e)))?;
        let mut stream = SslStream::new(ssl, tcp).map_err(|e| Refusal::Handshake(stack_reason(&e)))?;
        Pin::new(&mut stream).connect().await.map_err(|e| Refusal::Handshake(reason(&e)))?;
        self.verify(stream.ssl(), name).map_err(Refusal::Certificate)?;
        Ok(stream)
    }

    fn ssl(&self, name: &ServerName<'static>) -> Result<Ssl, openssl::error::ErrorStack> {
        let mut ssl = Ssl::new(&self.context)?;
        // SNI for host names only, as rustls and RFC 6066 do.
        if let ServerName::DnsName(host) = name {
            ssl.set_hostname(host.as_ref())?;
        }
        Ok(ssl)
    }

    /// The rules of the default handshake, on what OpenSSL received.
    fn verify(&self, ssl: &SslRef, name: &ServerName<'_>) -> Result<(), CheckError> {
        let presented = presented(ssl);
        let Some((leaf, intermediates)) = presented.split_first() else {
            return Err(diagnose::failure(&rustls::Error::NoCertificatesPresented));
        };
        if certificate_message_size(&presented) > MAX_HANDSHAKE {
            let too_large = rustls::Error::InvalidMessage(InvalidMessage::CertificatePayloadTooLarge);
            return Err(diagnose::failure(&too_large));
        }
        if self.insecure {
            return Ok(());
        }
        self.verifier
            .verify_server_cert(leaf, intermediates, name, &[], UnixTime::now())
            .map_err(|error| diagnose::failure(&error))?;
        match diagnose::weak_leaf_key(leaf) {
            Some(weak) => Err(weak),
            None => Ok(()),
        }
    }
}

/// TLS 1.0 to 1.3, [`CIPHERS`], ALPN, no verification by OpenSSL (see the
/// module header). Servers without secure renegotiation (RFC 5746) stay
/// refused whatever OpenSSL's version, as curl refuses them on OpenSSL 3:
/// without it a man in the middle can put a request of its own before
/// ours, whose headers (secrets among them) the server then takes as its.
fn context() -> Result<SslContextBuilder, openssl::error::ErrorStack> {
    let mut builder = SslContext::builder(SslMethod::tls_client())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1))?;
    builder.set_max_proto_version(Some(SslVersion::TLS1_3))?;
    builder.set_cipher_list(CIPHERS)?;
    builder.set_alpn_protos(ALPN)?;
    builder.set_verify(SslVerifyMode::NONE);
    // Bug workarounds for old servers, as curl sets them, but with the
    // empty fragments that protect CBC in TLS 1.0 against BEAST.
    builder.set_options(SslOptions::ALL & !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS);
    builder.clear_options(LEGACY_SERVER_CONNECT);
    Ok(builder)
}

/// The chain as the server sent it, leaf first, as DER.
fn presented(ssl: &SslRef) -> Vec<CertificateDer<'static>> {
    let Some(chain) = ssl.peer_cert_chain() else { return Vec::new() };
    // A certificate OpenSSL parsed always encodes again.
    chain.iter().filter_map(|cert| cert.to_der().ok()).map(CertificateDer::from).collect()
}

/// The size of a TLS 1.2 Certificate message with these certificates (TLS
/// 1.3 adds a few bytes per certificate).
fn certificate_message_size(chain: &[CertificateDer<'_>]) -> usize {
    3 + chain.iter().map(|cert| 3 + cert.len()).sum::<usize>()
}

/// What the legacy handshake negotiated, named as the default handshake
/// names it; given the trust anchors, with the leaf and the certificate of
/// the verified chain that expires first.
pub fn session(ssl: &SslRef, anchors: Option<&Anchors>) -> TlsSession {
    let version = version_name(ssl.version2(), ssl.version_str());
    let cipher = ssl.current_cipher().map(|c| c.standard_name().unwrap_or(c.name())).unwrap_or_default();
    let cipher = cipher_name(cipher, &version);
    let presented = anchors.map(|_| presented(ssl));
    super::negotiated(version, cipher, presented.as_deref(), anchors)
}

fn version_name(version: Option<SslVersion>, fallback: &str) -> String {
    let name = match version {
        Some(SslVersion::TLS1) => "TLS 1.0",
        Some(SslVersion::TLS1_1) => "TLS 1.1",
        Some(SslVersion::TLS1_2) => "TLS 1.2",
        Some(SslVersion::TLS1_3) => "TLS 1.3",
        _ => fallback,
    };
    name.to_owned()
}

/// The suite's IANA name, which rustls uses too, except that rustls says
/// `TLS13_` where IANA says `TLS_` for TLS 1.3's.
fn cipher_name(standard: &str, version: &str) -> String {
    match standard.strip_prefix("TLS_") {
        Some(rest) if version == "TLS 1.3" => format!("TLS13_{rest}"),
        _ => standard.to_owned(),
    }
}

/// A failed handshake in OpenSSL's words, without its file names and codes:
/// `tlsv1 alert protocol version`, `no protocols available`.
fn reason(error: &ssl::Error) -> String {
    if let Some(io) = error.io_error() {
        return crate::wire::resolve::io_reason(io);
    }
    match error.ssl_error() {
        Some(stack) => stack_reason(stack),
        None if error.code() == ssl::ErrorCode::SYSCALL || error.code() == ssl::ErrorCode::ZERO_RETURN => {
            "the server closed the connection".into()
        }
        None => "handshake failed".into(),
    }
}

fn stack_reason(stack: &openssl::error::ErrorStack) -> String {
    let reasons: Vec<&str> = stack.errors().iter().filter_map(|e| e.reason()).collect();
    match reasons.first() {
        Some(first) => (*first).to_owned(),
        None => "handshake failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_suites_are_named_as_rustls_names_them() {
        assert_eq!(version_name(Some(SslVersion::TLS1), "TLSv1"), "TLS 1.0");
        assert_eq!(version_name(Some(SslVersion::TLS1_3), "TLSv1.3"), "TLS 1.3");
        assert_eq!(version_name(None, "unknown"), "unknown");
        assert_eq!(cipher_name("TLS_AES_128_GCM_SHA256", "TLS 1.3"), "TLS13_AES_128_GCM_SHA256");
        let cbc = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA";
        assert_eq!(cipher_name(cbc, "TLS 1.0"), cbc);
    }

    #[test]
    fn certificate_causes_and_size_are_not_retried() {
        for cause in [TlsCause::LegacyOnly, TlsCause::ProtocolVersion, TlsCause::HandshakeAlert, TlsCause::Closed] {
            assert!(retried(&CheckError::tls(cause, "x")), "{cause}");
        }
        for cause in [TlsCause::WeakKey, TlsCause::WrongHost, TlsCause::CertTooLarge, TlsCause::NotTls] {
            assert!(!retried(&CheckError::tls(cause, "x")), "{cause}");
        }
        assert!(!retried(&CheckError::Protocol("x".into())));
        assert!(retried(&CheckError::Io { phase: Phase::Tls, reason: "connection reset by peer".into() }));
        assert!(!retried(&CheckError::Io { phase: Phase::Read, reason: "connection reset by peer".into() }));
    }

    #[test]
    fn whatever_the_probe_may_explain_is_retried_first() {
        let mut errors: Vec<CheckError> = TlsCause::ALL.iter().map(|&cause| CheckError::tls(cause, "x")).collect();
        errors.push(CheckError::Io { phase: Phase::Tls, reason: "connection reset by peer".into() });
        for error in errors.iter().filter(|e| super::super::worth_probing(e)) {
            assert!(retried(error), "{error:?}");
        }
    }

    #[test]
    fn the_size_limit_is_that_of_a_handshake_message() {
        let chain = [CertificateDer::from(vec![0u8; 40_000]), CertificateDer::from(vec![0u8; 25_526])];
        assert_eq!(certificate_message_size(&chain), MAX_HANDSHAKE);
        let over = [CertificateDer::from(vec![0u8; 40_000]), CertificateDer::from(vec![0u8; 25_527])];
        assert!(certificate_message_size(&over) > MAX_HANDSHAKE);
    }

    #[test]
    fn the_context_takes_the_legacy_settings() {
        let mut context = context().unwrap();
        assert_eq!(context.min_proto_version(), Some(SslVersion::TLS1));
        assert_eq!(context.max_proto_version(), Some(SslVersion::TLS1_3));
        let options = context.options();
        assert!(!options.contains(LEGACY_SERVER_CONNECT), "RFC 5746 required");
        assert!(!options.contains(SslOptions::DONT_INSERT_EMPTY_FRAGMENTS), "BEAST countermeasure kept");
        assert!(context.build().verify_mode() == SslVerifyMode::NONE, "our verifier, not OpenSSL's");
    }
}
