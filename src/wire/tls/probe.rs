//! The legacy probe: what a server offers, learned when our handshake
//! failed in a way that does not say (an alert, a version refused, nothing
//! in common, a connection closed or reset). A `handshake_failure` alone
//! proves nothing: SNI-strict hosts, client-certificate servers and servers
//! with no group in common send it too. So one more connection sends a
//! hello of our own that offers TLS 1.0 to 1.2 and every legacy suite
//! ([`hello`]), and reads the version and suite the server picks
//! ([`reply`]).
//!
//! A pick rustls cannot make (a version before TLS 1.2, or a TLS 1.2 suite
//! with CBC, RSA key exchange, DHE, 3DES or RC4), with nothing better
//! picked from a list that offered it first, shows the server offers only
//! what is no longer safe: [`Legacy`]. Anything else (a pick rustls could
//! make, an alert, silence, bytes that are not TLS) shows nothing, and the
//! handshake's own error stands.
//!
//! Only the ServerHello is read: no key is made, no certificate looked at,
//! and at most [`MAX_REPLY`] bytes (a few hundred) are read. The caller owns the
//! connection (and so where it goes) and the deadline.

mod hello;
mod reply;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::result::{CheckError, Phase, TlsCause};
use hello::{Class, Suite};
use reply::{Parsed, Reply};

/// The most bytes read of an answer: any reply is decided within them
/// (see [`reply::DECIDED_WITHIN`]); a read that brings more is cut here.
pub const MAX_REPLY: usize = reply::DECIDED_WITHIN;

/// Whether a failed handshake is one the probe may explain: one that does
/// not say why. A certificate, a timeout or an answer that is not TLS says
/// enough, and is never probed.
pub fn worth_probing(error: &CheckError) -> bool {
    match error {
        CheckError::Tls { cause, .. } => matches!(
            cause,
            TlsCause::HandshakeAlert | TlsCause::ProtocolVersion | TlsCause::Incompatible | TlsCause::Closed
        ),
        // A reset in the middle of the handshake: some old servers answer a
        // hello they do not understand so.
        CheckError::Io { phase: Phase::Tls, .. } => true,
        _ => false,
    }
}

/// Sends the probe's hello on `stream` (a fresh connection to the server,
/// or a fresh tunnel to it) and reads the answer: `Some` if it proves the
/// server legacy-only. `sni` is the host name; `None` for an IP literal.
pub async fn legacy_offer<S>(stream: &mut S, sni: Option<&str>) -> Option<Legacy>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut random = [0u8; 32];
    // The random makes the hello unique; a probe without one is not sent.
    getrandom::getrandom(&mut random).ok()?;
    stream.write_all(&hello::client_hello(sni, &random)).await.ok()?;
    stream.flush().await.ok()?;
    Legacy::of(read_reply(stream).await?)
}

/// Reads until the answer is known, the server stops, or [`MAX_REPLY`]
/// bytes are in: each turn reads at least one byte, so at most that many turns.
async fn read_reply<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Reply> {
    let mut buffer = vec![0u8; MAX_REPLY];
    let mut filled = 0;
    loop {
        if let Parsed::Done(reply) = reply::parse(&buffer[..filled]) {
            return Some(reply);
        }
        let free = buffer.get_mut(filled..).filter(|free| !free.is_empty())?;
        match stream.read(free).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => filled += n,
        }
    }
}

/// What a legacy-only server picked from the probe's offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Legacy {
    /// As on the wire: 0x0301 is TLS 1.0.
    version: u16,
    suite: &'static Suite,
}

impl Legacy {
    /// The legacy pick in `reply`, if it is one: a version before TLS 1.2,
    /// or TLS 1.2 with a suite rustls does not have. A suite we did not
    /// offer, or a version we did not ask for, is a broken server, which
    /// proves nothing.
    fn of(reply: Reply) -> Option<Legacy> {
        let Reply::Hello { version, suite } = reply else { return None };
        let suite = hello::offered(suite)?;
        let legacy = match version {
            0x0300..=0x0302 => true,
            hello::CLIENT_VERSION => suite.class != Class::Modern,
            _ => false,
        };
        legacy.then_some(Legacy { version, suite })
    }

    /// The check's error: `legacy-only`, naming what the server offers.
    pub fn error(&self) -> CheckError {
        CheckError::tls(TlsCause::LegacyOnly, self.message())
    }

    /// `server offers only TLS 1.0, ...`: the version before TLS 1.2, or
    /// what makes the TLS 1.2 suite one rustls lacks; then the suite picked.
    fn message(&self) -> String {
        format!(
            "server offers only {}, which is no longer safe and which statuscheck does not speak (it chose {})",
            self.offer(),
            self.suite.name
        )
    }

    fn offer(&self) -> String {
        let old = match self.version {
            0x0300 => Some("SSL 3.0"),
            0x0301 => Some("TLS 1.0"),
            0x0302 => Some("TLS 1.1"),
            _ => None,
        };
        if let Some(old) = old {
            return old.to_owned();
        }
        let cbc = if self.suite.cbc { " and CBC ciphers" } else { "" };
        match self.suite.class {
            Class::Cbc => "TLS 1.2 with CBC ciphers".to_owned(),
            Class::Dhe => format!("TLS 1.2 with DHE key exchange{cbc}"),
            Class::RsaKx => format!("TLS 1.2 with RSA key exchange{cbc}"),
            Class::TripleDes => "TLS 1.2 with 3DES".to_owned(),
            Class::Rc4 => "TLS 1.2 with RC4".to_owned(),
            // Not a legacy pick: never made into a `Legacy` (see `of`).
            Class::Modern => "TLS 1.2".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reply::tests::{record, server_hello_message};
    use rustls::SupportedCipherSuite;

    fn pick(version: u16, suite: u16) -> Option<String> {
        Legacy::of(Reply::Hello { version, suite }).map(|legacy| legacy.error().to_string())
    }

    #[test]
    fn modern_is_exactly_what_rustls_speaks_in_tls_1_2() {
        let rustls: Vec<u16> = rustls::crypto::ring::DEFAULT_CIPHER_SUITES
            .iter()
            .filter(|suite| matches!(suite, SupportedCipherSuite::Tls12(_)))
            .map(|suite| u16::from(suite.suite()))
            .collect();
        let mut modern: Vec<u16> = hello::OFFERED.iter().filter(|s| s.class == Class::Modern).map(|s| s.code).collect();
        let mut expected = rustls.clone();
        modern.sort_unstable();
        expected.sort_unstable();
        assert_eq!(modern, expected);
    }

    #[test]
    fn old_versions_are_named_whatever_the_suite() {
        let message = pick(0x0301, 0xc02f).unwrap();
        assert_eq!(
            message,
            "server offers only TLS 1.0, which is no longer safe and which statuscheck does not speak \
             (it chose TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
        );
        assert!(pick(0x0302, 0x002f).unwrap().starts_with("server offers only TLS 1.1,"));
        assert!(pick(0x0300, 0x0005).unwrap().starts_with("server offers only SSL 3.0,"));
    }

    #[test]
    fn tls_1_2_names_what_rustls_lacks() {
        let cases = [
            (0xc013, "TLS 1.2 with CBC ciphers", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
            (0x009c, "TLS 1.2 with RSA key exchange,", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
            (0x002f, "TLS 1.2 with RSA key exchange and CBC ciphers", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            (0x009e, "TLS 1.2 with DHE key exchange,", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
            (0x0039, "TLS 1.2 with DHE key exchange and CBC ciphers", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
            (0x000a, "TLS 1.2 with 3DES", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            (0x0005, "TLS 1.2 with RC4", "TLS_RSA_WITH_RC4_128_SHA"),
        ];
        for (suite, offer, name) in cases {
            let message = pick(0x0303, suite).unwrap();
            assert!(message.starts_with(&format!("server offers only {offer}")), "{message}");
            assert!(message.ends_with(&format!("(it chose {name})")), "{message}");
        }
    }

    #[test]
    fn what_proves_nothing_is_not_legacy() {
        for modern in [0xc02b, 0xc02f, 0xc030, 0xcca8, 0xcca9] {
            assert_eq!(pick(0x0303, modern), None, "{modern:#x}");
        }
        assert_eq!(pick(0x0303, 0x1301), None, "a suite not offered");
        assert_eq!(pick(0x0303, 0x00ff), None, "the renegotiation SCSV is not a suite");
        assert_eq!(pick(0x0304, 0x002f), None, "a version not asked for");
        assert_eq!(pick(0x0200, 0x002f), None);
        assert_eq!(Legacy::of(Reply::Alert { level: 2, description: 40 }), None);
        assert_eq!(Legacy::of(Reply::Broken(reply::Broken::NotTls)), None);
    }

    #[test]
    fn only_failures_that_do_not_say_why_are_probed() {
        for cause in [TlsCause::HandshakeAlert, TlsCause::ProtocolVersion, TlsCause::Incompatible, TlsCause::Closed] {
            assert!(worth_probing(&CheckError::tls(cause, "")), "{cause}");
        }
        for cause in [TlsCause::Expired, TlsCause::UnknownIssuer, TlsCause::NotTls, TlsCause::Other] {
            assert!(!worth_probing(&CheckError::tls(cause, "")), "{cause}");
        }
        let reset = CheckError::Io { phase: Phase::Tls, reason: "connection reset by peer".into() };
        assert!(worth_probing(&reset));
        let timeout = CheckError::Timeout { phase: Phase::Tls, limit: std::time::Duration::from_secs(1) };
        assert!(!worth_probing(&timeout));
    }

    /// `legacy_offer` over an in-memory pipe whose far end answers `reply`
    /// after reading the whole hello.
    async fn offer_answered_with(reply: Vec<u8>, sni: Option<&str>) -> (Option<Legacy>, Vec<u8>) {
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut header = [0u8; 5];
            theirs.read_exact(&mut header).await.unwrap();
            let mut hello = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
            theirs.read_exact(&mut hello).await.unwrap();
            theirs.write_all(&reply).await.unwrap();
            hello
        });
        let legacy = legacy_offer(&mut ours, sni).await;
        (legacy, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_probe_sends_its_hello_and_reads_the_pick() {
        let reply = record(22, &server_hello_message(0x0301, 0x0035, 32, &[]));
        let (legacy, hello) = offer_answered_with(reply, Some("old.test")).await;
        assert_eq!(legacy.map(|l| l.version), Some(0x0301));
        assert!(hello.windows(8).any(|w| w == b"old.test"), "SNI sent");
        let (legacy, _) = offer_answered_with(record(21, &[2, 40]), None).await;
        assert_eq!(legacy, None);
    }

    #[tokio::test]
    async fn a_reply_is_read_no_further_than_its_bound() {
        // A record that claims more than it sends, then silence: the reply
        // ends when the server closes, and nothing is learned.
        let mut reply = vec![22, 3, 1, 0x40, 0];
        reply.extend(vec![0; 10]);
        let (legacy, _) = offer_answered_with(reply, None).await;
        assert_eq!(legacy, None);
        // One-byte handshake fragments (6 bytes each) are decided within the bound.
        let fragments: Vec<u8> =
            server_hello_message(0x0303, 0x000a, 32, &[]).chunks(1).flat_map(|c| record(22, c)).collect();
        let (legacy, _) = offer_answered_with(fragments, None).await;
        assert_eq!(legacy.map(|l| l.suite.code), Some(0x000a));
    }

    #[tokio::test]
    async fn no_more_than_the_bound_is_read() {
        // 10 KiB of one-byte fragments of a ServerHello and then more: the
        // probe reads what decides and leaves the rest unread.
        let mut reply: Vec<u8> =
            server_hello_message(0x0303, 0xc013, 32, &[]).chunks(1).flat_map(|c| record(22, c)).collect();
        while reply.len() < 10 * 1024 {
            reply.extend(record(22, &[0]));
        }
        let total = reply.len();
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        theirs.write_all(&reply).await.unwrap();
        let legacy = legacy_offer(&mut ours, None).await;
        drop(theirs);
        assert_eq!(legacy.map(|l| l.suite.code), Some(0xc013));
        let mut rest = Vec::new();
        ours.read_to_end(&mut rest).await.unwrap();
        assert!(total - rest.len() <= MAX_REPLY, "read {} bytes", total - rest.len());
    }
}
