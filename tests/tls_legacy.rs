//! `--tls-legacy` end to end. With the cargo feature `tls-legacy`: OpenSSL
//! servers in this process, on 127.0.0.1, that speak only TLS 1.0 or only
//! CBC suites, with certificates made at test time by OpenSSL (which, unlike
//! rcgen, makes 1024-bit RSA keys and SHA-1 signatures): the opt-in reaches
//! them and still refuses what the default path refuses. Without the
//! feature: the flag is a usage error that says how to build it.
//!
//! `cargo test --features tls-legacy --test tls_legacy` (OpenSSL's headers
//! needed); the default build runs only the test of the usage error.

mod common;

#[cfg(not(feature = "tls-legacy"))]
#[test]
fn without_the_feature_the_flag_is_a_usage_error() {
    let run = common::run(&["--tls-legacy", "-u", "https://localhost:1/"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for words in ["lacks the cargo feature `tls-legacy`", "--features tls-legacy", "OpenSSL's headers"] {
        assert!(run.stderr.contains(words), "{words:?} not in {}", run.stderr);
    }
    assert!(run.stdout.is_empty(), "nothing checked: {}", run.stdout);
}

#[cfg(feature = "tls-legacy")]
mod legacy {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;

    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::ssl::{Ssl, SslContext, SslMethod, SslVersion};
    use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
    use openssl::x509::{X509Name, X509};

    use super::common::*;

    /// The suites of a legacy-only server: CBC with SHA-1 MACs, and RSA
    /// key exchange; none of them is in rustls.
    const LEGACY_SUITES: &str = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA@SECLEVEL=0";

    /// A certificate and its key.
    struct Issued {
        cert: X509,
        key: PKey<Private>,
    }

    fn rsa(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn p256() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// A CA named `cn` (self-signed without an issuer), or with `host` a
    /// leaf for it; signed with `digest`, valid from an hour ago for 30 days.
    fn issue(
        cn: &str,
        key: PKey<Private>,
        issuer: Option<&Issued>,
        digest: MessageDigest,
        host: Option<&str>,
    ) -> Issued {
        let mut name = X509Name::builder().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
        builder.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(issuer.map_or(&name, |i| i.cert.subject_name())).unwrap();
        builder.set_pubkey(&key).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        builder.set_not_before(&Asn1Time::from_unix(now - 3600).unwrap()).unwrap();
        builder.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
        match host {
            None => {
                builder.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
                let usage = KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap();
                builder.append_extension(usage).unwrap();
            }
            Some(host) => {
                builder.append_extension(BasicConstraints::new().critical().build().unwrap()).unwrap();
                builder.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
                let context = builder.x509v3_context(issuer.map(|i| i.cert.as_ref()), None);
                let san = SubjectAlternativeName::new().dns(host).build(&context).unwrap();
                builder.append_extension(san).unwrap();
            }
        }
        builder.sign(issuer.map_or(&key, |i| &i.key), digest).unwrap();
        Issued { cert: builder.build(), key }
    }

    /// A trusted root (RSA 2048, SHA-256) and its PEM file for `--cacert`.
    fn root() -> (Issued, PathBuf) {
        let root = issue("legacy test root", rsa(2048), None, MessageDigest::sha256(), None);
        let pem = write_file("legacy-root.pem", root.cert.to_pem().unwrap());
        (root, pem)
    }

    /// A leaf for `localhost` with `key`, signed by `issuer` with SHA-256.
    fn leaf(key: PKey<Private>, issuer: &Issued) -> Issued {
        issue("localhost", key, Some(issuer), MessageDigest::sha256(), Some("localhost"))
    }

    /// An OpenSSL server: protocol versions `min` to `max`, `suites`, the
    /// leaf and then `intermediates`. Each connection that completes a
    /// handshake is answered 200 and counted; every connection is counted.
    struct Legacy {
        server: Server,
        connections: Arc<AtomicUsize>,
    }

    impl Legacy {
        fn url(&self) -> String {
            self.server.https_url("localhost", "/")
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }
    }

    fn legacy_server(
        leaf: &Issued,
        intermediates: &[&Issued],
        versions: (SslVersion, SslVersion),
        suites: &str,
    ) -> Legacy {
        let mut context = SslContext::builder(SslMethod::tls_server()).unwrap();
        // First: `@SECLEVEL=0` is what lets a 1024-bit key in.
        context.set_cipher_list(suites).unwrap();
        context.set_certificate(&leaf.cert).unwrap();
        context.set_private_key(&leaf.key).unwrap();
        for intermediate in intermediates {
            context.add_extra_chain_cert(intermediate.cert.clone()).unwrap();
        }
        context.set_min_proto_version(Some(versions.0)).unwrap();
        context.set_max_proto_version(Some(versions.1)).unwrap();
        let context = context.build();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let server = serve(move |stream| {
            counted.fetch_add(1, Ordering::SeqCst);
            let Ok(mut tls) = Ssl::new(&context).unwrap().accept(stream) else { return };
            read_head(&mut tls);
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tls.shutdown();
        });
        Legacy { server, connections }
    }

    const TLS_1_0: (SslVersion, SslVersion) = (SslVersion::TLS1, SslVersion::TLS1);
    const TLS_1_2: (SslVersion, SslVersion) = (SslVersion::TLS1_2, SslVersion::TLS1_2);

    /// The JSON record of one check of `url` under `root`, with `args`.
    fn check(root: &std::path::Path, url: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--cacert", root.to_str().unwrap(), "--format", "json", "--timeout", "5s"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-u", url]);
        run(&all).record()
    }

    fn assert_answered(record: &serde_json::Value, version: &str) {
        assert_eq!(record["code"], 200, "{record}");
        assert_eq!(record["tls"]["version"], version, "{record}");
    }

    fn assert_cause(record: &serde_json::Value, causes: &[&str], words: &str) {
        let error = &record["error"];
        assert_eq!(error["kind"], "tls", "{record}");
        assert!(causes.iter().any(|c| error["cause"] == *c), "want one of {causes:?}: {record}");
        assert!(error["message"].as_str().unwrap().contains(words), "{words:?} not in {record}");
    }

    #[test]
    fn a_tls_1_0_only_server_answers_with_the_opt_in_only() {
        let (root, pem) = root();
        let server = legacy_server(&leaf(p256(), &root), &[], TLS_1_0, LEGACY_SUITES);

        let record = check(&pem, &server.url(), &["--tls-legacy"]);
        assert_answered(&record, "TLS 1.0");
        assert_eq!(record["tls"]["cipher"], "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "{record}");
        assert_eq!(record["tls"]["subject"], "CN=localhost", "certificates from OpenSSL's chain: {record}");
        assert_eq!(server.connections(), 2, "the default handshake, then one legacy retry (no probe)");

        // Without the opt-in: the default path's answer, named by its probe.
        let record = check(&pem, &server.url(), &[]);
        assert_cause(&record, &["legacy-only"], "server offers only TLS 1.0");
        assert_eq!(server.connections(), 4, "the default handshake and the probe, no retry");
    }

    #[test]
    fn a_cbc_only_tls_1_2_server_answers_with_the_opt_in() {
        let (root, pem) = root();
        let server = legacy_server(&leaf(rsa(2048), &root), &[], TLS_1_2, LEGACY_SUITES);
        assert_answered(&check(&pem, &server.url(), &["--tls-legacy"]), "TLS 1.2");
        let record = check(&pem, &server.url(), &[]);
        assert_cause(&record, &["legacy-only"], "server offers only TLS 1.2 with ");
    }

    #[test]
    fn a_1024_bit_leaf_is_a_weak_key_even_with_the_opt_in() {
        let (root, pem) = root();
        let server = legacy_server(&leaf(rsa(1024), &root), &[], TLS_1_0, LEGACY_SUITES);
        let record = check(&pem, &server.url(), &["--tls-legacy"]);
        assert_cause(&record, &["weak-key"], "1024-bit RSA key");
        assert_answered(&check(&pem, &server.url(), &["--tls-legacy", "-k"]), "TLS 1.0");
    }

    #[test]
    fn a_sha1_signed_intermediate_is_a_weak_signature_even_with_the_opt_in() {
        let (root, pem) = root();
        let intermediate = issue("sha1 intermediate", rsa(2048), Some(&root), MessageDigest::sha1(), None);
        let server = legacy_server(&leaf(p256(), &intermediate), &[&intermediate], TLS_1_0, LEGACY_SUITES);
        let record = check(&pem, &server.url(), &["--tls-legacy"]);
        assert_cause(&record, &["weak-signature"], "SHA-1 (sha1WithRSAEncryption)");
        assert_answered(&check(&pem, &server.url(), &["--tls-legacy", "-k"]), "TLS 1.0");
    }

    #[test]
    fn a_certificate_for_another_host_is_a_wrong_host_even_with_the_opt_in() {
        let (root, pem) = root();
        let other = issue("other.test", p256(), Some(&root), MessageDigest::sha256(), Some("other.test"));
        let server = legacy_server(&other, &[], TLS_1_0, LEGACY_SUITES);
        let record = check(&pem, &server.url(), &["--tls-legacy"]);
        assert_cause(&record, &["wrong-host"], "other.test");
        // And an unknown issuer, without the root.
        let record = run(&["--format", "json", "--tls-legacy", "-u", &server.url()]).record();
        assert_cause(&record, &["unknown-issuer"], "unknown authority");
    }

    #[test]
    fn when_both_handshakes_fail_the_first_error_is_the_answer() {
        // Reads the hello (so the close is a FIN, not a reset) and hangs up.
        let server = serve(|mut stream| {
            let _ = stream.read(&mut [0u8; 16 * 1024]);
        });
        let record = run(&["--format", "json", "--tls-legacy", "-u", &server.https_url("localhost", "/")]).record();
        // The default handshake, the retry, then the probe, which proves nothing.
        assert_cause(&record, &["closed"], "; with legacy TLS versions and suites too: ");
    }

    #[test]
    fn a_modern_server_is_not_retried() {
        let (root, pem) = root();
        let both = (SslVersion::TLS1_2, SslVersion::TLS1_3);
        let server = legacy_server(&leaf(p256(), &root), &[], both, "ECDHE-ECDSA-AES128-GCM-SHA256");
        assert_answered(&check(&pem, &server.url(), &["--tls-legacy"]), "TLS 1.3");
        assert_eq!(server.connections(), 1);
    }

    /// A CONNECT proxy to 127.0.0.1 that counts its tunnels.
    fn proxy() -> (Server, Arc<Mutex<usize>>) {
        let tunnels = Arc::new(Mutex::new(0));
        let counted = tunnels.clone();
        let server = serve(move |mut client| {
            let head = read_head(&mut client);
            let Some(authority) = head.strip_prefix("CONNECT ").and_then(|rest| rest.split(' ').next()) else { return };
            let port: u16 = authority.rsplit(':').next().unwrap().parse().unwrap();
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else { return };
            *counted.lock().unwrap() += 1;
            let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
            let (mut down_read, mut down_write) = (client.try_clone().unwrap(), client);
            let pump = thread::spawn(move || {
                let _ = std::io::copy(&mut down_read, &mut up_write);
                let _ = up_write.shutdown(std::net::Shutdown::Write);
            });
            let mut buf = [0u8; 4096];
            while let Ok(n) = up_read.read(&mut buf) {
                if n == 0 || down_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = down_write.shutdown(std::net::Shutdown::Both);
            let _ = pump.join();
        });
        (server, tunnels)
    }

    #[test]
    fn the_retry_goes_through_a_new_tunnel_of_the_same_proxy() {
        let (root, pem) = root();
        let server = legacy_server(&leaf(p256(), &root), &[], TLS_1_0, LEGACY_SUITES);
        let (proxy, tunnels) = proxy();
        let record = check(&pem, &server.url(), &["--tls-legacy", "--proxy", &proxy.url("")]);
        assert_answered(&record, "TLS 1.0");
        assert_eq!(record["address"], proxy.addr.to_string(), "{record}");
        assert_eq!(*tunnels.lock().unwrap(), 2);
    }
}
