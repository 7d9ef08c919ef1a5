//! TLS across checks of one run: a host checked again resumes its session
//! and still reports the certificate (and the earliest expiry of the chain)
//! that the full handshake verified; each `--watch` round starts afresh, so
//! a certificate changed between rounds is seen.

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rustls::server::StoresServerSessions;
use rustls::HandshakeKind;
use statuscheck::{Checker, Options};

/// A `localhost` HTTPS server whose certificate can be changed while it
/// runs, keeping its session cache, and that counts full and resumed
/// handshakes.
struct Counting {
    server: Server,
    config: Arc<Mutex<Arc<rustls::ServerConfig>>>,
    sessions: Arc<dyn StoresServerSessions>,
    full: Arc<AtomicUsize>,
    resumed: Arc<AtomicUsize>,
}

impl Counting {
    fn new(config: Arc<rustls::ServerConfig>) -> Counting {
        let sessions = config.session_storage.clone();
        let config = Arc::new(Mutex::new(config));
        let (full, resumed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (current, counts) = (config.clone(), (full.clone(), resumed.clone()));
        let server = serve(move |mut tcp| {
            let config = current.lock().unwrap().clone();
            let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), &mut tcp);
            if read_head(&mut tls).is_empty() {
                return;
            }
            match tls.conn.handshake_kind() {
                Some(HandshakeKind::Resumed) => counts.1.fetch_add(1, Ordering::SeqCst),
                _ => counts.0.fetch_add(1, Ordering::SeqCst),
            };
            use std::io::Write;
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        Counting { server, config, sessions, full, resumed }
    }

    /// From now on, present `config`'s certificate, resuming the sessions
    /// of the one before.
    fn present(&self, config: Arc<rustls::ServerConfig>) {
        let mut config = (*config).clone();
        config.session_storage = self.sessions.clone();
        *self.config.lock().unwrap() = Arc::new(config);
    }

    /// (full, resumed) handshakes so far.
    fn handshakes(&self) -> (usize, usize) {
        (self.full.load(Ordering::SeqCst), self.resumed.load(Ordering::SeqCst))
    }

    fn url(&self) -> url::Url {
        self.server.https_url("localhost", "/").parse().unwrap()
    }
}

/// (leaf subject, leaf notAfter, earliest-expiring subject, its notAfter).
async fn certificates(checker: &Checker, url: &url::Url) -> (String, i64, String, i64) {
    let answer = checker.check(url).await;
    assert_eq!(answer.outcome.as_ref().map(|r| r.code).ok(), Some(200), "{:?}", answer.outcome);
    let session = answer.trace.tls_session.expect("an https check has a TLS session");
    let (leaf, earliest) = (session.certificate.unwrap(), session.earliest_expiry.unwrap());
    (leaf.subject, leaf.not_after, earliest.subject, earliest.not_after)
}

fn checker(root: &Ca) -> Checker {
    Checker::new(Options::default().cacert(Some(root.pem.clone())).certificates(true)).unwrap()
}

#[tokio::test]
async fn a_resumed_session_reports_the_certificate_of_the_full_handshake() {
    // The intermediate expires before the leaf: the earliest expiry must
    // still be the intermediate's when the chain is not sent again.
    let root = Ca::new();
    let intermediate = root.intermediate("statuscheck test intermediate", 20);
    let server = Counting::new(intermediate.server_config_expiring(60));
    let checker = checker(&root);
    let first = certificates(&checker, &server.url()).await;
    assert_eq!(server.handshakes(), (1, 0));
    assert_eq!((first.0.as_str(), first.2.as_str()), ("CN=localhost", "CN=statuscheck test intermediate"));
    assert_eq!(first.3, intermediate.not_after());
    for round in 1..=3 {
        assert_eq!(certificates(&checker, &server.url()).await, first, "resumed check {round}");
        assert_eq!(server.handshakes(), (1, round), "every later check resumes");
    }
}

#[tokio::test]
async fn a_new_round_does_a_full_handshake_and_sees_a_changed_certificate() {
    let root = Ca::new();
    let server = Counting::new(root.server_config_expiring(30));
    let checker = checker(&root);
    let before = certificates(&checker, &server.url()).await;
    server.present(root.server_config_expiring(90));
    // Within a round a resumed session stands for the certificate verified
    // at its full handshake: the new one is not seen yet.
    assert_eq!(certificates(&checker, &server.url()).await, before);
    assert_eq!(server.handshakes(), (1, 1));
    checker.new_round();
    let after = certificates(&checker, &server.url()).await;
    assert_eq!(server.handshakes(), (2, 1), "the new round's handshake is a full one");
    assert!(after.1 > before.1 + 50 * 86_400, "the new leaf's date: {after:?} after {before:?}");
    assert_eq!(after.3, after.1);
}

#[test]
fn every_watch_round_starts_with_a_full_handshake() {
    let root = Ca::new();
    let server = Counting::new(root.server_config_expiring(30));
    let url = server.url().to_string();
    let mut child = statuscheck()
        .args(["--watch", "100ms", "--format", "json", "--cacert", root.pem.to_str().unwrap(), "-u", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.handshakes().0 + server.handshakes().1 < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    let (full, resumed) = server.handshakes();
    assert!(full >= 3, "three rounds or more: {full} full, {resumed} resumed");
    assert_eq!(resumed, 0, "no round resumed the session of the round before");
}
