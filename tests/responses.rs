//! Responses as RFC 9110/9112 define them: interim 1xx answers, line ends
//! split across reads, large heads, "blocked or down", and where the `-H`
//! headers go when redirects are followed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

/// A server that reads the request and sends `bytes`, then closes.
fn sending(bytes: Vec<u8>) -> Server {
    serve(move |mut stream| {
        read_head(&mut stream);
        let _ = stream.write_all(&bytes);
    })
}

fn json(args: &[&str]) -> (Run, serde_json::Value) {
    let mut all = vec!["--format", "json", "--timeout", "5"];
    all.extend_from_slice(args);
    let run = run(&all);
    let record = run.record();
    (run, record)
}

fn error_of(record: &serde_json::Value) -> (String, String) {
    let kind = record["error"]["kind"].as_str().unwrap_or("none").to_string();
    let message = record["error"]["message"].as_str().unwrap_or("").to_string();
    (kind, message)
}

/// `X-Padding` header lines adding up to at least `bytes`.
fn padding(bytes: usize) -> String {
    let line = format!("X-Padding: {}\r\n", "p".repeat(100));
    line.repeat(bytes / line.len() + 1)
}

#[test]
fn early_hints_then_500_is_a_500() {
    let server = sending(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
          HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    );
    let (run, record) = json(&["-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), record["ok"].as_bool()), (Some(500), Some(false)), "{record}");
    assert_eq!(record["reason"], "Internal Server Error");
    assert_eq!(run.code, 1);
}

#[test]
fn continue_then_404_is_a_404_and_several_interims_are_fine() {
    let server = sending(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n".to_vec());
    let (run, record) = json(&["-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), run.code), (Some(404), 1), "{record}");
    let server = sending(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\n\
          HTTP/1.1 199 Whatever\n\nHTTP/1.1 204 No Content\r\n\r\n"
            .to_vec(),
    );
    let (run, record) = json(&["-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), run.code), (Some(204), 0), "{record}");
}

#[test]
fn interim_responses_forever_are_a_protocol_error_at_once() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        for _ in 0..100_000 {
            if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let record = run(&["--format", "json", "--timeout", "20", "-u", &server.url("/")]).record();
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol", "{record}");
    assert!(message.starts_with("no final response in the first 300 KiB: "), "{message}");
    assert!(started.elapsed() < SLACK, "took {:?}", started.elapsed());
}

#[test]
fn an_unsolicited_101_is_a_protocol_error() {
    let server =
        sending(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec());
    let (run, record) = json(&["-u", &server.url("/")]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol", "{record}");
    assert!(message.contains("101 Switching Protocols"), "{message}");
    assert_eq!(run.code, 1);
}

#[test]
fn a_status_line_split_between_cr_and_lf_is_read() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        let _ = stream.set_nodelay(true);
        for byte in b"HTTP/1.1 200 OK\r" {
            let _ = stream.write_all(&[*byte]);
            let _ = stream.flush();
            sleep(Duration::from_millis(5));
        }
        // Long enough that the LF comes in a read of its own.
        sleep(Duration::from_millis(200));
        let _ = stream.write_all(b"\nContent-Length: 0\r\n\r\n");
    });
    let (_, record) = json(&["-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), record["reason"].as_str()), (Some(200), Some("OK")), "{record}");
}

#[test]
fn a_30_kib_redirect_head_is_followed() {
    let target = http_server();
    let head = format!("HTTP/1.1 301 Moved\r\nLocation: {}\r\n{}\r\n", target.url("/status/204"), padding(30 * 1024));
    let server = sending(head.into_bytes());
    let (_, record) = json(&["-L", "-u", &server.url("/")]);
    assert_eq!(record["code"], 204, "{record}");
    assert_eq!(record["redirects"][0]["code"], 301);
}

#[test]
fn a_location_past_300_kib_is_a_clear_error_under_follow() {
    let target = http_server();
    let head = format!("HTTP/1.1 301 Moved\r\n{}Location: {}\r\n\r\n", padding(310 * 1024), target.url("/"));
    let server = sending(head.into_bytes());
    let (run, record) = json(&["-L", "-u", &server.url("/")]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol", "{record}");
    assert!(message.contains("301's head is over 300 KiB and no Location came before"), "{message}");
    assert_eq!(run.code, 1);
    assert!(target.requests.lock().unwrap().is_empty());
    // Without -L the 301 is the answer; what was read of its head only adds.
    let (_, record) = json(&["-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), record["location"].is_null()), (Some(301), true), "{record}");
}

#[test]
fn a_redirect_head_cut_by_the_server_is_a_clear_error_under_follow() {
    let server = sending(b"HTTP/1.1 302 Found\r\nServer: x\r\n".to_vec());
    let (_, record) = json(&["-L", "-u", &server.url("/")]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol", "{record}");
    assert!(message.contains("302's head ended (the server closed the connection)"), "{message}");
    // A complete 3xx head without a Location is a final answer, as in curl -L.
    let server = sending(b"HTTP/1.1 302 Found\r\nServer: x\r\n\r\n".to_vec());
    let (_, record) = json(&["-L", "-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), record["error"].is_null()), (Some(302), true), "{record}");
}

#[test]
fn a_503_with_retry_after_is_down_and_a_429_is_a_rate_limit() {
    let down = sending(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n".to_vec());
    let (_, record) = json(&["-u", &down.url("/")]);
    assert_eq!(record["code"], 503);
    assert_eq!((record["blocked"].as_bool(), record["blocked_by"].is_null()), (Some(false), true), "{record}");
    assert_eq!(record["retry_after"], 30);
    let limited = sending(b"HTTP/1.1 429 Too Many Requests\r\n\r\n".to_vec());
    let (_, record) = json(&["-u", &limited.url("/")]);
    assert_eq!((record["blocked"].as_bool(), record["blocked_by"].as_str()), (Some(true), Some("rate-limit")));
}

#[test]
fn retries_still_wait_for_a_503s_retry_after() {
    let calls = Arc::new(Mutex::new(0));
    let server = serve(move |mut stream| {
        read_head(&mut stream);
        let mut n = calls.lock().unwrap();
        *n += 1;
        let answer: &[u8] = match *n {
            1 => b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n",
            _ => b"HTTP/1.1 200 OK\r\n\r\n",
        };
        let _ = stream.write_all(answer);
    });
    let started = Instant::now();
    let (_, record) = json(&["--retries", "1", "-u", &server.url("/")]);
    assert_eq!((record["code"].as_u64(), record["attempts"].as_u64()), (Some(200), Some(2)), "{record}");
    assert!(started.elapsed() >= Duration::from_millis(950), "waited for Retry-After");
}

/// Answers per path, from a table filled in after the server started (so
/// servers can redirect to each other); unknown paths get a 200.
type Routes = Arc<Mutex<Vec<(String, String)>>>;

fn respond(stream: &mut (impl Read + Write), routes: &Routes, seen: &Mutex<Vec<String>>) -> bool {
    let head = read_head(stream);
    if head.is_empty() {
        return false;
    }
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(head);
    let to = routes.lock().unwrap().iter().find(|(p, _)| *p == path).map(|(_, to)| to.clone());
    let answer = match to {
        Some(to) => format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n"),
        None => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into(),
    };
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
    true
}

fn redirector() -> (Server, Routes) {
    let routes: Routes = Arc::default();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (table, seen) = (routes.clone(), requests.clone());
    let mut server = serve(move |mut stream: TcpStream| {
        respond(&mut stream, &table, &seen);
    });
    server.requests = requests;
    (server, routes)
}

fn tls_redirector(ca: &Ca) -> (Server, Routes) {
    let config = ca.server_config(Leaf { names: &["localhost"], expired: false });
    let routes: Routes = Arc::default();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (table, seen) = (routes.clone(), requests.clone());
    let mut server = serve(move |mut tcp: TcpStream| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { return };
        let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
        if respond(&mut tls, &table, &seen) {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    server.requests = requests;
    (server, routes)
}

fn route(routes: &Routes, path: &str, to: String) {
    routes.lock().unwrap().push((path.into(), to));
}

/// The request heads `server` got, by path.
fn heads(server: &Server) -> Vec<(String, String)> {
    let requests = server.requests.lock().unwrap();
    requests.iter().map(|head| (head.split(' ').nth(1).unwrap_or("").to_string(), head.clone())).collect()
}

const SECRETS: [&str; 4] = ["-H", "Authorization: Bearer t0ken", "-H", "Cookie: session=s3cret"];

fn has_secrets(head: &str) -> bool {
    let (auth, cookie) =
        (head.contains("\r\nAuthorization: Bearer t0ken\r\n"), head.contains("\r\nCookie: session=s3cret\r\n"));
    assert_eq!(auth, cookie, "both or neither: {head}");
    auth
}

#[test]
fn header_arguments_go_only_to_their_own_origin() {
    let (first, first_routes) = redirector();
    let (other, other_routes) = redirector();
    route(&first_routes, "/start", "/same".into());
    route(&first_routes, "/same", other.url("/other"));
    route(&other_routes, "/other", first.url("/back"));
    let mut args = vec!["-L", "-A", "probe/9", "-u"];
    let start = first.url("/start");
    args.push(&start);
    args.extend(SECRETS);
    let (_, record) = json(&args);
    assert_eq!((record["code"].as_u64(), record["redirects"].as_array().map(Vec::len)), (Some(200), Some(3)));
    let on_first = heads(&first);
    let paths: Vec<&str> = on_first.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths, ["/start", "/same", "/back"]);
    assert!(on_first.iter().all(|(_, head)| has_secrets(head)), "the original origin, back again included");
    let on_other = heads(&other);
    assert_eq!(on_other.len(), 1);
    let head = &on_other[0].1;
    assert!(!has_secrets(head), "another port is another origin: {head}");
    assert!(head.contains("\r\nUser-Agent: probe/9\r\n") && head.contains("\r\nAccept: */*\r\n"), "{head}");

    // --location-trusted sends them everywhere.
    args.push("--location-trusted");
    let (_, record) = json(&args);
    assert_eq!(record["code"], 200, "{record}");
    let on_other = heads(&other);
    assert!(has_secrets(&on_other[1].1), "{}", on_other[1].1);
}

#[test]
fn header_arguments_never_follow_a_downgrade_to_http() {
    let ca = Ca::new();
    let (secure, secure_routes) = tls_redirector(&ca);
    let (plain, _) = redirector();
    route(&secure_routes, "/start", plain.url("/plain"));
    let start = secure.https_url("localhost", "/start");
    let mut args = vec!["-L", "--location-trusted", "--cacert", ca.pem.to_str().unwrap(), "-u", &start];
    args.extend(SECRETS);
    let (_, record) = json(&args);
    assert_eq!(record["code"], 200, "{record}");
    assert!(has_secrets(&heads(&secure)[0].1));
    let on_plain = heads(&plain);
    assert_eq!(on_plain.len(), 1);
    assert!(!has_secrets(&on_plain[0].1), "{}", on_plain[0].1);
}

#[test]
fn a_proxys_connect_answer_is_read_the_same_way() {
    let proxy = serve(|mut stream| {
        read_head(&mut stream);
        let _ = stream.set_nodelay(true);
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 Proxy Authentication Required\r");
        let _ = stream.flush();
        sleep(Duration::from_millis(200));
        let _ = stream.write_all(b"\n\r\n");
    });
    let (_, record) = json(&["--proxy", &proxy.url(""), "-u", "https://origin.test/"]);
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "connect", "{record}");
    assert_eq!(
        message,
        format!("proxy refused the tunnel: HTTP/1.1 407 Proxy Authentication Required ({})", proxy.addr)
    );
}

#[test]
fn a_redirect_head_still_coming_at_the_deadline_is_a_clear_error_under_follow() {
    let server = serve(|mut stream| {
        read_head(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 301 Moved\r\nServer: slow\r\n");
        sleep(Duration::from_secs(4));
    });
    let started = Instant::now();
    let record = run(&["--format", "json", "--timeout", "1", "-L", "-u", &server.url("/")]).record();
    let (kind, message) = error_of(&record);
    assert_eq!(kind, "protocol", "{record}");
    assert!(message.contains("301's head was not complete after 1s and no Location came before"), "{message}");
    assert!(started.elapsed() < SLACK);
}
