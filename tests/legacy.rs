//! Legacy-only servers, named by the probe: fake servers on 127.0.0.1 that
//! refuse our real handshake (an alert, a TLS 1.0 ServerHello, a close, a
//! reset) and answer the probe's hello with a canned ServerHello, or with
//! nothing useful. A hello is told apart by what it offers: rustls' offers
//! TLS 1.3 (supported_versions), the probe's does not.
//!
//! The engine runs in process on tokio's paused clock (deadlines cost no
//! real time); one test runs the binary for `error.cause` in JSON.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use statuscheck::{CheckError, Checker, Options, Pin, Proxies, TlsCause};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// What the fake server sends in answer to a hello.
#[derive(Clone, Copy, Debug)]
enum Say {
    /// A fatal alert with this description (40 handshake_failure, 70
    /// protocol_version, 112 unrecognized_name).
    Alert(u8),
    /// A ServerHello picking this version and suite, in a record of that version.
    ServerHello(u16, u16),
    /// Nothing: the connection is closed.
    Close,
    /// Nothing: the connection is reset.
    Reset,
    /// Nothing, ever (the connection stays open).
    Silence,
    /// These bytes, which are not TLS.
    Text(&'static [u8]),
}

/// What a fake server saw: hellos from rustls and from the probe, and the
/// name each probe asked for.
#[derive(Default)]
struct Seen {
    rustls: AtomicUsize,
    probes: AtomicUsize,
    probe_names: Mutex<Vec<Option<String>>>,
}

/// A ClientHello's offer of TLS 1.3 and the server name it asks for.
struct Hello {
    tls13: bool,
    name: Option<String>,
}

/// Reads the first record (a whole ClientHello: rustls and the probe send
/// it in one) and what it offers.
async fn read_hello(stream: &mut TcpStream) -> Option<Hello> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.ok()?;
    let mut record = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    stream.read_exact(&mut record).await.ok()?;
    let body = &record[4..];
    let u16_at = |at: usize| usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    let mut at = 2 + 32;
    at += 1 + usize::from(body[at]);
    at += 2 + u16_at(at);
    at += 1 + usize::from(body[at]);
    let end = at + 2 + u16_at(at);
    at += 2;
    let mut hello = Hello { tls13: false, name: None };
    while at < end {
        let (kind, len) = (u16_at(at), u16_at(at + 2));
        let data = &body[at + 4..at + 4 + len];
        match kind {
            43 => hello.tls13 = true,
            0 => hello.name = Some(String::from_utf8_lossy(&data[5..]).into_owned()),
            _ => {}
        }
        at += 4 + len;
    }
    Some(hello)
}

fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend([0x42; 32]);
    body.push(0);
    body.extend(suite.to_be_bytes());
    body.push(0);
    let mut message = vec![2, 0, 0, body.len() as u8];
    message.extend(body);
    let mut record = vec![22];
    record.extend(version.to_be_bytes());
    record.extend((message.len() as u16).to_be_bytes());
    record.extend(message);
    record
}

async fn say(mut stream: TcpStream, what: Say) {
    let bytes = match what {
        Say::Alert(description) => vec![21, 3, 3, 0, 2, 2, description],
        Say::ServerHello(version, suite) => server_hello(version, suite),
        Say::Text(text) => text.to_vec(),
        Say::Close => return,
        Say::Reset => {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            return;
        }
        Say::Silence => return std::future::pending().await,
    };
    let _ = stream.write_all(&bytes).await;
    // Read until the client hangs up, so closing never resets what it
    // has not read yet.
    let _ = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await;
}

/// A server that answers rustls' hello with `to_rustls` and the probe's
/// with `to_probe`.
async fn legacy_server(to_rustls: Say, to_probe: Say) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counts = counts.clone();
            tokio::spawn(async move {
                let Some(hello) = read_hello(&mut stream).await else { return };
                if hello.tls13 {
                    counts.rustls.fetch_add(1, Ordering::SeqCst);
                    say(stream, to_rustls).await;
                } else {
                    counts.probes.fetch_add(1, Ordering::SeqCst);
                    counts.probe_names.lock().unwrap().push(hello.name);
                    say(stream, to_probe).await;
                }
            });
        }
    });
    (address, seen)
}

fn https(address: SocketAddr) -> Url {
    Url::parse(&format!("https://{address}/")).unwrap()
}

async fn check_with(options: Options, url: &Url) -> CheckError {
    let answer = Checker::new(options).unwrap().check(url).await;
    answer.outcome.expect_err("a legacy server cannot answer")
}

/// The error of a check of a server that says `to_rustls` and `to_probe`.
async fn check(to_rustls: Say, to_probe: Say) -> (CheckError, Arc<Seen>) {
    let (address, seen) = legacy_server(to_rustls, to_probe).await;
    (check_with(Options::default(), &https(address)).await, seen)
}

fn assert_legacy(error: &CheckError, words: &[&str]) {
    assert_eq!(error.tls_cause(), Some(TlsCause::LegacyOnly), "{error}");
    let message = error.to_string();
    assert!(message.contains("which is no longer safe and which statuscheck does not speak"), "{message}");
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
    assert!(!message.contains("--"), "a library message names no flag: {message}");
}

const HANDSHAKE_FAILURE: Say = Say::Alert(40);

#[tokio::test(start_paused = true)]
async fn a_tls_1_0_only_server_is_named_legacy_only() {
    // It answers every hello alike, with TLS 1.0.
    let tls10 = Say::ServerHello(0x0301, 0xc014);
    let (error, seen) = check(tls10, tls10).await;
    assert_legacy(&error, &["only TLS 1.0,", "(it chose TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA)"]);
    assert_eq!((seen.rustls.load(Ordering::SeqCst), seen.probes.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_protocol_version_alert_then_tls_1_1() {
    let (error, _) = check(Say::Alert(70), Say::ServerHello(0x0302, 0x002f)).await;
    assert_legacy(&error, &["only TLS 1.1,", "TLS_RSA_WITH_AES_128_CBC_SHA"]);
}

#[tokio::test(start_paused = true)]
async fn tls_1_2_suites_rustls_lacks_are_named() {
    let cases: [(u16, &[&str]); 5] = [
        (0xc013, &["only TLS 1.2 with CBC ciphers,", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]),
        (0x009c, &["only TLS 1.2 with RSA key exchange,", "TLS_RSA_WITH_AES_128_GCM_SHA256"]),
        (0x0035, &["only TLS 1.2 with RSA key exchange and CBC ciphers,", "TLS_RSA_WITH_AES_256_CBC_SHA"]),
        (0x009e, &["only TLS 1.2 with DHE key exchange,", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]),
        (0x000a, &["only TLS 1.2 with 3DES,", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]),
    ];
    for (suite, words) in cases {
        let (error, seen) = check(HANDSHAKE_FAILURE, Say::ServerHello(0x0303, suite)).await;
        assert_legacy(&error, words);
        assert_eq!(seen.probes.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_that_closes_or_resets_on_our_hello_is_probed_too() {
    let (error, _) = check(Say::Close, Say::ServerHello(0x0301, 0x0005)).await;
    assert_legacy(&error, &["only TLS 1.0,", "TLS_RSA_WITH_RC4_128_SHA"]);
    let (error, _) = check(Say::Reset, Say::ServerHello(0x0303, 0x0004)).await;
    assert_legacy(&error, &["only TLS 1.2 with RC4,", "TLS_RSA_WITH_RC4_128_MD5"]);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_refuses_every_hello_keeps_its_alert() {
    // SNI-strict hosts, client-certificate servers: an alert to the probe too.
    for alert in [40, 112] {
        let (error, seen) = check(Say::Alert(alert), Say::Alert(alert)).await;
        assert_eq!(error.tls_cause(), Some(TlsCause::HandshakeAlert), "{error}");
        assert!(error.to_string().starts_with("server refused the handshake"), "{error}");
        assert_eq!(seen.probes.load(Ordering::SeqCst), 1, "one probe, no more");
    }
}

#[tokio::test(start_paused = true)]
async fn a_pick_rustls_could_make_proves_nothing() {
    let (error, _) = check(HANDSHAKE_FAILURE, Say::ServerHello(0x0303, 0xc02f)).await;
    assert_eq!(error.tls_cause(), Some(TlsCause::HandshakeAlert), "{error}");
    assert_eq!(error.to_string(), "server refused the handshake: handshake failure");
    // A suite the probe never offered, and a reply that is not TLS.
    for answer in [Say::ServerHello(0x0303, 0x1301), Say::Text(b"HTTP/1.1 400 Bad Request\r\n\r\n"), Say::Close] {
        let (error, _) = check(HANDSHAKE_FAILURE, answer).await;
        assert_eq!(error.tls_cause(), Some(TlsCause::HandshakeAlert), "{answer:?}: {error}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_probe_keeps_the_handshake_error_within_the_deadline() {
    let (address, seen) = legacy_server(HANDSHAKE_FAILURE, Say::Silence).await;
    let started = tokio::time::Instant::now();
    let options = Options::default().timeout(Duration::from_secs(7));
    let error = check_with(options, &https(address)).await;
    assert_eq!(error.tls_cause(), Some(TlsCause::HandshakeAlert), "not a timeout: {error}");
    assert_eq!(started.elapsed(), Duration::from_secs(7), "the probe ends at the check's deadline");
    assert_eq!(seen.probes.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_probe_asks_for_the_host_name_and_none_for_an_ip() {
    let tls10 = Say::ServerHello(0x0301, 0x002f);
    let (address, seen) = legacy_server(tls10, tls10).await;
    let pin: Pin = format!("old.test:{}:127.0.0.1", address.port()).parse().unwrap();
    let url = Url::parse(&format!("https://old.test:{}/", address.port())).unwrap();
    let error = check_with(Options::default().resolve(vec![pin]), &url).await;
    assert_legacy(&error, &["TLS 1.0"]);
    check_with(Options::default(), &https(address)).await;
    assert_eq!(*seen.probe_names.lock().unwrap(), [Some("old.test".to_owned()), None]);
}

/// A tokio CONNECT proxy to 127.0.0.1, counting the tunnels it opens.
async fn connect_proxy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && client.read_exact(&mut byte).await.is_ok() {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let Some(port) = head.split(' ').nth(1).and_then(|a| a.rsplit(':').next()?.parse::<u16>().ok()) else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (address, tunnels)
}

#[tokio::test(start_paused = true)]
async fn through_a_proxy_the_probe_opens_a_tunnel_of_its_own() {
    let (origin, seen) = legacy_server(HANDSHAKE_FAILURE, Say::ServerHello(0x0303, 0xc027)).await;
    let (proxy, tunnels) = connect_proxy().await;
    let proxies = Proxies::new(Some(&format!("http://{proxy}")), |_| None).unwrap();
    let error = check_with(Options::default().proxies(proxies), &https(origin)).await;
    assert_legacy(&error, &["CBC ciphers", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"]);
    assert_eq!(tunnels.load(Ordering::SeqCst), 2, "the check's tunnel and the probe's");
    assert_eq!(seen.probes.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_certificate_failure_is_never_probed() {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
    let config = common::server_config_for(vec![made.cert.der().clone()], key);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = acceptor.accept(stream).await;
        }
    });
    let error = check_with(Options::default(), &https(address)).await;
    assert_eq!(error.tls_cause(), Some(TlsCause::UnknownIssuer), "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no probe after a certificate failure");
}

/// `legacy_server` in a runtime of its own, for the binary to check.
fn background_server(to_rustls: Say, to_probe: Say) -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let (address, _) = legacy_server(to_rustls, to_probe).await;
            sender.send(address).unwrap();
            std::future::pending::<()>().await
        })
    });
    receiver.recv().unwrap()
}

#[test]
fn the_binary_reports_legacy_only_in_json_and_the_summary() {
    let address = background_server(HANDSHAKE_FAILURE, Say::ServerHello(0x0301, 0x0035));
    let run = common::run(&["--format", "json", "--summary-json", "-u", &format!("https://{address}/")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let record = run.record();
    let error = &record["error"];
    assert_eq!((error["kind"].as_str(), error["cause"].as_str()), (Some("tls"), Some("legacy-only")), "{record}");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("server offers only TLS 1.0, which is no longer safe"), "{message}");
    let summary: serde_json::Value = run.stderr.lines().find_map(|line| serde_json::from_str(line).ok()).unwrap();
    assert_eq!(summary["tls_causes"]["legacy-only"], 1, "{summary}");
}
