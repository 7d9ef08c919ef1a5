//! TLS refusals end to end: each names its cause (`error.cause` in JSON,
//! counted in `--summary-json`) and says why in words. Chains signed with
//! SHA-1 and MD5 are made at test time with the openssl command, since
//! rcgen cannot sign with either; the rest with rcgen.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `--format json` of one https URL under `root`, with `--summary-json`.
fn check(root: &Path, url: &str) -> (serde_json::Value, serde_json::Value) {
    let run = run(&["--cacert", root.to_str().unwrap(), "--format", "json", "--summary-json", "-u", url]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let summary = run.stderr.lines().find_map(|line| serde_json::from_str(line).ok());
    (run.record(), summary.unwrap_or_else(|| panic!("no summary in {}", run.stderr)))
}

fn assert_cause(record: &serde_json::Value, summary: &serde_json::Value, cause: &str, words: &[&str]) {
    let error = &record["error"];
    assert_eq!((error["kind"].as_str(), error["cause"].as_str()), (Some("tls"), Some(cause)), "{record}");
    let message = error["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
    assert_eq!(summary["tls_causes"][cause], 1, "{summary}");
}

/// Runs openssl in `dir`; false (with its output on stderr) if it fails.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    if !out.status.success() {
        eprintln!("openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

/// root (RSA, trusted) → intermediate signed with `digest` → a `localhost`
/// leaf signed with SHA-256: the root's PEM, the chain and the leaf's key.
fn chain_with_intermediate_signed_by(
    digest: &str,
) -> Option<(PathBuf, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let present = have_command("openssl", &["version"]);
    if !require("the openssl command", present, "apt-get install openssl") {
        return None;
    }
    let dir = temp_path("pki");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n\
         [leaf]\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ca = ["-extfile", "ext.cnf", "-extensions", "ca"];
    let (subject, sign) = (format!("/CN={digest} intermediate"), format!("-{digest}"));
    let steps: [&[&str]; 6] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "30",
            "-subj",
            "/CN=statuscheck weak test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj", &subject],
        &[
            &[
                "x509",
                "-req",
                "-in",
                "int.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-CAcreateserial",
                "-days",
                "30",
                &sign,
                "-out",
                "int.pem",
            ][..],
            &ca[..],
        ]
        .concat(),
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-out",
            "leaf.pem",
        ],
        &["version"],
    ];
    for step in steps {
        assert!(openssl(&dir, step), "openssl could not make the {digest} chain");
    }
    let der = |name: &str| CertificateDer::from_pem_file(dir.join(name)).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    Some((dir.join("root.pem"), vec![der("leaf.pem"), der("int.pem")], key))
}

#[test]
fn a_sha1_signed_intermediate_is_a_weak_signature() {
    let Some((root, chain, key)) = chain_with_intermediate_signed_by("sha1") else { return };
    let server = tls_server(server_config_for(chain, key));
    let (record, summary) = check(&root, &server.https_url("localhost", "/"));
    assert_cause(&record, &summary, "weak-signature", &["SHA-1 (sha1WithRSAEncryption)", "CN=sha1 intermediate"]);
}

#[test]
fn an_md5_signed_intermediate_is_a_weak_signature() {
    let Some((root, chain, key)) = chain_with_intermediate_signed_by("md5") else { return };
    let server = tls_server(server_config_for(chain, key));
    let (record, summary) = check(&root, &server.https_url("localhost", "/"));
    assert_cause(&record, &summary, "weak-signature", &["MD5 (md5WithRSAEncryption)", "CN=md5 intermediate"]);
}

#[test]
fn a_chain_over_64_kib_is_named_as_too_large() {
    let ca = Ca::new();
    // 240 unrelated CA certificates after the chain: well over 64 KiB.
    let padding: Vec<CertificateDer<'static>> = (0..240).map(|i| Ca::expiring(&format!("pad {i}"), 30).der()).collect();
    let size: usize = padding.iter().map(|c| c.len()).sum();
    assert!(size > 64 * 1024, "{size}");
    let server = expiring_server_with(&ca, 30, padding);
    let (record, summary) = check(&ca.pem, &server.https_url("localhost", "/"));
    assert_cause(&record, &summary, "cert-too-large", &["over 64 KiB"]);
}

#[test]
fn a_common_name_without_subject_alt_name_is_no_san() {
    let ca = Ca::new();
    let server = tls_server(ca.server_config(Leaf { names: &[], expired: false }));
    let (record, summary) = check(&ca.pem, &server.https_url("localhost", "/"));
    assert_cause(&record, &summary, "no-san", &["no subjectAltName", "RFC 9525"]);
}
