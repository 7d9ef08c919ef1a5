//! Servers that misbehave: each test starts a local server that does exactly
//! one wrong thing, and checks statuscheck ends with a clear, correct answer.
//! The deadline cases (a trickling status line, a stalled handshake) are in
//! tests/engine.rs, on a paused clock.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

/// Checks one URL with `--format json` and a short timeout; returns the
/// record and how long the run took.
fn check(url: &str, extra: &[&str]) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let mut args = vec!["--format", "json", "--timeout", "1", "-u", url];
    args.extend_from_slice(extra);
    let run = run(&args);
    (run.record(), started.elapsed())
}

fn error_of(record: &serde_json::Value) -> (String, String) {
    let kind = record["error"]["kind"].as_str().unwrap_or("none").to_string();
    let message = record["error"]["message"].as_str().unwrap_or("").to_string();
    (kind, message)
}

#[test]
fn a_megabyte_without_a_newline_is_cut_at_the_line_limit() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 ");
        let _ = stream.write_all(&vec![b'a'; 1 << 20]);
    });
    let (record, _) = check(&server.url("/"), &[]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol");
    assert!(message.contains("status line too long"), "{message}");
}

#[test]
fn closing_without_a_byte_is_an_empty_response() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
    });
    let (record, _) = check(&server.url("/"), &[]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol");
    assert!(message.starts_with("empty response"), "{message}");
}

#[test]
fn a_reset_connection_is_an_io_error() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        reset_on_close(&stream);
    });
    let (record, _) = check(&server.url("/"), &[]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "io");
    assert!(message.contains("connection reset"), "{message}");
}

#[test]
fn liberal_line_endings_and_missing_reasons() {
    for (bytes, code, reason, version) in [
        (&b"HTTP/1.1 200 OK\nServer: x\n\n"[..], 200, "OK", "1.1"),
        (b"HTTP/1.1 204\r\n\r\n", 204, "", "1.1"),
        (b"HTTP/1.0 200 OK\r\n\r\n", 200, "OK", "1.0"),
        (b"HTTP/1.1 503 Service Unavailable\r\n", 503, "Service Unavailable", "1.1"),
    ] {
        let server = raw_server(bytes);
        let (record, _) = check(&server.url("/"), &[]);
        assert_eq!(record["code"], code, "{record}");
        assert_eq!(record["reason"], reason);
        assert_eq!(record["http_version"], version);
    }
}

#[test]
fn garbage_is_a_protocol_error_quoted_and_escaped() {
    for bytes in [
        &b"hello\r\n"[..],
        b"HTTP/1.1 99 X\r\n",
        b"HTTP/1.1 1000 X\r\n",
        b"HTTP/2 200\r\n",
        b"HTTP/1.1 200 O\0K\r\n",
        b"HTTP/1.1 200 \xff\xfe\x1b[2J\r\n",
        b"\x1b[31mred\r\n",
    ] {
        let server = raw_server(bytes);
        let (record, _) = check(&server.url("/"), &[]);
        let (kind, message) = error_of(&record);
        assert_eq!(kind, "protocol", "{bytes:?}");
        assert!(message.contains('"'), "quotes what was received: {message}");
        assert!(!message.chars().any(char::is_control), "escaped: {message:?}");
        let text = run(&["--color", "never", "--timeout", "1", "-u", &server.url("/")]);
        assert!(!text.stdout.trim_end().chars().any(|c| c.is_control()), "{:?}", text.stdout);
    }
}

#[test]
fn bad_certificates_are_tls_errors_in_plain_words() {
    let ca = Ca::new();
    let cacert = ca.pem.to_str().unwrap();
    let expired = https_server(&ca, Leaf { names: &["localhost"], expired: true });
    let other_name = https_server(&ca, Leaf { names: &["other.test"], expired: false });
    for (server, cause, says) in [
        (
            &expired,
            "expired",
            "certificate expired (subject CN=localhost, issuer CN=statuscheck test CA, expired 2021-01-01)",
        ),
        (
            &other_name,
            "wrong-host",
            "certificate is for another host name: it is for other.test (subject CN=other.test, issuer CN=statuscheck test CA",
        ),
    ] {
        let url = server.https_url("localhost", "/");
        let (record, _) = check(&url, &["--cacert", cacert]);
        let (kind, message) = error_of(&record);
        assert_eq!((kind.as_str(), record["error"]["cause"].as_str()), ("tls", Some(cause)));
        assert!(message.starts_with(says), "{message}");
        let (insecure, _) = check(&url, &["--insecure"]);
        assert_eq!(insecure["code"], 200, "--insecure gets the status");
    }
}

#[test]
fn tls_on_an_http_url_is_named() {
    let ca = Ca::new();
    let server = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let (record, took) = check(&format!("http://localhost:{}/", server.port()), &[]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol");
    assert!(message.contains("that is TLS"), "{message}");
    assert!(took < SLACK);
}

#[test]
fn plain_http_on_an_https_url_is_named() {
    let server = serve(|mut stream| {
        let mut first = [0u8; 512];
        let _ = std::io::Read::read(&mut stream, &mut first);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });
    let (record, took) = check(&server.https_url("127.0.0.1", "/"), &[]);
    assert_eq!(
        error_of(&record),
        ("tls".into(), "server did not answer with TLS (plain HTTP on an https URL?)".into())
    );
    assert!(took < SLACK);
}

#[test]
fn the_next_address_is_tried_when_the_first_is_dead() {
    let server = http_server();
    let port = server.port();
    let pin = format!("multi.test:{port}:127.0.0.2,127.0.0.1");
    let url = format!("http://multi.test:{port}/status/204");
    let (record, _) = check(&url, &["--resolve", &pin]);
    assert_eq!(record["code"], 204, "{record}");
    let requests = server.requests.lock().unwrap();
    assert!(requests[0].contains(&format!("Host: multi.test:{port}\r\n")));
}

#[test]
fn a_dead_host_name_is_a_dns_error() {
    let (record, _) = check("http://does-not-exist.invalid/", &[]);
    assert_eq!(error_of(&record).0, "dns");
}
