//! Certificate expiry over the whole verified chain: an intermediate that
//! expires before its leaf is what `--cert-expiry`, `days_left` and
//! `probe_ssl_earliest_cert_expiry` report, as in blackbox_exporter.

mod common;

use common::*;

/// A root (the only `--cacert`), an intermediate expiring in
/// `intermediate_days`, and a server whose `localhost` leaf under it expires
/// in `leaf_days`, sending leaf + intermediate + `extra`.
fn chain(intermediate_days: i64, leaf_days: i64, extra: &[&Ca]) -> (Ca, Ca, Server) {
    let root = Ca::new();
    let intermediate = root.intermediate("statuscheck test intermediate", intermediate_days);
    let extra = extra.iter().map(|ca| ca.der()).collect();
    let server = expiring_server_with(&intermediate, leaf_days, extra);
    (root, intermediate, server)
}

fn check(root: &Ca, server: &Server, args: &[&str]) -> Run {
    let mut all = vec!["--cacert", root.pem.to_str().unwrap()];
    all.extend_from_slice(args);
    let url = server.https_url("localhost", "/");
    all.extend_from_slice(&["-u", &url]);
    run(&all)
}

#[test]
fn an_intermediate_expiring_first_is_the_days_left() {
    let (root, _, server) = chain(5, 60, &[]);
    let json = check(&root, &server, &["--format", "json"]);
    let record = json.record();
    assert_eq!((record["ok"].as_bool(), json.code), (Some(true), 0), "{}", json.stderr);
    let tls = &record["tls"];
    assert_eq!(tls["days_left"], 5, "{tls}");
    assert_eq!(tls["earliest_expiry"]["subject"], "CN=statuscheck test intermediate");
    // The leaf's own names and date stay.
    assert_eq!(
        (tls["subject"].as_str(), tls["issuer"].as_str()),
        (Some("CN=localhost"), Some("CN=statuscheck test intermediate"))
    );
    let leaf_end = tls["not_after"].as_str().unwrap();
    assert!(leaf_end > tls["earliest_expiry"]["not_after"].as_str().unwrap(), "{tls}");
    let verbose = check(&root, &server, &["-v"]);
    assert!(
        verbose.stdout.contains("certificate CN=localhost (issuer CN=statuscheck test intermediate)"),
        "{}",
        verbose.stdout
    );
    assert!(verbose.stdout.contains("intermediate CN=statuscheck test intermediate expires "), "{}", verbose.stdout);
    assert!(verbose.stdout.contains(", in 5 days"), "{}", verbose.stdout);
}

#[test]
fn cert_expiry_catches_an_intermediate_and_passes_a_lasting_chain() {
    let (root, _, short) = chain(5, 60, &[]);
    let strict = check(&root, &short, &["--format", "json", "--cert-expiry", "14"]);
    let record = strict.record();
    assert_eq!((record["ok"].as_bool(), record["code"].as_u64()), (Some(false), Some(200)));
    assert_eq!((record["tls"]["expiring"].as_bool(), strict.code), (Some(true), 1));
    let text = check(&root, &short, &["--cert-expiry", "14"]);
    assert!(
        text.stdout.contains("[intermediate certificate CN=statuscheck test intermediate expires in 5 days]"),
        "{}",
        text.stdout
    );
    assert_eq!(text.code, 1);

    let (root, _, lasting) = chain(90, 60, &[]);
    let relaxed = check(&root, &lasting, &["--format", "json", "--cert-expiry", "14"]);
    let record = relaxed.record();
    assert_eq!((record["ok"].as_bool(), relaxed.code), (Some(true), 0), "{}", relaxed.stdout);
    assert_eq!(record["tls"]["days_left"], 60, "the leaf is now the earliest");
    assert_eq!(record["tls"]["earliest_expiry"]["subject"], "CN=localhost");
}

#[test]
fn prometheus_earliest_expiry_is_the_intermediates() {
    let (root, intermediate, server) = chain(5, 60, &[]);
    let out = check(&root, &server, &["--format", "prometheus"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("probe_ssl_earliest_cert_expiry{"))
        .unwrap_or_else(|| panic!("no series: {}", out.stdout));
    let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, intermediate.not_after() as f64, "{line}");
}

#[test]
fn an_unrelated_certificate_the_server_sends_is_not_counted() {
    let stray = Ca::expiring("stray", 1);
    let (root, intermediate, server) = chain(5, 60, &[&stray]);
    let record = check(&root, &server, &["--format", "json", "--cert-expiry", "3"]).record();
    assert_eq!(record["ok"], true, "{record}");
    assert_eq!(record["tls"]["days_left"], 5);
    assert_eq!(record["tls"]["earliest_expiry"]["subject"], "CN=statuscheck test intermediate");
    let out = check(&root, &server, &["--format", "prometheus"]);
    assert!(
        out.stdout.contains(&format!(
            "probe_ssl_earliest_cert_expiry{{url=\"{}\"}} {}\n",
            server.https_url("localhost", "/"),
            intermediate.not_after()
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn insecure_walks_the_same_chain() {
    let (root, _, server) = chain(5, 60, &[]);
    // Without --cacert the root is unknown: the walk runs out at the
    // intermediate, which is still counted.
    let url = server.https_url("localhost", "/");
    let record = run(&["-k", "--format", "json", "-u", &url]).record();
    assert_eq!((record["code"].as_u64(), record["tls"]["days_left"].as_i64()), (Some(200), Some(5)), "{record}");
    let trusted = check(&root, &server, &["-k", "--format", "json"]).record();
    assert_eq!(trusted["tls"]["earliest_expiry"]["subject"], "CN=statuscheck test intermediate");
}

#[test]
fn an_expired_intermediate_is_named_in_the_error() {
    let (root, _, server) = chain(-3, 60, &[]);
    let record = check(&root, &server, &["--format", "json"]).record();
    assert_eq!(record["error"]["kind"], "tls", "{record}");
    let message = record["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("certificate expired (subject CN=statuscheck test intermediate"), "{message}");
    assert!(message.contains(", expired "), "{message}");
}
