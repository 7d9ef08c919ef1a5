//! The engine, driven in process through the library's public API, against
//! tokio servers on 127.0.0.1 in the same runtime. Every deadline test runs
//! on tokio's paused clock, so both sides' sleeps and the engine's deadlines
//! advance together and a 10 s timeout costs no real time.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use statuscheck::{CheckError, Checked, Checker, ErrorKind, Limits, Options, Phase, Pin, Runner, Target};
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
    serve_on("127.0.0.1:0", handler).await
}

async fn serve_on<F, Fut>(address: &str, handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(address).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    address
}

/// Reads the request head.
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// A server that answers `200 OK` at once.
async fn ok_server() -> SocketAddr {
    serve(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    })
    .await
}

fn url(address: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{address}{path}")).unwrap()
}

fn checker(options: Options) -> Checker {
    Checker::new(options).unwrap()
}

fn timeout_of(outcome: &Result<statuscheck::Response, CheckError>) -> (Phase, Duration, String) {
    match outcome {
        Err(error @ CheckError::Timeout { phase, limit }) => (*phase, *limit, error.to_string()),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// A listener on `ip` whose accept queue is full: further SYNs are dropped,
/// so a connection attempt to it hangs.
fn dead_listener(ip: &str) -> (std::net::TcpListener, std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    // SAFETY: a second listen() on our own listening socket only sets its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let filler = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (listener, filler)
}

#[tokio::test(start_paused = true)]
async fn a_trickling_status_line_hits_the_whole_check_deadline() {
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        for byte in b"HTTP/1.1 200 OK\r\n".iter().cycle().take(200) {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            sleep(Duration::from_millis(150)).await;
        }
    })
    .await;
    let started = Instant::now();
    let answer = checker(Options::default().timeout(Duration::from_secs(1))).check(&url(server, "/")).await;
    let (phase, limit, message) = timeout_of(&answer.outcome);
    assert_eq!((phase, limit, message.as_str()), (Phase::Read, Duration::from_secs(1), "no status line after 1s"));
    assert_eq!(started.elapsed(), Duration::from_secs(1), "the deadline, to the millisecond");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_hits_the_read_deadline() {
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let answer = checker(Options::default().timeout(Duration::from_secs(10))).check(&url(server, "/")).await;
    let (phase, limit, message) = timeout_of(&answer.outcome);
    assert_eq!((phase, limit, message.as_str()), (Phase::Read, Duration::from_secs(10), "no status line after 10s"));
    assert!(answer.trace.connect.is_some() && answer.trace.ttfb.is_none(), "{:?}", answer.trace);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_tls_handshake_times_out_in_the_tls_phase() {
    let server = serve(|stream| async move {
        sleep(Duration::from_secs(3600)).await;
        drop(stream);
    })
    .await;
    let https = Url::parse(&format!("https://{server}/")).unwrap();
    let answer = checker(Options::default().timeout(Duration::from_secs(1))).check(&https).await;
    let (phase, _, message) = timeout_of(&answer.outcome);
    assert_eq!((phase, message.as_str()), (Phase::Tls, "TLS handshake not done after 1s"));
}

/// 1xx answers that keep coming slowly never make a final answer: the
/// whole-check deadline ends the check.
#[tokio::test(start_paused = true)]
async fn interim_responses_forever_hit_the_deadline() {
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        loop {
            if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let started = Instant::now();
    let answer = checker(Options::default().timeout(Duration::from_secs(2))).check(&url(server, "/")).await;
    let (phase, limit, message) = timeout_of(&answer.outcome);
    assert_eq!((phase, limit, message.as_str()), (Phase::Read, Duration::from_secs(2), "no status line after 2s"));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_hangs_ends_at_the_connect_timeout_and_names_it() {
    let (dead, _filler) = dead_listener("127.0.0.2");
    let port = dead.local_addr().unwrap().port();
    let pin: Pin = format!("dead.test:{port}:127.0.0.2").parse().unwrap();
    let options = Options::default()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_millis(500))
        .resolve(vec![pin]);
    let started = Instant::now();
    let answer = checker(options).check(&Url::parse(&format!("http://dead.test:{port}/")).unwrap()).await;
    let (phase, limit, message) = timeout_of(&answer.outcome);
    assert_eq!(
        (phase, limit, message.as_str()),
        (Phase::Connect, Duration::from_millis(500), "no connection after 500ms")
    );
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn happy_eyeballs_tries_the_next_address_after_the_attempt_delay() {
    // A dead address and a live one on the same port, so one pin names both.
    let (dead, live, _filler) = loop {
        let (dead, filler) = dead_listener("127.0.0.2");
        let port = dead.local_addr().unwrap().port();
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            break (dead, listener, filler);
        }
    };
    let port = dead.local_addr().unwrap().port();
    let live_address = live.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = live.accept().await {
            read_head(&mut stream).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
        }
    });
    let pin: Pin = format!("dual.test:{port}:127.0.0.2,127.0.0.1").parse().unwrap();
    let options = Options::default().connect_timeout(Duration::from_secs(5)).resolve(vec![pin]);
    let answer = checker(options).check(&Url::parse(&format!("http://dual.test:{port}/")).unwrap()).await;
    assert_eq!(answer.outcome.map(|r| r.code), Ok(200));
    assert_eq!(answer.trace.address, Some(live_address));
    assert_eq!(answer.trace.connect, Some(Duration::from_millis(250)), "the attempt delay, not the connect timeout");
}

/// A port nothing listens on.
async fn refused() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried_with_backoff() {
    let address = refused().await;
    let runner = Runner::new(checker(Options::default()), Limits::default().retries(3));
    let mut results = runner.check_all([url(address, "/")]);
    let checked = results.next().await.unwrap();
    assert_eq!(checked.outcome.as_ref().unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(checked.attempts, 4);
    // Backoffs of 250, 500 and 1000 ms, each between half and all of it.
    assert!(checked.elapsed >= Duration::from_millis(875), "{:?}", checked.elapsed);
    assert!(checked.elapsed <= Duration::from_millis(1750), "{:?}", checked.elapsed);
    assert!(results.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_its_maximum() {
    let server = serve(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 503 Busy\r\nRetry-After: 600\r\n\r\n").await;
    })
    .await;
    let limits = Limits::default().retries(2).retry_after_max(Duration::from_secs(3));
    let runner = Runner::new(checker(Options::default()), limits);
    let checked = runner.check_all([url(server, "/")]).next().await.unwrap();
    assert_eq!((checked.outcome.unwrap().code, checked.attempts), (503, 3));
    assert_eq!(checked.elapsed, Duration::from_secs(6), "two waits of the capped 3 s");
}

#[tokio::test(start_paused = true)]
async fn rate_spaces_the_starts() {
    let server = ok_server().await;
    let runner = Runner::new(checker(Options::default()), Limits::default().rate(Some(10.0)));
    let started = Instant::now();
    let mut results = runner.check_all((0..5).map(move |i| url(server, &format!("/{i}"))));
    let mut done = Vec::new();
    while let Some(checked) = results.next().await {
        done.push(started.elapsed());
        assert_eq!(checked.outcome.unwrap().code, 200);
    }
    assert_eq!(done.len(), 5);
    assert_eq!(*done.last().unwrap(), Duration::from_millis(400), "five starts 100 ms apart: {done:?}");
}

/// A server that answers `/N` after N seconds.
async fn slow_server() -> SocketAddr {
    serve(|mut stream| async move {
        let mut head = [0u8; 1024];
        let n = stream.read(&mut head).await.unwrap_or(0);
        let path = String::from_utf8_lossy(&head[..n]).split(' ').nth(1).unwrap_or("/0").to_owned();
        let seconds = path.trim_start_matches('/').parse::<u64>().unwrap_or(0);
        sleep(Duration::from_secs(seconds)).await;
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn ordered_results_come_in_input_order() {
    let server = slow_server().await;
    let runner = Runner::new(checker(Options::default()), Limits::default().ordered(true).per_host(10));
    let urls: Vec<Url> = [3, 1, 2, 0].iter().map(|s| url(server, &format!("/{s}"))).collect();
    let mut results = runner.check_all(urls.clone());
    let mut got = Vec::new();
    while let Some(checked) = results.next().await {
        got.push(checked.target);
    }
    assert_eq!(got, urls);
}

#[tokio::test(start_paused = true)]
async fn stop_hands_over_what_is_done_and_cancels_the_rest() {
    let server = slow_server().await;
    let runner =
        Runner::new(checker(Options::default().timeout(Duration::from_secs(100))), Limits::default().ordered(true));
    // In order: /50 holds back /0 and /1, which are done at once.
    let mut results = runner.check_all(["/50", "/0", "/1"].map(|p| url(server, p)));
    sleep(Duration::from_secs(5)).await;
    results.stop();
    let mut got = Vec::new();
    while let Some(checked) = results.next().await {
        got.push(checked.target.path().to_owned());
    }
    assert_eq!(got, ["/0", "/1"], "the held results, none for the check cancelled");
    assert_eq!(results.held_back(), Some(Duration::ZERO));
}

/// A caller's own target type: rows with an id, some without a URL.
struct Row {
    id: u32,
    url: Result<Url, String>,
}

impl Target for Row {
    type Parked = Row;
    fn url(&self) -> Result<&Url, &str> {
        self.url.as_ref().map_err(String::as_str)
    }
    fn park(self) -> Row {
        self
    }
    fn unpark(row: Row) -> Row {
        row
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_of_the_callers_targets_comes_back_with_them() {
    let server = ok_server().await;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let runner = Runner::new(checker(Options::default()), Limits::default().per_host(1).dedupe(true));
    let mut results = runner.stream(receiver);
    tokio::spawn(async move {
        for id in 0..6 {
            let url = if id == 3 { Err("no URL in row 3".to_owned()) } else { Ok(url(server, "/same")) };
            sender.send(Row { id, url }).await.unwrap();
        }
    });
    let mut got: Vec<Checked<Row>> = Vec::new();
    while let Some(checked) = results.next().await {
        got.push(checked);
    }
    got.sort_by_key(|c| c.target.id);
    assert_eq!(got.iter().map(|c| c.target.id).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    for checked in &got {
        match checked.target.id {
            3 => assert_eq!(checked.outcome, Err(CheckError::InvalidUrl("no URL in row 3".into()))),
            _ => assert_eq!(checked.outcome.as_ref().map(|r| r.code), Ok(200)),
        }
    }
    assert_eq!(results.received(), 6);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_results_cancels_the_checks() {
    let (closed, mut hung_up) = tokio::sync::mpsc::channel::<()>(1);
    let server = serve(move |mut stream| {
        let closed = closed.clone();
        async move {
            read_head(&mut stream).await;
            // Never answers; learns when the client hangs up (it closes
            // with a reset, which reads as an error; a FIN would read as 0).
            let mut byte = [0u8; 1];
            if let Ok(0) | Err(_) = stream.read(&mut byte).await {
                let _ = closed.send(()).await;
            }
        }
    })
    .await;
    let runner = Runner::new(checker(Options::default().timeout(Duration::from_secs(3600))), Limits::default());
    let results = runner.check_all([url(server, "/")]);
    sleep(Duration::from_secs(1)).await;
    drop(results);
    let started = Instant::now();
    hung_up.recv().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "the check was cancelled, not timed out");
}

/// A URL that notes the threads it is asked for its URL on: the runner asks
/// in its own task, and each check asks first thing in its task.
struct Traced {
    url: Url,
    threads: Arc<Mutex<HashSet<ThreadId>>>,
}

impl Target for Traced {
    type Parked = Traced;
    fn url(&self) -> Result<&Url, &str> {
        self.threads.lock().unwrap().insert(std::thread::current().id());
        Ok(&self.url)
    }
    fn park(self) -> Traced {
        self
    }
    fn unpark(parked: Traced) -> Traced {
        parked
    }
}

/// With the runner's runtime kept busy (a task that never lets it rest),
/// checks spill to the runtime given to `spill_to`, on a thread of its own,
/// and every result still comes back, right.
#[test]
fn checks_spill_to_another_runtime_when_home_is_busy() {
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (home, other) = (runtime(), runtime());
    let spill = vec![other.handle().clone()];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::spawn(move || other.block_on(stopped));
    let threads = Arc::default();
    let checked = home.block_on(async {
        let server = ok_server().await;
        let busy = tokio::spawn(async {
            loop {
                let slice = std::time::Instant::now();
                while slice.elapsed() < Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
                tokio::task::yield_now().await;
            }
        });
        let runner = Runner::new(checker(Options::default()), Limits::default().concurrency(20)).spill_to(spill);
        let targets: Vec<Traced> =
            (0..200).map(|i| Traced { url: url(server, &format!("/{i}")), threads: Arc::clone(&threads) }).collect();
        let mut results = runner.check_all(targets);
        let mut codes = Vec::new();
        while let Some(checked) = results.next().await {
            codes.push(checked.outcome.map(|r| r.code).map_err(|e| e.to_string()));
        }
        busy.abort();
        codes
    });
    let other_thread = driver.thread().id();
    let _ = stop.send(());
    driver.join().unwrap().unwrap();
    assert_eq!(checked.len(), 200);
    assert!(checked.iter().all(|code| code == &Ok(200)), "{checked:?}");
    let threads = threads.lock().unwrap();
    assert!(threads.contains(&other_thread), "no check ran on the other runtime: {threads:?}");
}
