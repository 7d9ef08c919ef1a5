//! Header and body expectations, through the library: what the engine reads
//! for them (the whole head, a body prefix of at most 64 KiB, its framing
//! taken off) and what it reads without them (nothing past what the answer
//! needs), and the latency budgets. In process, against tokio servers on
//! 127.0.0.1 in the same runtime; deadlines run on tokio's paused clock.

mod common;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Ca, Leaf};
use statuscheck::{
    Answer, BodyRule, Checked, Checker, Expectation, HeaderRule, Limits, Method, Options, Pattern, Policy, Profile,
    Runner, State, Target, Unmet, BODY_LIMIT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, Instant};
use url::Url;

/// Serves every connection with `handler`, on 127.0.0.1.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    address
}

/// Reads the request head and returns it.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A server that answers with `pieces`, each in a write of its own with a
/// pause (1 ms, on the paused clock) before the next, so that each comes in
/// a read of its own; then it closes. The request heads go to `seen`.
async fn pieces_server(pieces: Vec<Vec<u8>>, seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let pieces = Arc::new(pieces);
    serve(move |mut stream| {
        let (pieces, seen) = (pieces.clone(), seen.clone());
        async move {
            let head = read_head(&mut stream).await;
            seen.lock().unwrap().push(head);
            for piece in pieces.iter() {
                if stream.write_all(piece).await.is_err() {
                    return;
                }
                sleep(Duration::from_millis(1)).await;
            }
        }
    })
    .await
}

/// A server that sends `bytes` in one write, then closes.
async fn raw_server(bytes: &'static [u8]) -> SocketAddr {
    pieces_server(vec![bytes.to_vec()], Arc::default()).await
}

/// A server that sends `head`, then `filler` over and over (at most 64 MiB,
/// or until the client hangs up), never ending.
async fn endless_server(head: &'static [u8], filler: &'static [u8]) -> SocketAddr {
    serve(move |mut stream| async move {
        read_head(&mut stream).await;
        if stream.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..(64 << 20) / filler.len() {
            if stream.write_all(filler).await.is_err() {
                return;
            }
        }
    })
    .await
}

fn url(address: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{address}{path}")).unwrap()
}

/// Checks `url` once with `policy` (and a 10 s deadline) and no redirects followed.
async fn check(url: &Url, policy: Policy) -> Answer {
    let checker = Checker::new(Options::default()).unwrap();
    let profile = checker.profile().clone().policy(policy);
    checker.check_as(url, &profile).await
}

fn code(answer: &Answer) -> u16 {
    answer.outcome.as_ref().map(|r| r.code).expect("an answer")
}

/// The `got` of each unmet expectation, in order.
fn got(unmet: &[Unmet]) -> Vec<&str> {
    unmet.iter().map(|u| u.got.as_str()).collect()
}

fn contains(text: &str) -> Policy {
    Policy::default().body(BodyRule::Contains(text.into()))
}

fn pattern(text: &str) -> Pattern {
    Pattern::new(text).unwrap()
}

#[tokio::test]
async fn header_rules_are_judged_on_a_200_whose_head_is_otherwise_not_read() {
    let server = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Served-By:  web-3 \r\nServer: nginx/1.25\r\n\r\n",
    )
    .await;
    let met = Policy::default()
        .header("x-served-by", HeaderRule::Present)
        .header("Content-Type", HeaderRule::Equals("application/json".into()))
        .header("server", HeaderRule::Matches(pattern(r"^nginx/1\.")));
    let answer = check(&url(server, "/"), met).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));

    let unmet = Policy::default()
        .header("X-Missing", HeaderRule::Present)
        .header("x-served-by", HeaderRule::Equals("web-4".into()))
        .header("server", HeaderRule::Matches(pattern("^apache")));
    let answer = check(&url(server, "/"), unmet).await;
    assert_eq!(code(&answer), 200);
    assert!(answer.unmet.iter().all(|u| u.kind == Expectation::Header), "{:?}", answer.unmet);
    assert_eq!(got(&answer.unmet), ["no x-missing header", "web-3", "nginx/1.25"]);
    assert_eq!(answer.unmet[1].expect, "header x-served-by = web-4");
    assert_eq!(answer.unmet[2].expect, "header server ~ /^apache/");
}

#[tokio::test(start_paused = true)]
async fn a_long_expected_header_name_is_kept_however_split() {
    // The name comes in a read of its own, before its colon: a reader that
    // skips long names without a colon must not skip an expected one.
    let name = format!("X-{}", "a".repeat(100));
    let pieces = vec![format!("HTTP/1.1 200 OK\r\n{name}").into_bytes(), b": yes\r\n\r\n".to_vec()];
    let server = pieces_server(pieces, Arc::default()).await;
    let answer = check(&url(server, "/"), Policy::default().header(&name, HeaderRule::Equals("yes".into()))).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
}

#[tokio::test]
async fn body_rules_contain_and_match() {
    let server = raw_server(b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"UP\",\"version\":\"2.14\"}").await;
    let policy = contains(r#""status":"UP""#).body(BodyRule::Matches(pattern(r#"version":"2\.\d+"#)));
    let answer = check(&url(server, "/"), policy).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));

    let policy = contains(r#""status":"DOWN""#).body(BodyRule::Matches(pattern(r#"version":"3\."#)));
    let answer = check(&url(server, "/"), policy).await;
    assert_eq!(answer.unmet.len(), 2);
    assert!(answer.unmet.iter().all(|u| u.kind == Expectation::Body));
    assert_eq!(answer.unmet[0].expect, r#"body contains "\"status\":\"DOWN\"""#);
    assert_eq!(got(&answer.unmet), ["not in the body (32 bytes)"; 2], "read to the close, not cut");
}

#[tokio::test(start_paused = true)]
async fn content_length_ends_the_body_and_bytes_after_it_are_not_read() {
    // The head, the body and more come in one write: the body's first bytes
    // arrive with the head's last read. The server then holds the
    // connection open: the length, not the close, ends the read.
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nstatus: UP\nEXTRA").await;
        sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let started = Instant::now();
    let answer = check(&url(server, "/"), contains("status: UP")).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait for a close");
    let answer = check(&url(server, "/"), contains("EXTRA")).await;
    assert_eq!(got(&answer.unmet), ["not in the body (11 bytes)"]);
}

#[tokio::test(start_paused = true)]
async fn a_short_content_length_body_is_a_cut() {
    let server = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this").await;
    let answer = check(&url(server, "/"), contains("UP")).await;
    assert_eq!(code(&answer), 200);
    assert_eq!(
        got(&answer.unmet),
        ["not in the 9 bytes read (the server closed the connection before the body's end)"]
    );
}

#[tokio::test(start_paused = true)]
async fn chunked_framing_is_taken_off_with_the_needle_split_across_chunks_and_reads() {
    let seen = Arc::default();
    let pieces = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"statu"[..],
        b"s\"",
        b"\r\n4;ext=1\r\n:\"UP\r\n1",
        b"\r\n\"\r\n1\r\n}\r\n0\r\n\r\n",
    ];
    let server = pieces_server(pieces.iter().map(|p| p.to_vec()).collect(), seen).await;
    let answer = check(&url(server, "/"), contains(r#"{"status":"UP"}"#)).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
    // The framing is gone: a needle that spans it is not there.
    let answer = check(&url(server, "/"), contains("\r\n4")).await;
    assert_eq!(got(&answer.unmet), ["not in the body (15 bytes)"]);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_chunk_ends_the_read_and_the_answer_stands() {
    let server = raw_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nUP\r\nzz\r\nmore").await;
    let answer = check(&url(server, "/"), contains("UP")).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]), "what came before is judged");
    let answer = check(&url(server, "/"), contains("more")).await;
    assert_eq!(
        got(&answer.unmet),
        ["not in the 2 bytes read (malformed chunked framing: a chunk size that is not hexadecimal)"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_streaming_forever_is_cut_at_the_limit_and_still_answered() {
    let server = endless_server(b"HTTP/1.1 200 OK\r\n\r\nstatus: UP\n", b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n").await;
    let answer = check(&url(server, "/"), contains("status: UP")).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
    let answer = check(&url(server, "/"), contains("never sent")).await;
    assert_eq!(code(&answer), 200);
    assert_eq!(got(&answer.unmet), [format!("not in the {BODY_LIMIT} bytes read (the 64 KiB limit)")]);
    // Chunked, forever, too.
    let chunked = endless_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n").await;
    let answer = check(&url(chunked, "/"), contains("never sent")).await;
    assert_eq!(got(&answer.unmet), [format!("not in the {BODY_LIMIT} bytes read (the 64 KiB limit)")]);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_mid_body_judges_what_was_read() {
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nstatus: ").await;
        sleep(Duration::from_millis(500)).await;
        let _ = stream.write_all(b"UP").await;
        sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let checker = Checker::new(Options::default()).unwrap();
    let profile = checker.profile().clone().timeout(Duration::from_secs(2));
    let started = Instant::now();
    let answer = checker.check_as(&url(server, "/"), &profile.clone().policy(contains("status: UP"))).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]), "the needle came before the deadline");
    assert_eq!(started.elapsed(), Duration::from_secs(2), "read until the deadline");
    let answer = checker.check_as(&url(server, "/"), &profile.policy(contains("DOWN"))).await;
    assert_eq!(code(&answer), 200);
    assert_eq!(got(&answer.unmet), ["not in the 10 bytes read (the timeout of 2s)"]);
}

#[tokio::test(start_paused = true)]
async fn head_requests_204_and_304_have_no_body() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let server = pieces_server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nUP".to_vec()], seen.clone()).await;
    let checker = Checker::new(Options::default().method(Method::Head)).unwrap();
    let profile = checker.profile().clone().policy(contains("UP"));
    let answer = checker.check_as(&url(server, "/"), &profile).await;
    assert!(seen.lock().unwrap()[0].starts_with("HEAD / "), "{:?}", seen.lock().unwrap());
    assert_eq!((code(&answer), got(&answer.unmet)), (200, vec!["no body"]));
    for status in [&b"HTTP/1.1 204 No Content\r\n\r\nUP"[..], b"HTTP/1.1 304 Not Modified\r\n\r\nUP"] {
        let server = pieces_server(vec![status.to_vec()], Arc::default()).await;
        let answer = check(&url(server, "/"), contains("UP")).await;
        assert_eq!(got(&answer.unmet), ["no body"], "{}", String::from_utf8_lossy(status));
    }
}

#[tokio::test(start_paused = true)]
async fn without_expectations_a_200_is_answered_at_its_status_line() {
    // A head that stalls after its status line: only a reader that wants
    // more than the status line waits for it.
    let stalled = serve(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Early: yes\r\n").await;
        sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let endless =
        endless_server(b"HTTP/1.1 200 OK\r\n", b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n").await;
    for server in [stalled, endless] {
        let started = Instant::now();
        let answer = check(&url(server, "/"), Policy::default()).await;
        assert_eq!((code(&answer), answer.unmet), (200, vec![]));
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing past the status line was waited for");
    }
    // A header expectation reads the head, until the deadline or the limit.
    let started = Instant::now();
    let answer = check(&url(stalled, "/"), Policy::default().header("x-early", HeaderRule::Present)).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]), "the field came before the deadline");
    assert_eq!(started.elapsed(), Duration::from_secs(10), "the head was read until the deadline");
    let answer = check(&url(endless, "/"), Policy::default().header("x-late", HeaderRule::Present)).await;
    assert_eq!((code(&answer), got(&answer.unmet)), (200, vec!["no x-late header"]));
    // A body expectation gets no body from a head that never ended.
    let answer = check(&url(endless, "/"), contains("UP")).await;
    assert_eq!(got(&answer.unmet), ["not in the 0 bytes read (the head is over 300 KiB)"]);
    let answer = check(&url(stalled, "/"), contains("UP")).await;
    assert_eq!(got(&answer.unmet), ["not in the 0 bytes read (the head was not complete after 10s)"]);
}

#[tokio::test(start_paused = true)]
async fn with_follow_expectations_are_of_the_final_answer_only() {
    // The redirect's body never ends: a check that read it would wait for
    // its deadline.
    let server = serve(|mut stream| async move {
        let head = read_head(&mut stream).await;
        let answer: &[u8] = if head.starts_with("GET /start ") {
            b"HTTP/1.1 302 Found\r\nLocation: /end\r\nX-Hop: yes\r\nContent-Length: 1000\r\n\r\nstatus: UP"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nstatus: DOWN"
        };
        let _ = stream.write_all(answer).await;
        sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let checker = Checker::new(Options::default().follow(Some(5))).unwrap();
    let policy = contains("status: UP").header("x-hop", HeaderRule::Present);
    let started = Instant::now();
    let answer = checker.check_as(&url(server, "/start"), &checker.profile().clone().policy(policy.clone())).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "the redirect's body was not read");
    assert_eq!((code(&answer), answer.redirects.len()), (200, 1));
    assert_eq!(got(&answer.unmet), ["no x-hop header", "not in the body (12 bytes)"]);
    // Not following, the redirect is the final answer: its body is read
    // (until the deadline) and judged.
    let answer = check(&url(server, "/start"), policy).await;
    assert_eq!((code(&answer), answer.unmet), (302, vec![]));
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn an_answer_is_the_same_with_or_without_expectations() {
    // A Retry-After on a 200 is not read without expectations: reading the
    // head for one must not change the answer either.
    let server = raw_server(b"HTTP/1.1 200 OK\r\nRetry-After: 30\r\nServer: cloudflare\r\n\r\nUP").await;
    let plain = check(&url(server, "/"), Policy::default()).await;
    let read = check(&url(server, "/"), contains("UP").header("server", HeaderRule::Present)).await;
    assert_eq!((plain.outcome, read.unmet), (read.outcome, vec![]));
}

/// The caller's target with its own profile.
struct Health {
    url: Url,
    profile: Profile,
}

impl Target for Health {
    type Parked = Health;
    fn url(&self) -> Result<&Url, &str> {
        Ok(&self.url)
    }
    fn park(self) -> Health {
        self
    }
    fn unpark(health: Health) -> Health {
        health
    }
    fn profile(&self) -> Option<&Profile> {
        Some(&self.profile)
    }
}

#[tokio::test(start_paused = true)]
async fn latency_budgets_make_degraded_and_down_on_the_runners_clock() {
    // The path says how long the server waits before answering.
    let server = serve(|mut stream| async move {
        let head = read_head(&mut stream).await;
        let path = head.split(' ').nth(1).unwrap_or("/0").trim_start_matches('/').to_owned();
        sleep(Duration::from_millis(path.parse().unwrap_or(0))).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nUP").await;
    })
    .await;
    let options = Options::default().timeout(Duration::from_secs(10));
    let budgets =
        Policy::default().degraded_after(Some(Duration::from_millis(500))).down_after(Some(Duration::from_secs(2)));
    let profile = options.profile().clone().policy(budgets.clone().body(BodyRule::Contains("UP".into())));
    let runner = Runner::new(Checker::new(options.policy(budgets)).unwrap(), Limits::default().ordered(true));
    let urls = ["/0", "/700", "/2500"].map(|path| url(server, path));
    let mut results = runner.check_all(urls.clone());
    let mut states = Vec::new();
    while let Some(checked) = results.next().await {
        states.push((checked.state, checked.elapsed, latency_got(&checked)));
    }
    let expected = [
        (State::Up, Duration::ZERO, None),
        (State::Degraded, Duration::from_millis(700), Some("700ms".to_owned())),
        (State::Down, Duration::from_millis(2500), Some("2.5s".to_owned())),
    ];
    assert_eq!(states, expected);
    // The same through targets with a profile of their own, body rule and all.
    let targets = urls.map(|url| Health { url, profile: profile.clone() });
    let mut results = runner.check_all(targets);
    let mut states = Vec::new();
    while let Some(checked) = results.next().await {
        assert!(checked.unmet.iter().all(|u| u.kind == Expectation::Latency), "{:?}", checked.unmet);
        states.push((checked.state, checked.elapsed, latency_got(&checked)));
    }
    assert_eq!(states, expected);
}

fn latency_got<T>(checked: &Checked<T>) -> Option<String> {
    checked.unmet.iter().find(|u| u.kind == Expectation::Latency).map(|u| u.got.clone())
}

#[tokio::test]
async fn https_bodies_are_read_through_tls() {
    let ca = Ca::new();
    let config = ca.server_config(Leaf { names: &["localhost"], expired: false });
    let server = common::serve(move |mut tcp| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { return };
        let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
        common::read_head(&mut tls);
        for piece in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"5\r\nstatu\r\n",
            b"6\r\ns: UP\r\n0\r\n\r\n",
        ] {
            let _ = tls.write_all(piece);
            let _ = tls.flush();
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
    });
    let checker = Checker::new(Options::default().cacert(Some(ca.pem.clone()))).unwrap();
    let target = Url::parse(&server.https_url("localhost", "/")).unwrap();
    let answer = checker.check_as(&target, &checker.profile().clone().policy(contains("status: UP"))).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
    let answer = checker.check_as(&target, &checker.profile().clone().policy(contains("DOWN"))).await;
    assert_eq!(got(&answer.unmet), ["not in the body (11 bytes)"]);
}

/// The legacy TLS retry (cargo feature `tls-legacy`) reads the same way: an
/// OpenSSL server that speaks only TLS 1.0 and CBC suites, answered through
/// the retry, its body judged.
#[cfg(feature = "tls-legacy")]
#[tokio::test]
async fn legacy_tls_bodies_are_read_the_same_way() {
    use openssl::pkey::PKey;
    use openssl::ssl::{Ssl, SslContext, SslMethod, SslVersion};
    use openssl::x509::X509;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.distinguished_name.push(DnType::CommonName, "expectations legacy root");
    let root = root.self_signed(&root_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&leaf_key, &root, &root_key);
    let pem = common::write_file("expectations-legacy-root.pem", root.pem());
    let mut context = SslContext::builder(SslMethod::tls_server()).unwrap();
    context.set_cipher_list("ECDHE-ECDSA-AES128-SHA@SECLEVEL=0").unwrap();
    context.set_certificate(&X509::from_pem(leaf.unwrap().pem().as_bytes()).unwrap()).unwrap();
    context.set_private_key(&PKey::private_key_from_pem(leaf_key.serialize_pem().as_bytes()).unwrap()).unwrap();
    context.set_min_proto_version(Some(SslVersion::TLS1)).unwrap();
    context.set_max_proto_version(Some(SslVersion::TLS1)).unwrap();
    let context = context.build();
    let server = common::serve(move |stream| {
        let Ok(mut tls) = Ssl::new(&context).unwrap().accept(stream) else { return };
        common::read_head(&mut tls);
        for piece in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Legacy: yes\r\n\r\n"[..],
            b"5\r\nstatu\r\n",
            b"6\r\ns: UP\r\n0\r\n\r\n",
        ] {
            let _ = tls.write_all(piece);
            let _ = tls.flush();
        }
        let _ = tls.shutdown();
    });
    let checker = Checker::new(Options::default().cacert(Some(pem)).tls_legacy(true)).unwrap();
    let target = Url::parse(&server.https_url("localhost", "/")).unwrap();
    let expect = |policy: Policy| checker.profile().clone().policy(policy);
    let met = contains("status: UP").header("x-legacy", HeaderRule::Equals("yes".into()));
    let answer = checker.check_as(&target, &expect(met)).await;
    assert_eq!((code(&answer), answer.unmet), (200, vec![]));
    let version = answer.trace.tls_session.as_ref().map(|session| session.version.clone());
    assert!(version.as_deref().is_some_and(|v| v.contains("1.0")), "through the legacy retry: {version:?}");
    let answer = checker.check_as(&target, &expect(contains("DOWN"))).await;
    assert_eq!(got(&answer.unmet), ["not in the body (11 bytes)"]);
}

/// What a body or header expectation costs per check, against none: client
/// CPU (this thread's, which runs every check) and wall time, on a server
/// of its own thread and runtime answering 200 with a body of `COST_BODY`
/// bytes (default 2048). Rounds alternate the modes, so that a noisy
/// machine weighs on each alike. A measurement, not a test: run it by
/// name, in release:
///
/// `COST_CHECKS=1000 COST_ROUNDS=7 COST_BODY=2048 cargo test --release --test expectations -- --ignored --nocapture cost`
#[test]
#[ignore = "a measurement: run it in release, by name"]
fn cost_of_expectations_per_check() {
    let setting = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (checks, rounds, body) = (setting("COST_CHECKS", 1000), setting("COST_ROUNDS", 7), setting("COST_BODY", 2048));
    let server = cost_server(body);
    let modes = [
        ("none", Policy::default()),
        ("header", Policy::default().header("x-served-by", HeaderRule::Present)),
        ("body", contains("\"status\":\"UP\"")),
        ("regex", Policy::default().body(BodyRule::Matches(pattern("\"status\":\"UP\"")))),
    ];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for _ in 0..rounds {
        for (i, (name, policy)) in modes.iter().enumerate() {
            let options = Options::default().policy(policy.clone());
            let runner = Runner::new(Checker::new(options).unwrap(), Limits::default().concurrency(50).per_host(50));
            let urls: Vec<Url> = (0..checks).map(|n| url(server, &format!("/{n}"))).collect();
            let (started, cpu_before) = (std::time::Instant::now(), thread_cpu());
            let unmet = runtime.block_on(async {
                let mut results = runner.check_all(urls);
                let mut unmet = 0;
                while let Some(checked) = results.next().await {
                    assert_eq!(checked.outcome.as_ref().map(|r| r.code), Ok(200), "{name}: {checked:?}");
                    unmet += checked.unmet.len();
                }
                unmet
            });
            assert_eq!(unmet, 0, "{name}: every expectation met");
            cpu[i].push((thread_cpu() - cpu_before).as_secs_f64() * 1e6 / checks as f64);
            wall[i].push(started.elapsed().as_secs_f64() * 1e6 / checks as f64);
        }
    }
    println!(
        "{checks} checks x {rounds} rounds, body {body} bytes: client CPU and wall per check, median (min-max), in µs"
    );
    for (i, (name, _)) in modes.iter().enumerate() {
        println!("{name:>6}: CPU {} wall {}", spread(&mut cpu[i]), spread(&mut wall[i]));
    }
}

fn spread(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    format!("{:.1} ({:.1}-{:.1})", values[values.len() / 2], values[0], values[values.len() - 1])
}

/// This thread's CPU time, user and system.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A server on a thread and runtime of its own: 200, an `X-Served-By`, and
/// a body of `size` bytes ending in `"status":"UP"`.
fn cost_server(size: usize) -> SocketAddr {
    let needle = b"\"status\":\"UP\"";
    let mut body = vec![b'x'; size.saturating_sub(needle.len())];
    body.extend_from_slice(needle);
    let mut answer =
        format!("HTTP/1.1 200 OK\r\nX-Served-By: a\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(&body);
    let answer: &'static [u8] = answer.leak();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let _ = stream.write_all(answer).await;
                });
            }
        });
    });
    receiver.recv().unwrap()
}
