//! One URL, checked: resolve → connect → TLS → write the request → read the
//! status line. Each phase runs under its own deadline and all of them under
//! the whole-check `--timeout`, so no check can outlive it, however slowly a
//! server trickles bytes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;
use url::Url;

use crate::http;
use crate::outcome::{CheckError, Phase, Response};
use crate::resolve::{io_reason, Resolver};
use crate::tls;

/// Everything a check needs, built once per run and shared by all tasks.
pub struct Checker {
    pub tls: TlsConnector,
    pub resolver: Resolver,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

impl Checker {
    /// Checks one URL. This is `get_status` of the original example, with
    /// every way it can go wrong turned into a [`CheckError`].
    pub async fn get_status(&self, url: &Url) -> Result<Response, CheckError> {
        let deadline = Instant::now() + self.timeout;
        let request = http::build_request(url, &self.user_agent).map_err(CheckError::InvalidUrl)?;
        let host = url.host().ok_or_else(|| CheckError::InvalidUrl("URL has no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = self.resolver.lookup(&host, port);
        let addrs = self
            .within(Phase::Dns, deadline, lookup)
            .await?
            .map_err(|reason| CheckError::Dns { host: host.to_string(), reason })?;
        let tcp = self.connect(&addrs, deadline).await?;
        if url.scheme() == "https" {
            let name = tls::server_name(&host).map_err(CheckError::InvalidUrl)?;
            let handshake = self.tls.connect(name, tcp);
            let stream = self.within(Phase::Tls, deadline, handshake).await?.map_err(tls_error)?;
            self.exchange(stream, &request, deadline).await
        } else {
            self.exchange(tcp, &request, deadline).await
        }
    }

    /// Tries each address in turn, each under `--connect-timeout`, until one
    /// answers; the last failure is the one reported.
    async fn connect(&self, addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, CheckError> {
        let mut last_error = None;
        for &addr in addrs {
            let attempt_deadline = deadline.min(Instant::now() + self.connect_timeout);
            match timeout_at(attempt_deadline, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    // The request is one small write; don't let Nagle hold it.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => last_error = Some(CheckError::Connect { addr, reason: io_reason(&e) }),
                Err(_) if attempt_deadline == deadline => {
                    return Err(CheckError::Timeout { phase: Phase::Connect, limit: self.timeout })
                }
                Err(_) => last_error = Some(CheckError::Timeout { phase: Phase::Connect, limit: self.connect_timeout }),
            }
        }
        Err(last_error.unwrap_or_else(|| CheckError::Dns { host: "?".into(), reason: "no address found".into() }))
    }

    /// Sends the request in one write and reads back the status line.
    async fn exchange<S>(&self, mut stream: S, request: &[u8], deadline: Instant) -> Result<Response, CheckError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let send = async {
            stream.write_all(request).await?;
            stream.flush().await
        };
        self.within(Phase::Write, deadline, send).await?.map_err(|e| read_write_error(Phase::Write, &e))?;
        self.within(Phase::Read, deadline, read_status_line(&mut stream)).await?
    }

    /// Runs one phase under the whole-check deadline.
    async fn within<F: Future>(&self, phase: Phase, deadline: Instant, work: F) -> Result<F::Output, CheckError> {
        timeout_at(deadline, work).await.map_err(|_| CheckError::Timeout { phase, limit: self.timeout })
    }
}

/// Reads up to the end of the first line, never more than
/// [`http::MAX_STATUS_LINE`] bytes, and gives up as soon as the bytes cannot
/// be the start of a status line.
async fn read_status_line<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Response, CheckError> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        let room = chunk.len().min(http::MAX_STATUS_LINE - buf.len());
        let n = match stream.read(&mut chunk[..room]).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(read_write_error(Phase::Read, &e)),
        };
        if n == 0 {
            return match buf.is_empty() {
                true => {
                    Err(CheckError::Protocol("empty response: the server closed the connection without a byte".into()))
                }
                false => http::parse_status_line(&buf).map_err(CheckError::Protocol),
            };
        }
        let searched = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if !http::could_be_status_line(&buf) {
            return Err(not_http(&buf));
        }
        if let Some(end) = http::line_end(&buf[searched..]) {
            return http::parse_status_line(&buf[..searched + end]).map_err(CheckError::Protocol);
        }
        if buf.len() >= http::MAX_STATUS_LINE {
            return Err(CheckError::Protocol(format!(
                "status line too long: no line end in the first {} bytes",
                http::MAX_STATUS_LINE
            )));
        }
    }
}

fn not_http(received: &[u8]) -> CheckError {
    let hint = match received.first() {
        Some(0x15 | 0x16) => " (that is TLS: try https://)",
        _ => "",
    };
    CheckError::Protocol(format!("not an HTTP/1.x response: {}{hint}", http::quote(received)))
}

fn tls_error(error: io::Error) -> CheckError {
    if let Some(tls) = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return CheckError::Tls(tls::describe(tls));
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => CheckError::Tls("server closed the connection during the handshake".into()),
        _ => CheckError::Io { phase: Phase::Tls, reason: io_reason(&error) },
    }
}

fn read_write_error(phase: Phase, error: &io::Error) -> CheckError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => CheckError::Tls(tls::describe(tls)),
        None => CheckError::Io { phase, reason: io_reason(error) },
    }
}

/// The `User-Agent` we send.
pub fn user_agent() -> String {
    format!("statuscheck/{}", env!("CARGO_PKG_VERSION"))
}

/// Builds the shared checker; only setup errors (a bad `--cacert`) end the run.
pub fn checker(config: &crate::cli::Config) -> anyhow::Result<Arc<Checker>> {
    let tls = tls::client_config(config.cacert.as_deref(), config.insecure)?;
    Ok(Arc::new(Checker {
        tls: TlsConnector::from(tls),
        resolver: Resolver::new(&config.resolve),
        timeout: config.timeout,
        connect_timeout: config.connect_timeout,
        user_agent: user_agent(),
    }))
}
