//! Proxies: a local proxy that tunnels CONNECT and answers absolute-form
//! requests, and the environment variables curl reads.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

use common::*;

/// A small http proxy: `CONNECT` opens a tunnel to the named port on
/// 127.0.0.1; an absolute-form request is answered 203 (so a test can tell
/// the proxy answered); `deny` answers 407 to everything. Records each head.
fn proxy(deny: bool) -> Server {
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    let mut server = serve(move |mut client| {
        let head = read_head(&mut client);
        seen.lock().unwrap().push(head.clone());
        if deny {
            let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
            return;
        }
        let Some(authority) = head.strip_prefix("CONNECT ").and_then(|rest| rest.split(' ').next()) else {
            let _ = client.write_all(b"HTTP/1.1 203 Non-Authoritative Information\r\n\r\n");
            return;
        };
        let port = authority.rsplit(':').next().unwrap();
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())) else { return };
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
        let (mut down_read, mut down_write) = (client.try_clone().unwrap(), client);
        let pump = thread::spawn(move || {
            let _ = std::io::copy(&mut down_read, &mut up_write);
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
    server.requests = requests;
    server
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let ca = Ca::new();
    let origin = https_server(&ca, Leaf { names: &["localhost"], expired: false });
    let proxy = proxy(false);
    let url = origin.https_url("localhost", "/status/204");
    let run = run(&["--format", "json", "--cacert", ca.pem.to_str().unwrap(), "--proxy", &proxy.url(""), "-u", &url]);
    let record = run.record();
    assert_eq!(record["code"], 204, "{record}");
    assert_eq!(record["address"], proxy.addr.to_string(), "we connected to the proxy");
    let heads = proxy.requests.lock().unwrap();
    assert!(heads[0].starts_with(&format!("CONNECT localhost:{0} HTTP/1.1\r\nHost: localhost:{0}\r\n", origin.port())));
    assert_eq!(origin.requests.lock().unwrap().len(), 1, "the request itself went through the tunnel");
}

#[test]
fn http_is_sent_in_absolute_form_from_the_environment() {
    let proxy = proxy(false);
    let output = statuscheck()
        .env("http_proxy", proxy.url(""))
        .args(["--format", "json", "-u", "http://origin.test:8080/path?q=1#frag"])
        .output()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["code"], 203, "answered by the proxy: {record}");
    let heads = proxy.requests.lock().unwrap();
    assert!(heads[0].starts_with("GET http://origin.test:8080/path?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\n"));
}

#[test]
fn no_proxy_goes_direct_and_credentials_are_sent() {
    let origin = http_server();
    let proxy = proxy(false);
    let output = statuscheck()
        .env("http_proxy", proxy.url(""))
        .env("NO_PROXY", "localhost,127.0.0.1")
        .args(["--format", "json", "-u", &origin.url("/status/204")])
        .output()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["code"], 204);
    assert!(proxy.requests.lock().unwrap().is_empty());

    let with_user = proxy.url("").replace("http://", "http://alice:s3cret@");
    run(&["--proxy", &with_user, "-u", "http://origin.test/"]);
    let heads = proxy.requests.lock().unwrap();
    assert!(heads[0].contains("\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"), "{}", heads[0]);
}

#[test]
fn a_refusing_proxy_is_a_connect_error() {
    let proxy = proxy(true);
    let record = run(&["--format", "json", "--proxy", &proxy.url(""), "-u", "https://origin.test/"]).record();
    assert_eq!(record["error"]["kind"], "connect");
    assert_eq!(
        record["error"]["message"],
        format!("proxy refused the tunnel: HTTP/1.1 407 Proxy Authentication Required ({})", proxy.addr)
    );
    let bad = run(&["--proxy", "socks5://x:1", "-u", "a.test"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("socks5://x:1 is not supported (only http://)"), "{}", bad.stderr);
}

const SOCKS: &str = "socks5://alice:S3cretPW@127.0.0.1:1080";

#[test]
fn proxy_passwords_are_never_printed() {
    let explicit = run(&["--proxy", SOCKS, "-u", "a.test"]);
    assert_eq!(explicit.code, 2);
    assert!(explicit.stderr.contains("--proxy socks5://***@127.0.0.1:1080 is not supported"), "{}", explicit.stderr);
    let not_a_url = run(&["--proxy", "alice:S3cretPW@127.0.0.1:port", "-u", "a.test"]);
    assert_eq!(not_a_url.code, 2);
    assert!(not_a_url.stderr.contains("***@127.0.0.1:port is not a URL"), "{}", not_a_url.stderr);
    let origin = http_server();
    for format in ["text", "json", "csv", "tsv", "markdown", "prometheus", "junit"] {
        for var in ["ALL_PROXY", "https_proxy", "http_proxy"] {
            let output = statuscheck()
                .env(var, SOCKS)
                .args(["--format", format, "-u", &origin.url("/"), "-u", "https://a.test/"])
                .output()
                .unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(!all.contains("S3cretPW"), "{var}, {format}: {all}");
            assert!(all.contains("socks5://***@127.0.0.1:1080"), "{var}, {format}: {all}");
        }
    }
    for output in [&explicit, &not_a_url] {
        assert!(!format!("{}{}", output.stdout, output.stderr).contains("S3cretPW"));
    }
}

#[test]
fn a_socks_proxy_in_the_environment_fails_only_the_urls_it_applies_to() {
    let origin = http_server();
    let url = origin.url("/status/204");
    let bypassed = statuscheck()
        .env("ALL_PROXY", SOCKS)
        .env("NO_PROXY", "*")
        .args(["--format", "json", "-u", &url])
        .output()
        .unwrap();
    assert_eq!(bypassed.status.code(), Some(0), "{}", String::from_utf8_lossy(&bypassed.stderr));
    let record: serde_json::Value = serde_json::from_slice(&bypassed.stdout).unwrap();
    assert_eq!(record["code"], 204);
    assert_eq!(origin.requests.lock().unwrap().len(), 1, "checked directly");

    let proxied =
        statuscheck().env("ALL_PROXY", SOCKS).args(["--format", "json", "-u", &url, "-u", &url]).output().unwrap();
    assert_eq!(proxied.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&proxied.stdout);
    let records: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record["error"]["kind"], "connect", "{record}");
        assert_eq!(
            record["error"]["message"],
            "ALL_PROXY proxy socks5://***@127.0.0.1:1080 is not supported (only http://)"
        );
    }
    assert_eq!(origin.requests.lock().unwrap().len(), 1, "nothing went around the proxy");
    let stderr = String::from_utf8_lossy(&proxied.stderr);
    assert_eq!(stderr.matches("statuscheck: ALL_PROXY proxy socks5://***@127.0.0.1:1080").count(), 1, "{stderr}");

    let quiet = statuscheck().env("all_proxy", SOCKS).args(["-q", "-u", &url]).output().unwrap();
    assert_eq!(quiet.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("proxy"), "-q: no warning");
}
