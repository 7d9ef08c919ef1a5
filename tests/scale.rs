//! One machine, long lists: per-host limits, rate, de-duplication, retries
//! and resuming an interrupted run.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

/// A server that answers 200 after `delay`, counting connections open at
/// once (the highest count is kept) and all requests.
fn counting_server(delay: Duration) -> (Server, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (open, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let total = Arc::new(AtomicUsize::new(0));
    let (o, p, t) = (open.clone(), peak.clone(), total.clone());
    let server = serve(move |mut stream| {
        let now = o.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        t.fetch_add(1, Ordering::SeqCst);
        read_head(&mut stream);
        sleep(delay);
        // Counted closed before answering: the client starts its next check
        // only once it has the answer, so a slot is never counted twice.
        o.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
    });
    (server, peak, total)
}

#[test]
fn per_host_caps_checks_in_flight_to_one_host() {
    let (server, peak, total) = counting_server(Duration::from_millis(100));
    let list: String = (0..24).map(|i| server.url(&format!("/{i}\n"))).collect();
    let file = write_file("one-host.txt", list);
    let run = run(&["--format", "tsv", "-c", "50", "--per-host", "3", file.to_str().unwrap()]);
    assert_eq!(run.stdout.lines().count(), 24);
    assert_eq!(total.load(Ordering::SeqCst), 24);
    assert!(peak.load(Ordering::SeqCst) <= 3, "peak {} > 3", peak.load(Ordering::SeqCst));
    assert_eq!(run.code, 0);
}

#[test]
fn per_host_counts_host_names_so_other_hosts_keep_going() {
    let (server, peak, _) = counting_server(Duration::from_millis(100));
    let port = server.port();
    let mut list = String::new();
    let mut args =
        vec!["--format".to_string(), "tsv".into(), "--per-host".into(), "1".into(), "-c".into(), "50".into()];
    for i in 0..10 {
        list.push_str(&format!("http://h{i}.test:{port}/a\nhttp://h{i}.test:{port}/b\n"));
        args.extend(["--resolve".into(), format!("h{i}.test:{port}:127.0.0.1")]);
    }
    args.push(write_file("hosts.txt", list).to_str().unwrap().into());
    let run = common::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.stdout.lines().count(), 20);
    let peak = peak.load(Ordering::SeqCst);
    assert!((2..=10).contains(&peak), "one per host name, many hosts at once: peak {peak}");
}

#[test]
fn rate_spaces_the_starts() {
    let server = http_server();
    let list: String = (0..10).map(|i| format!("http://h{i}.test:{}/\n", server.port())).collect();
    let mut args = vec!["--format".to_string(), "tsv".into(), "--rate".into(), "20".into()];
    for i in 0..10 {
        args.extend(["--resolve".into(), format!("h{i}.test:{}:127.0.0.1", server.port())]);
    }
    args.push(write_file("rate.txt", list).to_str().unwrap().into());
    let started = Instant::now();
    let run = common::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.stdout.lines().count(), 10);
    assert!(started.elapsed() >= Duration::from_millis(440), "10 starts at 20/s span 450 ms at least");
    assert!(run_rejects(&["--rate", "0"]) && run_rejects(&["--rate", "-5"]));
}

fn run_rejects(args: &[&str]) -> bool {
    let mut all = args.to_vec();
    all.extend(["-u", "x.test"]);
    run(&all).code == 2
}

#[test]
fn dedupe_checks_each_url_once_and_answers_every_line() {
    let (server, _, total) = counting_server(Duration::from_millis(50));
    let mut list = String::new();
    for i in 0..60 {
        list.push_str(&server.url(if i % 2 == 0 { "/same\n" } else { "/other\n" }));
    }
    let file = write_file("dupes.txt", list);
    let run = run(&["--format", "json", "--ordered", "--dedupe", file.to_str().unwrap()]);
    let records = run.json();
    assert_eq!(records.len(), 60);
    assert_eq!(total.load(Ordering::SeqCst), 2, "two distinct URLs, two checks");
    let sources: Vec<String> = records.iter().map(|r| r["source"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = (1..=60).map(|n| format!("{}:{n}", file.display())).collect();
    assert_eq!(sources, expected, "every line, in input order");
    assert!(records.iter().all(|r| r["code"] == 200));
}

/// A server that resets the first `failures` connections, then answers.
fn flaky_server(failures: usize, answer: &'static [u8]) -> (Server, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let server = serve(move |mut stream| {
        read_head(&mut stream);
        if count.fetch_add(1, Ordering::SeqCst) < failures {
            reset_on_close(&stream);
            return;
        }
        let _ = stream.write_all(answer);
    });
    (server, seen)
}

#[test]
fn retries_recover_from_resets_and_count_attempts() {
    let (server, seen) = flaky_server(2, b"HTTP/1.1 200 OK\r\n\r\n");
    let record = run(&["--format", "json", "--retries", "3", "-u", &server.url("/")]).record();
    assert_eq!((record["code"].as_u64(), record["attempts"].as_u64()), (Some(200), Some(3)));
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    let (server, _) = flaky_server(5, b"HTTP/1.1 200 OK\r\n\r\n");
    let record = run(&["--format", "json", "--retries", "1", "-u", &server.url("/")]).record();
    assert_eq!((record["error"]["kind"].as_str(), record["attempts"].as_u64()), (Some("io"), Some(2)));
}

#[test]
fn real_statuses_are_not_retried_but_retry_after_is_honoured() {
    let (server, seen) = flaky_server(0, b"HTTP/1.1 500 Internal Server Error\r\n\r\n");
    let record = run(&["--format", "json", "--retries", "3", "-u", &server.url("/")]).record();
    assert_eq!((record["code"].as_u64(), record["attempts"].as_u64()), (Some(500), Some(1)));
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    let server = come_back_later(1);
    let started = Instant::now();
    let record = run(&["--format", "json", "--retries", "2", "-u", &server.url("/")]).record();
    assert_eq!((record["code"].as_u64(), record["attempts"].as_u64()), (Some(200), Some(2)));
    assert!(started.elapsed() >= Duration::from_millis(950), "waited for Retry-After");

    let server = come_back_later(60);
    let capped = Instant::now();
    let record =
        run(&["--format", "json", "--retries", "1", "--retry-after-max", "100ms", "-u", &server.url("/")]).record();
    assert_eq!(record["code"], 200);
    assert!(capped.elapsed() < Duration::from_secs(30), "capped by --retry-after-max, not 60 s");
}

/// Answers the first request with 429 and `Retry-After: seconds`, then 200.
fn come_back_later(seconds: u64) -> Server {
    let calls = Arc::new(Mutex::new(0));
    serve(move |mut stream| {
        read_head(&mut stream);
        let mut n = calls.lock().unwrap();
        *n += 1;
        let answer = match *n {
            1 => format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {seconds}\r\n\r\n"),
            _ => "HTTP/1.1 200 OK\r\n\r\n".to_string(),
        };
        let _ = stream.write_all(answer.as_bytes());
    })
}

#[test]
fn resume_checks_only_what_the_interrupted_run_did_not_answer() {
    let (server, _, total) = counting_server(Duration::ZERO);
    let list: String = (0..40).map(|i| server.url(&format!("/{i}\n"))).collect();
    let file = write_file("resume.txt", list);
    let name = file.to_str().unwrap();
    let full = run(&["--format", "json", name]);
    assert_eq!(full.json().len(), 40);
    // As if the first run had been stopped after 15 results, mid-line.
    let mut partial: String = full.stdout.lines().take(15).map(|l| format!("{l}\n")).collect();
    partial.push_str("{\"input\":\"http://cut");
    let previous = write_file("previous.jsonl", &partial);
    total.store(0, Ordering::SeqCst);
    let rest = run(&["--format", "json", "--resume", previous.to_str().unwrap(), name]);
    assert_eq!(total.load(Ordering::SeqCst), 25, "only the unanswered lines are checked");
    let mut sources: Vec<String> = full.stdout.lines().take(15).chain(rest.stdout.lines()).map(source_of).collect();
    sources.sort();
    let mut expected: Vec<String> = full.stdout.lines().map(source_of).collect();
    expected.sort();
    assert_eq!(sources, expected, "together: every line exactly once");
}

fn source_of(line: &str) -> String {
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    record["source"].as_str().unwrap().to_string()
}
