//! Chains already verified in this run: a server that presents the same
//! certificates as before is not put through webpki's path building and
//! signature checks again. The key is a SHA-256 of every presented
//! certificate and the stapled OCSP response, so any byte that differs is a
//! different chain. The server name is not in the key: it is checked against
//! the leaf on every handshake, so one wildcard or many-name certificate
//! (a CDN's, a hosting provider's) is verified once for all its names. Only
//! successes are kept, each only until the first presented certificate
//! expires (and not before the time it was verified at, should the clock go
//! back); the cache is bounded and emptied at the start of each `--watch`
//! round. The handshake signature, the proof that the server holds the
//! certificate's key, is still checked every time.

use std::sync::{Mutex, MutexGuard};

use ring::digest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_name;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::fifo::Fifo;
use crate::wire::sync::lock;

/// How many verified chains are remembered (about 100 bytes each).
pub const CHAINS: usize = 8192;

type Key = [u8; 32];

/// When a remembered verification holds: Unix seconds, `from` inclusive.
#[derive(Clone, Copy, Debug)]
struct Span {
    from: u64,
    until: u64,
}

/// `inner`, the verifier of record, with a memory of its successes.
#[derive(Debug)]
pub struct RememberVerified<V> {
    inner: V,
    verified: Mutex<Fifo<Key, Span>>,
}

impl<V> RememberVerified<V> {
    pub fn new(inner: V, capacity: usize) -> Self {
        RememberVerified { inner, verified: Mutex::new(Fifo::new(capacity)) }
    }

    /// Forgets every verification: each chain is verified again when next seen.
    pub fn clear(&self) {
        self.verified().clear();
    }

    fn verified(&self) -> MutexGuard<'_, Fifo<Key, Span>> {
        lock(&self.verified)
    }
}

impl<V: ServerCertVerifier> ServerCertVerifier for RememberVerified<V> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = key(end_entity, intermediates, ocsp_response);
        let secs = now.as_secs();
        let known = self.verified().get(&key).copied();
        // A name the leaf does not cover goes to the inner verifier, for its
        // error and its description of the certificate.
        if known.is_some_and(|span| span.from <= secs && secs < span.until) && covers(end_entity, server_name) {
            return Ok(ServerCertVerified::assertion());
        }
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        let until = earliest_not_after(end_entity, intermediates).filter(|&until| secs < until);
        if let Some(until) = until {
            let span = Span { from: secs, until };
            if let Some(kept) = self.verified().get_or_insert_with(key, || span) {
                *kept = span;
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// SHA-256 of the chain and the OCSP response, each part preceded by its
/// length so that no two different inputs run together alike.
fn key(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>], ocsp_response: &[u8]) -> Key {
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut part = |bytes: &[u8]| {
        hash.update(&(bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(ocsp_response);
    part(&(intermediates.len() as u64).to_be_bytes());
    for cert in std::iter::once(end_entity).chain(intermediates) {
        part(cert);
    }
    let mut key = [0; 32];
    key.copy_from_slice(hash.finish().as_ref());
    key
}

/// Whether the leaf is valid for `server_name`: webpki's own name check,
/// the one the full verification makes.
fn covers(end_entity: &CertificateDer<'_>, server_name: &ServerName<'_>) -> bool {
    ParsedCertificate::try_from(end_entity).is_ok_and(|leaf| verify_server_name(&leaf, server_name).is_ok())
}

/// The first notAfter among the presented certificates, as Unix seconds;
/// `None` when one of them cannot be read (such a chain is not remembered).
fn earliest_not_after(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> Option<u64> {
    let mut earliest = u64::MAX;
    for der in std::iter::once(end_entity).chain(intermediates) {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        earliest = earliest.min(u64::try_from(cert.validity().not_after.timestamp()).ok()?);
    }
    Some(earliest)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Says yes (or, when `fail`, no) and counts how often it was asked.
    #[derive(Debug, Default)]
    struct Counting {
        chains: AtomicUsize,
        signatures: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl ServerCertVerifier for Counting {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            self.chains.fetch_add(1, Ordering::Relaxed);
            match self.fail.load(Ordering::Relaxed) {
                true => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
                false => Ok(ServerCertVerified::assertion()),
            }
        }

        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.signatures.fetch_add(1, Ordering::Relaxed);
            Ok(HandshakeSignatureValid::assertion())
        }

        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.signatures.fetch_add(1, Ordering::Relaxed);
            Ok(HandshakeSignatureValid::assertion())
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![SignatureScheme::ECDSA_NISTP256_SHA256]
        }
    }

    /// A self-signed certificate for `name` valid until Unix time `until`.
    fn cert(name: &str, until: i64) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(until).unwrap();
        CertificateDer::from(params.self_signed(&key).unwrap().der().to_vec())
    }

    fn name(text: &str) -> ServerName<'static> {
        ServerName::try_from(text.to_string()).unwrap()
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs))
    }

    const UNTIL: i64 = 2_000_000_000;

    fn verify(
        cache: &RememberVerified<Counting>,
        leaf: &CertificateDer<'_>,
        rest: &[CertificateDer<'_>],
        host: &str,
        now: u64,
    ) -> usize {
        let _ = cache.verify_server_cert(leaf, rest, &name(host), &[], at(now));
        cache.inner.chains.load(Ordering::Relaxed)
    }

    #[test]
    fn a_chain_verified_once_is_not_verified_again() {
        let cache = RememberVerified::new(Counting::default(), 16);
        let (leaf, intermediate) = (cert("a.test", UNTIL), cert("CA", UNTIL + 100));
        let chain = [intermediate.clone()];
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", 1_000), 1);
        assert!(cache.verify_server_cert(&leaf, &chain, &name("a.test"), &[], at(1_001)).is_ok());
        assert_eq!(cache.inner.chains.load(Ordering::Relaxed), 1, "the second identical call stays in the cache");
        // A name the leaf does not cover, another chain, a stapled OCSP
        // response, one fewer certificate: each is verified.
        assert_eq!(verify(&cache, &leaf, &chain, "b.test", 1_002), 2);
        assert_eq!(verify(&cache, &cert("a.test", UNTIL), &chain, "a.test", 1_003), 3);
        assert_eq!(verify(&cache, &leaf, &[], "a.test", 1_004), 4);
        let _ = cache.verify_server_cert(&leaf, &chain, &name("a.test"), b"ocsp", at(1_005));
        assert_eq!(cache.inner.chains.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn one_wildcard_chain_is_verified_once_for_all_its_names() {
        let cache = RememberVerified::new(Counting::default(), 16);
        let leaf = cert("*.bench.test", UNTIL);
        assert_eq!(verify(&cache, &leaf, &[], "h1.bench.test", 1_000), 1);
        assert_eq!(verify(&cache, &leaf, &[], "h2.bench.test", 1_001), 1);
        assert_eq!(verify(&cache, &leaf, &[], "H3.Bench.Test", 1_002), 1);
        // Names the wildcard does not cover are not taken from the cache.
        assert_eq!(verify(&cache, &leaf, &[], "bench.test", 1_003), 2);
        assert_eq!(verify(&cache, &leaf, &[], "a.b.bench.test", 1_004), 3);
        assert_eq!(verify(&cache, &leaf, &[], "h1.other.test", 1_005), 4);
    }

    #[test]
    fn a_remembered_chain_holds_only_while_every_certificate_is_valid() {
        let cache = RememberVerified::new(Counting::default(), 16);
        // The intermediate expires first.
        let (leaf, intermediate) = (cert("a.test", UNTIL), cert("CA", UNTIL - 500));
        let chain = [intermediate];
        let early = (UNTIL - 1_000) as u64;
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", early), 1);
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", (UNTIL - 501) as u64), 1);
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", (UNTIL - 500) as u64), 2, "past the intermediate's end");
        // A clock set back before the verification does not trust it either.
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", early - 1), 3);
        // Verified when already expired (the inner verifier said yes here):
        // nothing to remember.
        let late = (UNTIL + 10) as u64;
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", late), 4);
        assert_eq!(verify(&cache, &leaf, &chain, "a.test", late), 5);
    }

    #[test]
    fn failures_are_not_remembered_and_clear_forgets() {
        let cache = RememberVerified::new(Counting::default(), 16);
        let leaf = cert("a.test", UNTIL);
        cache.inner.fail.store(true, Ordering::Relaxed);
        let failed = cache.verify_server_cert(&leaf, &[], &name("a.test"), &[], at(1_000));
        assert!(matches!(failed, Err(rustls::Error::InvalidCertificate(_))), "{failed:?}");
        assert!(cache.verify_server_cert(&leaf, &[], &name("a.test"), &[], at(1_000)).is_err());
        assert_eq!(cache.inner.chains.load(Ordering::Relaxed), 2);
        cache.inner.fail.store(false, Ordering::Relaxed);
        assert_eq!(verify(&cache, &leaf, &[], "a.test", 1_000), 3);
        assert_eq!(verify(&cache, &leaf, &[], "a.test", 1_000), 3);
        cache.clear();
        assert_eq!(verify(&cache, &leaf, &[], "a.test", 1_000), 4);
        // An unreadable certificate is verified (and failed) every time.
        cache.inner.fail.store(false, Ordering::Relaxed);
        let junk = CertificateDer::from(vec![1, 2, 3]);
        assert_eq!(verify(&cache, &junk, &[], "a.test", 1_000), 5);
        assert_eq!(verify(&cache, &junk, &[], "a.test", 1_000), 6);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = RememberVerified::new(Counting::default(), 2);
        let leaves: Vec<_> = ["a.test", "b.test", "c.test"].map(|host| (host, cert(host, UNTIL))).into();
        for (host, leaf) in &leaves {
            verify(&cache, leaf, &[], host, 1_000);
        }
        assert_eq!(cache.verified().len(), 2);
        assert_eq!(verify(&cache, &leaves[0].1, &[], "a.test", 1_000), 4, "the oldest was forgotten");
        assert_eq!(verify(&cache, &leaves[2].1, &[], "c.test", 1_000), 4);
    }
}
