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
    assert!(bad.stderr.contains("only http:// proxies"), "{}", bad.stderr);
}
