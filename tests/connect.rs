//! Connecting: Happy Eyeballs over a host's addresses, and `--deny-private`.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;

/// A listener that never answers a new connection: its accept queue (backlog
/// 0) is full with one connection nobody accepts, so the kernel drops further
/// SYNs and a connect to it hangs. Keep the returned values alive.
fn dead_listener(ip: &str) -> (TcpListener, TcpStream) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    // SAFETY: a second listen() on our own listening socket only sets its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let filler = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (listener, filler)
}

/// A dead listener on `dead_ip` and a working HTTP server on 127.0.0.1, on
/// the same port (so one `--resolve` pin can name both).
fn dead_and_live(dead_ip: &str) -> ((TcpListener, TcpStream), Server) {
    for _ in 0..20 {
        let dead = dead_listener(dead_ip);
        let port = dead.0.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return (dead, http_server_on(&format!("127.0.0.1:{port}")));
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

#[test]
fn a_dead_listener_really_hangs() {
    let (listener, _filler) = dead_listener("127.0.0.2");
    let attempt = TcpStream::connect_timeout(&listener.local_addr().unwrap(), Duration::from_millis(500));
    assert!(attempt.is_err_and(|e| e.kind() == std::io::ErrorKind::TimedOut), "the test below relies on this");
}

/// Checks a host whose first address (`dead_ip`) never answers and whose
/// second (127.0.0.1) does.
fn dead_first_then_live(dead_ip: &str) {
    let (_dead, live) = dead_and_live(dead_ip);
    let port = live.port();
    let pin = format!("dual.test:{port}:{dead_ip},127.0.0.1");
    let url = format!("http://dual.test:{port}/");
    let started = Instant::now();
    let run = run(&["--format", "json", "--connect-timeout", "5", "--timeout", "10", "--resolve", &pin, "-u", &url]);
    let took = started.elapsed();
    let record = run.record();
    assert_eq!(record["code"], 200, "{record}");
    assert_eq!(record["address"], format!("127.0.0.1:{port}"), "the address that won");
    assert!(took < Duration::from_secs(2), "took {took:?}: the dead address held the check");
    assert_eq!(live.requests.lock().unwrap().len(), 1);
}

#[test]
fn a_dead_first_address_costs_the_attempt_delay_not_the_connect_timeout() {
    dead_first_then_live("127.0.0.2");
}

#[test]
fn a_dead_ipv6_address_before_a_live_ipv4_one() {
    if !require("IPv6 loopback ([::1])", have_ipv6_loopback(), IPV6_INSTALL) {
        return;
    }
    dead_first_then_live("::1");
}

fn private_refused(run: &Run, address: &str) {
    let record = run.record();
    assert_eq!(record["error"]["kind"], "private-address", "{record}");
    assert_eq!(
        record["error"]["message"],
        format!("refusing {address}: loopback address (--deny-private)"),
        "{record}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn deny_private_refuses_loopback_literals_and_names_pinned_to_loopback() {
    let server = http_server();
    let port = server.port();
    let literal = run(&["--format", "json", "--deny-private", "-u", &server.url("/")]);
    private_refused(&literal, &format!("127.0.0.1:{port}"));
    let pin = format!("inside.test:{port}:127.0.0.1");
    let url = format!("http://inside.test:{port}/");
    let pinned = run(&["--format", "json", "--deny-private", "--resolve", &pin, "-u", &url]);
    private_refused(&pinned, &format!("127.0.0.1:{port}"));
    assert!(server.requests.lock().unwrap().is_empty(), "nothing was sent");

    let allowed = run(&["--format", "json", "--resolve", &pin, "-u", &url, "-u", &server.url("/")]);
    let codes: Vec<_> = allowed.json().iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, [200, 200], "without the flag: checked as before");
}

#[test]
fn deny_private_names_the_ipv6_and_mapped_forms_too() {
    let mapped = run(&["--format", "json", "--deny-private", "-u", "http://[::ffff:127.0.0.1]:9/"]);
    private_refused(&mapped, "[::ffff:127.0.0.1]:9");
    let link_local = run(&["--format", "json", "--deny-private", "-u", "http://169.254.169.254/latest/meta-data/"]);
    assert_eq!(
        link_local.record()["error"]["message"],
        "refusing 169.254.169.254:80: link-local address (--deny-private)"
    );
}

/// A stand-in for a proxy: answers every request with a redirect to `to`.
fn redirecting_proxy(to: String) -> Server {
    serve(move |mut stream| {
        read_head(&mut stream);
        let answer = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes());
    })
}

#[test]
fn deny_private_through_a_proxy_judges_literals_on_every_hop() {
    let inside = http_server();
    let proxy = redirecting_proxy(inside.url("/secret"));
    let proxy_url = proxy.url("");
    // The proxy is on loopback: its address is the operator's choice. The
    // name is resolved by the proxy; the literal it redirects to is refused.
    let run = run(&["--format", "json", "--deny-private", "-L", "--proxy", &proxy_url, "-u", "http://outside.test/"]);
    let record = run.record();
    assert_eq!(record["redirects"][0]["code"], 302, "{record}");
    private_refused(&run, &inside.addr.to_string());
    let literal = run_proxied(&proxy_url, &inside.url("/"));
    private_refused(&literal, &inside.addr.to_string());
    assert!(inside.requests.lock().unwrap().is_empty());
}

fn run_proxied(proxy: &str, url: &str) -> Run {
    run(&["--format", "json", "--deny-private", "--proxy", proxy, "-u", url])
}
