//! DNS that follows reality, end to end: a scripted DNS server (given with
//! `--dns-servers`) whose answer for a host changes between checks.

mod common;
#[path = "common/dns.rs"]
mod dns;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{read_head, statuscheck};
use dns::{dns_server, Step};

/// Listeners on 127.0.0.1 and 127.0.0.2 on one port, answering 200 and 204.
fn two_addresses() -> u16 {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        let Ok(second) = TcpListener::bind(("127.0.0.2", port)) else { continue };
        for (listener, answer) in [(first, "200 OK"), (second, "204 No Content")] {
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    read_head(&mut stream);
                    let _ = write!(stream, "HTTP/1.1 {answer}\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
        return port;
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

fn outcome(record: &serde_json::Value) -> String {
    match record["code"].as_u64() {
        Some(code) => format!("{code} at {}", record["address"].as_str().unwrap_or("?")),
        None => record["error"]["kind"].as_str().unwrap_or("?").to_string(),
    }
}

#[test]
fn under_watch_a_failure_is_not_kept_and_a_moved_host_is_followed() {
    let port = two_addresses();
    let server = dns_server(vec![
        Step::NxDomain,
        Step::Addr([127, 0, 0, 1].into(), 300),
        Step::Addr([127, 0, 0, 2].into(), 300),
    ]);
    let url = format!("http://moved.test:{port}/");
    let dns_servers = server.addr.to_string();
    let mut child = statuscheck()
        .args(["--watch", "100ms", "--format", "json", "--dns-servers", &dns_servers, "-u", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Four rounds asked (or a generous bound, should the answers be kept).
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.a_queries() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let stdout = child.stdout.take().unwrap();
    child.wait().unwrap();
    let records: Vec<String> =
        BufReader::new(stdout).lines().map(|line| outcome(&serde_json::from_str(&line.unwrap()).unwrap())).collect();
    // --watch prints only changes: round 1, 2 and 3 each brought one.
    let port_suffix = format!(":{port}");
    let want = ["dns".to_string(), format!("200 at 127.0.0.1{port_suffix}"), format!("204 at 127.0.0.2{port_suffix}")];
    assert_eq!(records, want);
    assert!(server.a_queries() >= 4, "one lookup per round");
}

#[test]
fn a_failed_lookup_is_not_reused_by_a_later_check() {
    let port = two_addresses();
    let server = dns_server(vec![Step::NxDomain, Step::Addr([127, 0, 0, 1].into(), 300)]);
    let dns_servers = server.addr.to_string();
    let (first, second) = (format!("http://flaky.test:{port}/a"), format!("http://flaky.test:{port}/b"));
    let run =
        common::run(&["--sequential", "--format", "json", "--dns-servers", &dns_servers, "-u", &first, "-u", &second]);
    let got: Vec<String> = run.json().iter().map(outcome).collect();
    assert_eq!(got, ["dns".to_string(), format!("200 at 127.0.0.1:{port}")]);
    assert_eq!(server.a_queries(), 2);
}
