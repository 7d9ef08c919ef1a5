//! The probe's ClientHello: a TLS 1.2 hello (record version 1.0, as old
//! servers expect) that offers every cipher suite a server of the last
//! twenty years may insist on, so that the one it picks says what it
//! offers. Only ever sent on a connection of its own, after our real
//! handshake failed: no key is made, and nothing after the server's
//! answer is read.
//!
//! The suites are offered best first (ECDHE with an AEAD, then ECDHE-CBC,
//! DHE, RSA key exchange, 3DES, RC4), so a server that honours our order
//! picks the best it has, and one that picks by its own order picks what it
//! prefers; either way, a pick nothing better stood against.

/// What a suite is, as far as rustls is concerned: one it speaks, or why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// ECDHE with AES-GCM or ChaCha20-Poly1305: what rustls speaks in TLS 1.2.
    Modern,
    /// ECDHE with a CBC cipher (AES-CBC with HMAC).
    Cbc,
    /// Finite-field Diffie-Hellman key exchange (with any cipher but 3DES).
    Dhe,
    /// RSA key exchange, AEAD or not: no forward secrecy.
    RsaKx,
    /// Triple DES.
    TripleDes,
    /// RC4.
    Rc4,
}

/// One cipher suite we offer: its code, IANA name, and what is weak in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub code: u16,
    pub name: &'static str,
    pub class: Class,
    /// CBC mode, whatever the class: an RSA-kx or DHE suite with CBC is
    /// named with both.
    pub cbc: bool,
}

const fn suite(code: u16, name: &'static str, class: Class, cbc: bool) -> Suite {
    Suite { code, name, class, cbc }
}

use Class::{Cbc, Dhe, Modern, Rc4, RsaKx, TripleDes};

/// What the probe offers, best first (see the module doc).
pub const OFFERED: &[Suite] = &[
    suite(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Modern, false),
    suite(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Modern, false),
    suite(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Modern, false),
    suite(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Modern, false),
    suite(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Modern, false),
    suite(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Modern, false),
    suite(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Cbc, true),
    suite(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Cbc, true),
    suite(0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Cbc, true),
    suite(0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Cbc, true),
    suite(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Cbc, true),
    suite(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Cbc, true),
    suite(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Cbc, true),
    suite(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Cbc, true),
    suite(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Dhe, false),
    suite(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Dhe, false),
    suite(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Dhe, false),
    suite(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Dhe, true),
    suite(0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Dhe, true),
    suite(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Dhe, true),
    suite(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Dhe, true),
    suite(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", RsaKx, false),
    suite(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", RsaKx, false),
    suite(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", RsaKx, true),
    suite(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", RsaKx, true),
    suite(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", RsaKx, true),
    suite(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", RsaKx, true),
    suite(0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", TripleDes, true),
    suite(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", TripleDes, true),
    suite(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", TripleDes, true),
    suite(0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Rc4, false),
    suite(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Rc4, false),
    suite(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Rc4, false),
];

/// The suite with this code, if we offer it (a server may pick no other).
pub fn offered(code: u16) -> Option<&'static Suite> {
    OFFERED.iter().find(|suite| suite.code == code)
}

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV: "we do secure renegotiation", which
/// some old servers want to hear before they answer.
const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// x25519, secp256r1, secp384r1: the groups rustls has, so an ECDHE pick
/// means one rustls could have made too.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018];

/// ECDSA and RSA (PKCS#1 and PSS) with SHA-256/384/512, and the SHA-1 ones
/// an old certificate may need.
const SIGNATURE_SCHEMES: &[u16] =
    &[0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201];

const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
/// The record version: TLS 1.0, which every TLS server accepts on a hello.
const RECORD_VERSION: u16 = 0x0301;
/// The highest version we ask for: TLS 1.2 (no supported_versions, so no
/// server can pick 1.3 and every pick is a legacy-era one).
pub const CLIENT_VERSION: u16 = 0x0303;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_PADDING: u16 = 21;

/// The longest host name sent as SNI (a DNS name is at most 253 bytes); a
/// longer one is not sent, which keeps every length below within its field.
const MAX_SNI: usize = 253;

/// The ClientHello record for `sni` (a DNS name; `None` for an IP literal)
/// with this `random`.
pub fn client_hello(sni: Option<&str>, random: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, CLIENT_VERSION);
    body.extend_from_slice(random);
    body.push(0); // no session id
    let suites: Vec<u16> = OFFERED.iter().map(|s| s.code).chain([RENEGOTIATION_SCSV]).collect();
    put_u16(&mut body, (suites.len() * 2) as u16);
    suites.iter().for_each(|&code| put_u16(&mut body, code));
    body.extend_from_slice(&[1, 0]); // compression: null only
    let extensions = extensions(sni.filter(|name| !name.is_empty() && name.len() <= MAX_SNI), body.len());
    put_u16(&mut body, extensions.len() as u16);
    body.extend_from_slice(&extensions);
    let mut record = Vec::with_capacity(body.len() + 9);
    record.push(HANDSHAKE);
    put_u16(&mut record, RECORD_VERSION);
    put_u16(&mut record, (body.len() + 4) as u16);
    record.push(CLIENT_HELLO);
    record.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    record.extend_from_slice(&body);
    record
}

/// The extensions, padded (RFC 7685) so the whole handshake message is not
/// between 256 and 511 bytes long: old F5 load balancers, exactly the kind
/// of server probed, hang on a hello of that size (BoringSSL and OpenSSL pad
/// the same way). `before` is the length of the body before the extensions.
fn extensions(sni: Option<&str>, before: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    if let Some(name) = sni {
        let mut list = vec![0]; // host_name
        put_u16(&mut list, name.len() as u16);
        list.extend_from_slice(name.as_bytes());
        let mut data = Vec::with_capacity(list.len() + 2);
        put_u16(&mut data, list.len() as u16);
        data.extend_from_slice(&list);
        extension(&mut out, EXT_SERVER_NAME, &data);
    }
    extension(&mut out, EXT_SUPPORTED_GROUPS, &u16_list(GROUPS));
    extension(&mut out, EXT_EC_POINT_FORMATS, &[1, 0]); // uncompressed
    extension(&mut out, EXT_SIGNATURE_ALGORITHMS, &u16_list(SIGNATURE_SCHEMES));
    // 4: the handshake header; 2: the extensions' length.
    let message = 4 + before + 2 + out.len();
    if (256..512).contains(&message) {
        let data = (512 - message).saturating_sub(4).max(1);
        extension(&mut out, EXT_PADDING, &vec![0; data]);
    }
    out
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

/// A list of u16 with its two-byte length in front.
fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + items.len() * 2);
    put_u16(&mut out, (items.len() * 2) as u16);
    items.iter().for_each(|&item| put_u16(&mut out, item));
    out
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: [u8; 32] = [7; 32];

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([bytes[at], bytes[at + 1]])
    }

    /// The extensions of a hello, as (type, data), checking every length.
    fn parse(hello: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!((hello[0], u16_at(hello, 1)), (HANDSHAKE, RECORD_VERSION));
        assert_eq!(u16_at(hello, 3) as usize, hello.len() - 5, "record length");
        assert_eq!(hello[5], CLIENT_HELLO);
        let length = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(length, hello.len() - 9, "handshake length");
        let body = &hello[9..];
        assert_eq!(u16_at(body, 0), CLIENT_VERSION);
        assert_eq!(&body[2..34], &RANDOM);
        assert_eq!(body[34], 0, "no session id");
        let suites = u16_at(body, 35) as usize;
        let mut at = 37 + suites;
        assert_eq!(&body[at..at + 2], &[1, 0], "null compression");
        at += 2;
        let total = u16_at(body, at) as usize;
        at += 2;
        assert_eq!(at + total, body.len(), "extensions length");
        let mut out = Vec::new();
        while at < body.len() {
            let (kind, len) = (u16_at(body, at), u16_at(body, at + 2) as usize);
            out.push((kind, body[at + 4..at + 4 + len].to_vec()));
            at += 4 + len;
        }
        assert_eq!(at, body.len());
        out
    }

    #[test]
    fn every_field_is_where_a_server_looks_for_it() {
        let hello = client_hello(Some("old.example"), &RANDOM);
        let body = &hello[9..];
        let suites: Vec<u16> = (0..u16_at(body, 35) / 2).map(|i| u16_at(body, 37 + 2 * i as usize)).collect();
        assert_eq!(suites.len(), OFFERED.len() + 1);
        assert_eq!(suites.last(), Some(&RENEGOTIATION_SCSV));
        assert_eq!(suites[0], 0xc02b, "the best first");
        let extensions = parse(&hello);
        let kinds: Vec<u16> = extensions.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS, EXT_SIGNATURE_ALGORITHMS]);
        assert_eq!(extensions[0].1, b"\x00\x0e\x00\x00\x0bold.example");
        assert_eq!(extensions[1].1, [0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
        assert_eq!(extensions[2].1, [1, 0]);
        assert_eq!(u16_at(&extensions[3].1, 0) as usize, SIGNATURE_SCHEMES.len() * 2);
        assert!(extensions[3].1.windows(2).any(|w| w == [2, 1]), "rsa_pkcs1_sha1 offered");
        assert!(!kinds.contains(&43), "no supported_versions: no TLS 1.3");
    }

    #[test]
    fn no_server_name_for_an_ip_literal_or_an_impossible_name() {
        for sni in [None, Some(""), Some(&*"a".repeat(MAX_SNI + 1))] {
            let kinds: Vec<u16> = parse(&client_hello(sni, &RANDOM)).iter().map(|e| e.0).collect();
            assert!(!kinds.contains(&EXT_SERVER_NAME), "{sni:?}");
        }
    }

    #[test]
    fn no_hello_is_between_256_and_511_bytes() {
        for len in 1..=MAX_SNI {
            let name = "a".repeat(len);
            let hello = client_hello(Some(&name), &RANDOM);
            let message = hello.len() - 5;
            assert!(!(256..512).contains(&message), "{len}: {message}");
            parse(&hello);
        }
    }

    #[test]
    fn offered_suites_are_distinct_and_named_by_what_they_are() {
        for (i, suite) in OFFERED.iter().enumerate() {
            assert!(OFFERED[..i].iter().all(|other| other.code != suite.code), "{} twice", suite.name);
            assert_eq!(offered(suite.code), Some(suite));
            let name = suite.name;
            let expected = if name.contains("RC4") {
                Rc4
            } else if name.contains("3DES") {
                TripleDes
            } else if name.starts_with("TLS_RSA_") {
                RsaKx
            } else if name.starts_with("TLS_DHE_") {
                Dhe
            } else if name.contains("_CBC_") {
                Cbc
            } else {
                Modern
            };
            assert_eq!(suite.class, expected, "{name}");
            assert_eq!(suite.cbc, name.contains("_CBC_"), "{name}");
        }
        assert_eq!(offered(0x1301), None, "TLS 1.3 suites are not offered");
    }
}
