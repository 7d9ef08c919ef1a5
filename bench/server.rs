//! benchserver: the local HTTP + HTTPS server that `bench/run` measures the
//! clients against. Loopback only; stops by itself after `--max-seconds`.
//!
//! At start it makes a CA and an ECDSA P-256 leaf certificate for
//! `*.bench.test`, `localhost` and 127.0.0.1 with rcgen, writes the CA to the
//! `--ca-file` path so that every client can trust it, opens one HTTP and one
//! HTTPS listener on each `--addr` (backlog 4096), and prints
//! `ready http=PORT https=PORT` on stdout.
//!
//! Each connection carries one request. Its path picks the answer:
//! `/delay/200/status/301` waits 200 ms, then answers
//! `HTTP/1.1 301 Moved Permanently` with `Content-Length: 0` and
//! `Connection: close`; both parts are optional (default: no delay, 200).
//! After the answer the server half-closes (TLS close_notify, then FIN) and
//! waits up to a second for the client's end before dropping the socket.
//!
//! TLS session resumption is off by default, so every HTTPS check pays a
//! full handshake, as it would against many different sites. With
//! `--tickets` the server issues stateless session tickets (rustls'
//! `Ticketer`, two after each handshake), as nginx does by default, so a
//! client that checks a host again can resume.
//!
//! On SIGTERM or SIGINT it prints its counters on stderr and exits.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::NoServerSessionStorage;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

/// The largest request head read; more is answered with 431.
const MAX_HEAD: usize = 8 * 1024;
/// The longest delay a path may ask for.
const MAX_DELAY_MS: u64 = 60_000;
/// How long a client gets to send its request, and to close after the answer.
const READ_LIMIT: Duration = Duration::from_secs(10);
const LINGER_LIMIT: Duration = Duration::from_secs(1);

#[derive(Debug, Parser)]
#[command(name = "benchserver", about = "Local HTTP/HTTPS server for bench/run")]
struct Args {
    /// Where to write the PEM of the CA that signed the server certificate
    #[arg(long, value_name = "FILE")]
    ca_file: PathBuf,

    /// Loopback addresses to listen on (each gets both listeners)
    #[arg(long = "addr", value_name = "IP", default_value = "127.0.0.1")]
    addrs: Vec<IpAddr>,

    /// HTTP port (0: any free port; the same port is then used on every --addr)
    #[arg(long, default_value_t = 0)]
    http_port: u16,

    /// HTTPS port (0: any free port)
    #[arg(long, default_value_t = 0)]
    https_port: u16,

    /// Worker threads of the runtime (0: one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,

    /// Exit after this many seconds whatever happens
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,

    /// Issue stateless TLS session tickets, so that clients can resume
    #[arg(long)]
    tickets: bool,
}

/// What the server has done, printed at exit.
#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    answered: AtomicU64,
    tls_failed: AtomicU64,
    bad_requests: AtomicU64,
    io_errors: AtomicU64,
    accept_errors: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "benchserver: accepted={} answered={} tls_failed={} bad_requests={} io_errors={} accept_errors={}",
            get(&self.accepted),
            get(&self.answered),
            get(&self.tls_failed),
            get(&self.bad_requests),
            get(&self.io_errors),
            get(&self.accept_errors),
        )
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for addr in &args.addrs {
        if !addr.is_loopback() {
            bail!("--addr {addr} is not a loopback address; this server listens on loopback only");
        }
    }
    raise_fd_limit();
    let tls = tls_config(&args)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        runtime.worker_threads(args.threads);
    }
    runtime.enable_all().build()?.block_on(serve(args, tls))
}

/// Makes the CA and the leaf, writes the CA PEM, and returns the TLS setup.
fn tls_config(args: &Args) -> anyhow::Result<Arc<ServerConfig>> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "statuscheck bench CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca.self_signed(&ca_key)?;

    let leaf_key = KeyPair::generate()?;
    let mut names: Vec<String> = vec!["*.bench.test".into(), "localhost".into()];
    names.extend(args.addrs.iter().map(IpAddr::to_string));
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name.push(DnType::CommonName, "statuscheck bench server");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key)?;

    std::fs::write(&args.ca_file, ca.pem()).with_context(|| format!("writing the CA to {}", args.ca_file.display()))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session IDs, whose cache (256 sessions by default) a list of many
    // hosts would overrun; tickets only when asked for.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    if args.tickets {
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    } else {
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

async fn serve(args: Args, tls: Arc<ServerConfig>) -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let acceptor = TlsAcceptor::from(tls);

    let mut http_port = args.http_port;
    let mut https_port = args.https_port;
    let mut listeners = Vec::new();
    for &ip in &args.addrs {
        let http = listen(SocketAddr::new(ip, http_port))?;
        http_port = http.local_addr()?.port();
        let https = listen(SocketAddr::new(ip, https_port))?;
        https_port = https.local_addr()?.port();
        listeners.push((http, None));
        listeners.push((https, Some(acceptor.clone())));
    }
    for (listener, acceptor) in listeners {
        tokio::spawn(accept_loop(listener, acceptor, counters.clone()));
    }

    println!("ready http={http_port} https={https_port}");
    use std::io::Write;
    std::io::stdout().flush()?;

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => {
            eprintln!("benchserver: --max-seconds {} reached, stopping", args.max_seconds);
        }
    }
    eprintln!("{}", counters.line());
    Ok(())
}

/// A listener with a deep accept queue (the kernel caps it at somaxconn).
fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr).with_context(|| format!("binding {addr}"))?;
    Ok(socket.listen(4096)?)
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, counters: Arc<Counters>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of descriptors or the like: back off briefly.
                Counters::add(&counters.accept_errors);
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        Counters::add(&counters.accepted);
        let _ = stream.set_nodelay(true);
        let counters = counters.clone();
        match &tls {
            None => {
                tokio::spawn(async move { answer(stream, &counters).await });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                tokio::spawn(async move {
                    match timeout(READ_LIMIT, handshake).await {
                        Ok(Ok(stream)) => answer(stream, &counters).await,
                        _ => Counters::add(&counters.tls_failed),
                    }
                });
            }
        }
    }
}

/// Reads one request head, waits as asked, answers, and closes.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, counters: &Counters) {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 2048];
    let complete = loop {
        let n = match timeout(READ_LIMIT, stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            _ => 0,
        };
        if n == 0 {
            break false;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() >= MAX_HEAD {
            break false;
        }
    };
    let (delay, code) = match (complete, parse_request(&head)) {
        (true, Some(asked)) => asked,
        (true, None) => {
            Counters::add(&counters.bad_requests);
            (0, 400)
        }
        (false, _) if head.len() >= MAX_HEAD => {
            Counters::add(&counters.bad_requests);
            (0, 431)
        }
        (false, _) => {
            // The client left (or stalled) before sending a whole request.
            Counters::add(&counters.io_errors);
            return;
        }
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let response = format!("HTTP/1.1 {code} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", reason(code));
    let written = async {
        stream.write_all(response.as_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await
    };
    if timeout(READ_LIMIT, written).await.is_ok_and(|r| r.is_ok()) {
        Counters::add(&counters.answered);
    } else {
        Counters::add(&counters.io_errors);
        return;
    }
    // Lingering close: let the client's close arrive before we drop, so
    // unread bytes don't turn our close into a reset.
    let _ = timeout(LINGER_LIMIT, async {
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// `GET /delay/MS/status/CODE HTTP/1.1` → (MS, CODE); either part optional.
fn parse_request(head: &[u8]) -> Option<(u64, u16)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut words = line.split(' ');
    let (method, target) = (words.next()?, words.next()?);
    if !matches!(method, "GET" | "HEAD") {
        return None;
    }
    let path = target.split(['?', '#']).next()?;
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let (mut delay, mut code) = (0u64, 200u16);
    while let Some(key) = parts.next() {
        let value = parts.next()?;
        match key {
            "delay" => delay = value.parse().ok().filter(|&d| d <= MAX_DELAY_MS)?,
            "status" => code = value.parse().ok().filter(|c| (200..=599).contains(c))?,
            _ => return None,
        }
    }
    Some((delay, code))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Soft RLIMIT_NOFILE up to the hard limit: each connection is a descriptor.
#[allow(unsafe_code)]
fn raise_fd_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 && limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the struct we pass.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}
