//! DNS end to end, through the binary and scripted DNS servers given with
//! `--dns-servers`: answers that change between checks, and what the stub
//! resolver must do with truncation, CNAMEs, errors, failover and forgeries.

mod common;
#[path = "common/dns.rs"]
mod dns;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{read_head, statuscheck};
use dns::{dns_server, scripted, Reply, Step, A, AAAA, NXDOMAIN, SERVFAIL};

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

/// One lookup per name in a run: URLs of a host on two ports ask once (A
/// and AAAA), and so do two URLs of a name that does not exist when the
/// NXDOMAIN comes with its zone's SOA (RFC 2308 lets it be kept for the
/// SOA's TTL); without the SOA it is not kept, and asked again.
#[test]
fn each_name_is_asked_once_whatever_its_ports_and_a_missing_one_with_its_soa_too() {
    let (port, other_port) = (two_addresses(), two_addresses());
    let server = scripted(|q| {
        let reply = Reply::to(q);
        match (q.name.as_str(), q.qtype) {
            ("www.up.test", A) => vec![reply.a(&q.name, [127, 0, 0, 1].into(), 300).bytes()],
            ("www.up.test", _) => vec![reply.soa("up.test", 300, 300).bytes()],
            ("gone.up.test", _) => vec![reply.rcode(NXDOMAIN).soa("up.test", 300, 300).bytes()],
            _ => vec![reply.rcode(NXDOMAIN).bytes()],
        }
    });
    let dns_servers = server.addr.to_string();
    let urls = [
        format!("http://www.up.test:{port}/a"),
        format!("http://gone.up.test:{port}/a"),
        format!("http://bare.test:{port}/a"),
        format!("http://www.up.test:{other_port}/b"),
        format!("http://gone.up.test:{port}/b"),
        format!("http://bare.test:{port}/b"),
    ];
    let mut args = vec!["--sequential", "--format", "json", "--dns-servers", &dns_servers];
    for url in &urls {
        args.extend(["-u", url]);
    }
    let got: Vec<String> = common::run(&args).json().iter().map(outcome).collect();
    let up = |p: u16| format!("200 at 127.0.0.1:{p}");
    assert_eq!(got, [up(port), "dns".into(), "dns".into(), up(other_port), "dns".into(), "dns".into()]);
    let asked = server.asked();
    let count = |name: &str, qtype: u16| asked.iter().filter(|(n, t, _)| n == name && *t == qtype).count();
    assert_eq!((count("www.up.test", A), count("www.up.test", AAAA)), (1, 1), "{asked:?}");
    assert_eq!((count("gone.up.test", A), count("gone.up.test", AAAA)), (1, 1), "{asked:?}");
    assert!(count("bare.test", A) >= 2, "NXDOMAIN without the SOA is not kept: {asked:?}");
}

/// One check of `http://HOST:PORT/` asking `servers`: "CODE at ADDR" or the
/// error kind and message.
fn check(host: &str, port: u16, servers: &[&dns::DnsServer]) -> String {
    let servers: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
    let url = format!("http://{host}:{port}/");
    let run = common::run(&["--format", "json", "--timeout", "20s", "--dns-servers", &servers.join(","), "-u", &url]);
    let record = run.record();
    match record["error"]["message"].as_str() {
        Some(message) => format!("{}: {message}", outcome(&record)),
        None => outcome(&record),
    }
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let port = two_addresses();
    let server = scripted(|q| match (q.tcp, q.qtype) {
        (false, _) => vec![Reply::to(q).truncated().bytes()],
        (true, A) => vec![Reply::to(q).a(&q.name, [127, 0, 0, 2].into(), 60).bytes()],
        (true, _) => vec![Reply::to(q).bytes()],
    });
    assert_eq!(check("big.test", port, &[&server]), format!("204 at 127.0.0.2:{port}"));
    let asked = server.asked();
    assert!(
        asked.contains(&("big.test".into(), A, false)) && asked.contains(&("big.test".into(), A, true)),
        "{asked:?}"
    );
}

#[test]
fn a_cname_chain_is_followed() {
    let port = two_addresses();
    let server = scripted(|q| {
        let reply = Reply::to(q).cname(&q.name, "edge.cdn.test", 600).cname("edge.cdn.test", "final.cdn.test", 30);
        match q.qtype {
            A => vec![reply.a("final.cdn.test", [127, 0, 0, 2].into(), 60).bytes()],
            _ => vec![reply.bytes()],
        }
    });
    assert_eq!(check("www.chain.test", port, &[&server]), format!("204 at 127.0.0.2:{port}"));
}

#[test]
fn nxdomain_is_a_dns_error_in_getaddrinfo_words() {
    let server = scripted(|q| vec![Reply::to(q).rcode(NXDOMAIN).bytes()]);
    assert_eq!(check("gone.test", 9, &[&server]), "dns: name or service not known (gone.test)");
    let empty = scripted(|q| vec![Reply::to(q).bytes()]);
    assert_eq!(check("empty.test", 9, &[&empty]), "dns: no address found (empty.test)");
}

#[test]
fn servfail_fails_over_to_the_second_server() {
    let port = two_addresses();
    let failing = scripted(|q| vec![Reply::to(q).rcode(SERVFAIL).bytes()]);
    let good = dns_server(vec![Step::Addr([127, 0, 0, 1].into(), 60)]);
    assert_eq!(check("a.test", port, &[&failing, &good]), format!("200 at 127.0.0.1:{port}"));
    assert_eq!((failing.a_queries(), good.a_queries()), (1, 1));
    let alone = scripted(|q| vec![Reply::to(q).rcode(SERVFAIL).bytes()]);
    let want = format!("dns: DNS server {} answered SERVFAIL (a.test)", alone.addr);
    assert_eq!(check("a.test", port, &[&alone]), want);
}

#[test]
fn answers_with_another_id_or_question_are_dropped() {
    let port = two_addresses();
    // Before the real answer (127.0.0.1): one with the wrong ID and one
    // for another name, both pointing at 127.0.0.2.
    let server = scripted(|q| {
        let wrong_id = Reply::to(q).id(q.id.wrapping_add(1)).a(&q.name, [127, 0, 0, 2].into(), 60);
        let other_name = Reply::to(q).question_name("other.test").a("other.test", [127, 0, 0, 2].into(), 60);
        let real = match q.qtype {
            A => Reply::to(q).a(&q.name, [127, 0, 0, 1].into(), 60),
            _ => Reply::to(q),
        };
        vec![wrong_id.bytes(), other_name.bytes(), real.bytes()]
    });
    assert_eq!(check("spoofed.test", port, &[&server]), format!("200 at 127.0.0.1:{port}"));
}

#[test]
fn aaaa_only_and_a_only_names() {
    let port = two_addresses();
    let server = scripted(|q| {
        let reply = Reply::to(q);
        match (q.name.as_str(), q.qtype) {
            ("v4.test", A) => vec![reply.a(&q.name, [127, 0, 0, 2].into(), 60).bytes()],
            ("v6.test", AAAA) => vec![reply.aaaa(&q.name, std::net::Ipv6Addr::LOCALHOST, 60).bytes()],
            _ => vec![reply.bytes()],
        }
    });
    assert_eq!(check("v4.test", port, &[&server]), format!("204 at 127.0.0.2:{port}"));
    // Nothing listens on [::1]:PORT: the check reaches connect with ::1.
    let v6 = check("v6.test", port, &[&server]);
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        assert!(v6.starts_with("connect: ") && v6.contains(&format!("[::1]:{port}")), "{v6}");
    }
}

/// `-c 1` over four names: the lookup of the next target runs ahead of its
/// check. The HTTP server answers the first request only once the DNS
/// server has seen the second name's query (or after 5 s, so that a run
/// without lookups ahead ends and fails on the order, not by hanging): the
/// order of events says what ran ahead, not the clock. Each name is asked
/// once: a check whose lookup ran ahead uses (or joins) that answer.
#[test]
fn the_next_targets_lookup_runs_ahead_of_its_check() {
    use std::sync::{mpsc, Arc, Mutex};
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let (queried, queries) = mpsc::channel::<String>();
    let queried = Mutex::new(queried);
    let log = events.clone();
    let server = scripted(move |q| {
        if q.qtype != A {
            return vec![Reply::to(q).bytes()];
        }
        log.lock().unwrap().push(format!("query {}", q.name));
        let _ = queried.lock().unwrap().send(q.name.clone());
        vec![Reply::to(q).a(&q.name, [127, 0, 0, 1].into(), 300).bytes()]
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = events.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let head = read_head(&mut stream);
            let host = head.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap_or("?");
            let name = host.split(':').next().unwrap_or("?").to_string();
            if name == "n0.test" {
                let deadline = Instant::now() + Duration::from_secs(5);
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    if queries.recv_timeout(left).is_ok_and(|asked| asked == "n1.test") {
                        break;
                    }
                }
            }
            // Logged before it is sent: nothing the answer sets off can come first.
            log.lock().unwrap().push(format!("answer {name}"));
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let urls: Vec<String> = (0..4).map(|i| format!("http://n{i}.test:{port}/")).collect();
    let mut args = vec!["-c", "1", "--format", "tsv", "--dns-servers"];
    let dns_servers = server.addr.to_string();
    args.push(&dns_servers);
    for url in &urls {
        args.extend(["-u", url.as_str()]);
    }
    let run = common::run(&args);
    assert_eq!(run.stdout.lines().filter(|l| l.split('\t').nth(1) == Some("200")).count(), 4, "{}", run.stdout);
    let events = events.lock().unwrap().clone();
    let at = |event: &str| events.iter().position(|e| e == event).unwrap_or_else(|| panic!("no {event}: {events:?}"));
    assert!(at("query n1.test") < at("answer n0.test"), "{events:?}");
    assert_eq!(server.a_queries(), 4, "one query per name: {events:?}");
}

/// `-c 5000` under `ulimit -n 200`, 300 distinct names: every check and
/// every lookup run ahead holds sockets of its own (a UDP socket per query),
/// so concurrency is fitted to the limit counting them, and no lookup fails
/// for want of a descriptor.
#[test]
fn a_low_descriptor_limit_never_turns_into_dns_errors() {
    let port = two_addresses();
    let server = scripted(|q| match q.qtype {
        A => vec![Reply::to(q).a(&q.name, [127, 0, 0, 1].into(), 300).bytes()],
        _ => vec![Reply::to(q).bytes()],
    });
    let list: String = (0..300).map(|i| format!("http://n{i}.fd.test:{port}/\n")).collect();
    let file = common::write_file("dns-fds.txt", list);
    let mut command = statuscheck();
    let dns_servers = server.addr.to_string();
    command.args(["-c", "5000", "--format", "tsv", "--dns-servers", &dns_servers, file.to_str().unwrap()]);
    common::limit_descriptors(&mut command, 200);
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stderr.contains("needs more file descriptors than the limit of 200; using 34"), "{stderr}");
    assert_eq!(stdout.lines().count(), 300);
    assert!(stdout.lines().all(|l| l.split('\t').nth(1) == Some("200")), "{stdout}");
    assert_eq!(server.a_queries(), 300, "one lookup per name, none failed and asked again");
}
