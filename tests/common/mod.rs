//! Test servers and helpers shared by the end-to-end tests.
//!
//! Every server binds `127.0.0.1:0` (or `[::1]:0`) in a thread of its own and
//! lives until the test process ends. Connections get a thread each: blocking
//! code makes each misbehaviour easy to read. Certificates are made at test
//! time with rcgen. Nothing here touches the internet or a fixed port.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What a server does with each accepted connection.
pub type Handler = Arc<dyn Fn(TcpStream) + Send + Sync>;

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    /// Every request head the server read, in arrival order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.addr.port())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Starts a server on `bind` that gives each connection to `handler`.
pub fn serve_on(bind: &str, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind(bind).expect("bind test server");
    let addr = listener.local_addr().expect("local addr");
    let handler: Handler = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            thread::spawn(move || handler(stream));
        }
    });
    Server { addr, requests: Arc::new(Mutex::new(Vec::new())) }
}

pub fn serve(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
    serve_on("127.0.0.1:0", handler)
}

/// Reads a request head (up to the blank line, at most 64 KiB).
pub fn read_head(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The status line the well-behaved server answers for `path`:
/// `/status/404` (query ignored) → 404, anything else → 200.
pub fn status_for(head: &str) -> u16 {
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target);
    path.strip_prefix("/status/").and_then(|c| c.parse().ok()).unwrap_or(200)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn answer(stream: &mut impl Write, head: &str) {
    let code = status_for(head);
    let response = format!("HTTP/1.1 {code} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", reason(code));
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// A well-behaved HTTP server that records requests and answers by path.
pub fn http_server() -> Server {
    http_server_on("127.0.0.1:0")
}

pub fn http_server_on(bind: &str) -> Server {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let mut server = serve_on(bind, move |mut stream| {
        let head = read_head(&mut stream);
        seen.lock().unwrap().push(head.clone());
        answer(&mut stream, &head);
    });
    server.requests = requests;
    server
}

/// A server that sends `bytes` after reading the request, then closes.
pub fn raw_server(bytes: &'static [u8]) -> Server {
    serve(move |mut stream| {
        read_head(&mut stream);
        let _ = stream.write_all(bytes);
    })
}

/// Makes the next `close` of this socket send a reset instead of a FIN.
pub fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt reads `linger`, which lives across the call.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A test CA and the PEM file clients pass as `--cacert`.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// The root's PEM, also for an intermediate (clients trust the root only).
    pub pem: PathBuf,
    /// What a server sends after a leaf of this CA: the intermediates.
    chain: Vec<CertificateDer<'static>>,
}

/// How a leaf certificate should be made.
pub struct Leaf<'a> {
    pub names: &'a [&'a str],
    pub expired: bool,
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A file path unique to this test process and call, under cargo's tmp dir.
pub fn temp_path(name: &str) -> PathBuf {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("t{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn write_file(name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `days` days and 12 hours from now (the half day keeps "days left" off a
/// boundary while a test runs).
pub fn days_from_now(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days) + time::Duration::hours(12)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

impl Ca {
    pub fn new() -> Ca {
        Ca::root("statuscheck test CA", ca_params("statuscheck test CA"))
    }

    /// A self-signed CA named `name` that expires in `days` days.
    pub fn expiring(name: &str, days: i64) -> Ca {
        let mut params = ca_params(name);
        params.not_after = days_from_now(days);
        Ca::root(name, params)
    }

    fn root(name: &str, params: CertificateParams) -> Ca {
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = write_file(&format!("{name}.pem"), cert.pem());
        Ca { cert, key, pem, chain: Vec::new() }
    }

    /// An intermediate CA named `name` under this one, expiring in `days`
    /// days; servers send it after the leaves it signs.
    pub fn intermediate(&self, name: &str, days: i64) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = ca_params(name);
        params.not_after = days_from_now(days);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let mut chain = vec![CertificateDer::from(cert.der().to_vec())];
        chain.extend(self.chain.iter().cloned());
        Ca { cert, key, pem: self.pem.clone(), chain }
    }

    /// This CA's own certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.cert.der().to_vec())
    }

    /// This CA's certificate's notAfter, as a Unix time.
    pub fn not_after(&self) -> i64 {
        self.cert.params().not_after.unix_timestamp()
    }

    /// A leaf for `localhost` that expires `days` days and 12 hours from now
    /// (the half day keeps "days left" off a boundary while a test runs).
    pub fn server_config_expiring(&self, days: i64) -> Arc<rustls::ServerConfig> {
        self.server_config_expiring_with(days, Vec::new())
    }

    /// As `server_config_expiring`, sending `extra` after the chain.
    pub fn server_config_expiring_with(
        &self,
        days: i64,
        extra: Vec<CertificateDer<'static>>,
    ) -> Arc<rustls::ServerConfig> {
        let not_after = days_from_now(days);
        self.leaf_config(&["localhost"], extra, |params| params.not_after = not_after)
    }

    /// A rustls server configuration for a leaf signed by this CA.
    pub fn server_config(&self, leaf: Leaf) -> Arc<rustls::ServerConfig> {
        let expired = leaf.expired;
        self.leaf_config(leaf.names, Vec::new(), |params| {
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
        })
    }

    fn leaf_config(
        &self,
        names: &[&str],
        extra: Vec<CertificateDer<'static>>,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        // No names: a common name of `localhost` and no subjectAltName.
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            })
            .collect();
        adjust(&mut params);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let mut chain = vec![CertificateDer::from(cert.der().to_vec())];
        chain.extend(self.chain.iter().cloned());
        chain.extend(extra);
        server_config_for(chain, PrivateKeyDer::Pkcs8(key.serialize_der().into()))
    }
}

/// A rustls server configuration that sends `chain` and signs with `key`.
pub fn server_config_for(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// An HTTPS server answering by path, with a leaf for `leaf.names`.
pub fn https_server(ca: &Ca, leaf: Leaf) -> Server {
    tls_server(ca.server_config(leaf))
}

/// An HTTPS server for `localhost` whose certificate expires in `days` days.
pub fn expiring_server(ca: &Ca, days: i64) -> Server {
    tls_server(ca.server_config_expiring(days))
}

/// As `expiring_server`, also sending `extra` after the chain.
pub fn expiring_server_with(ca: &Ca, days: i64, extra: Vec<CertificateDer<'static>>) -> Server {
    tls_server(ca.server_config_expiring_with(days, extra))
}

/// An HTTPS server answering by path, with this configuration.
pub fn tls_server(config: Arc<rustls::ServerConfig>) -> Server {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let mut server = serve(move |mut tcp| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
        let head = read_head(&mut tls);
        if head.is_empty() {
            // Handshake failed: send the alert rustls queued, then close.
            let _ = tls.conn.write_tls(&mut tls.sock);
            return;
        }
        seen.lock().unwrap().push(head.clone());
        answer(&mut tls, &head);
        tls.conn.send_close_notify();
        let _ = tls.flush();
    });
    server.requests = requests;
    server
}

/// A TCP port with nothing listening: bound, then closed at once.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The result of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Each stdout line of a `--format json` run, parsed.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    /// The only JSON record of a one-URL run.
    pub fn record(&self) -> serde_json::Value {
        let records = self.json();
        assert_eq!(records.len(), 1, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        records.into_iter().next().unwrap()
    }
}

/// The binary, with none of the environment that changes what it does.
pub fn statuscheck() -> Command {
    statuscheck_under(&[])
}

/// The binary run by `wrapper` (as `unshare -n`), with the environment
/// cleaned as [`statuscheck`] does.
pub fn statuscheck_under(wrapper: &[&str]) -> Command {
    let binary = env!("CARGO_BIN_EXE_statuscheck");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    for name in [
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "STATUSCHECK_TIMEOUT",
        "STATUSCHECK_CONCURRENCY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

/// Makes `command` run with at most `limit` file descriptors (soft and hard).
pub fn limit_descriptors(command: &mut Command, limit: libc::rlim_t) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe setrlimit runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs the binary with `args` and no stdin, and waits for it.
pub fn run(args: &[&str]) -> Run {
    finish(statuscheck().args(args).output().unwrap())
}

/// Runs the binary with `stdin` as its standard input.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child =
        statuscheck().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    finish(child.wait_with_output().unwrap())
}

pub fn finish(output: Output) -> Run {
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    run
}

/// A generous bound for anything that should take about a second.
pub const SLACK: Duration = Duration::from_secs(5);

/// Whether an outside tool a test needs (GNU parallel, `script`, IPv6
/// loopback, the Prometheus Python client) is `present`. Where it is not,
/// the test is skipped with a note, except under `CI=true`: CI installs every
/// such tool (`.ci/run`), so there a missing one fails the test, and a green
/// CI means every test ran.
pub fn require(what: &str, present: bool, install: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    require_in(ci, what, present, install)
}

/// [`require`] with the CI setting given, so it can be tested.
pub fn require_in(ci: bool, what: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    assert!(!ci, "{what} is missing and CI=true, where every test must run: {install}");
    // One write, so no other test's output lands inside the line.
    let line = format!("{what} is missing; skipping ({install})\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// Whether `program ARGS` runs and succeeds.
pub fn have_command(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Where `script` comes from (Debian: bsdutils; elsewhere util-linux).
pub const SCRIPT_INSTALL: &str = "apt-get install bsdutils (util-linux elsewhere)";

/// Whether this machine has the IPv6 loopback (containers often start
/// without it), for [`require`].
pub fn have_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// How to turn the IPv6 loopback on (what `.ci/run` does).
pub const IPV6_INSTALL: &str = "sysctl -w net.ipv6.conf.lo.disable_ipv6=0; ip -6 addr add ::1/128 dev lo";
